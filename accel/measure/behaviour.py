"""Behaviour against the reference on the same utterances: agreement, flips, KL, per-class
accuracy, calibration, and whether an accuracy change is real (no torch).

Every figure is a deterministic function of the two models' outputs on the test split, so a
baseline can gate it tightly. Intervals are seeded percentile bootstraps (:mod:`scipy.stats`),
the accuracy change also gets McNemar's exact test on the discordant utterances.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from accel.measure.intervals import LEVEL, N_RESAMPLES, SEED, paired_accuracy_interval

# A class's accuracy is compared only with this many test utterances or more: one utterance of
# CLINC150's 30 per intent moves a class by 3.3 points; below 20, one moves it by 5 or more.
MIN_CLASS_EXAMPLES = 20
ECE_BINS = 15  # equal-width confidence bins (Guo et al., 2017)
PROBABILITY_FLOOR = 1e-12  # a zero probability where the reference puts mass: KL stays finite
NO_PROBABILITIES = "the predictor gives no class probabilities"
# The gated figures (accel.gate.metrics declares each), in table order.
GATED = ("agreement", "flips_to_wrong", "kl_mean", "ece", "worst_class_drop")


@dataclass(frozen=True)
class Outputs:
    """A model's outputs on the test split, in split order: labels, and class probabilities
    (columns in ``classes`` order) when the predictor gives them."""

    labels: tuple[str, ...]
    probabilities: NDArray[np.float32] | None = field(default=None, repr=False, compare=False)
    classes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.probabilities is not None and self.probabilities.shape != (
            len(self.labels),
            len(self.classes),
        ):
            raise ValueError(
                f"probabilities of shape {self.probabilities.shape} for {len(self.labels)} "
                f"labels and {len(self.classes)} classes"
            )


@dataclass(frozen=True)
class ClassDrop:
    """One class's accuracy for the cell and the reference, over its ``n`` test utterances."""

    name: str
    n: int
    accuracy: float
    reference: float

    @property
    def drop(self) -> float:
        """Points lost against the reference (negative: gained)."""
        return self.reference - self.accuracy


@dataclass(frozen=True)
class Behaviour:
    """How a cell's predictions compare with the reference's on the same utterances."""

    n: int
    agreement: float  # share of utterances where both predict the same label
    flips_to_wrong: int  # the reference right, the cell wrong
    flips_to_right: int  # the reference wrong, the cell right
    accuracy: float  # the cell's, on these utterances
    accuracy_ci: tuple[float, float]  # its Wilson interval
    accuracy_change: float  # cell minus reference
    accuracy_change_ci: tuple[float, float]  # paired bootstrap over the utterances
    mcnemar_p: float  # exact McNemar test on the flips: is the change real?
    classes: tuple[ClassDrop, ...]  # classes with >= MIN_CLASS_EXAMPLES, worst drop first
    worst_class_drop_ci: tuple[float, float] | None  # the worst class's drop, paired bootstrap
    kl_mean: float | None = None  # mean KL(reference || cell), nats; None without probabilities
    ece: float | None = None  # the cell's expected calibration error
    lacks: tuple[str, ...] = ()  # figures not measured, each with why

    @property
    def worst(self) -> ClassDrop | None:
        return self.classes[0] if self.classes else None

    @property
    def worst_class_drop(self) -> float:
        return self.classes[0].drop if self.classes else math.nan

    @property
    def significant(self) -> bool:
        """Whether the accuracy change is real at the intervals' level (McNemar)."""
        return self.mcnemar_p < 1 - LEVEL

    def gated(self) -> dict[str, float]:
        """The figures the baselines gate (those measured)."""
        values: dict[str, float | None] = {
            "agreement": self.agreement,
            "flips_to_wrong": float(self.flips_to_wrong),
            "kl_mean": self.kl_mean,
            "ece": self.ece,
            "worst_class_drop": self.worst_class_drop if self.classes else None,
        }
        return {k: v for k, v in values.items() if v is not None}

    def intervals(self) -> dict[str, tuple[float, float]]:
        """Confidence intervals of gated figures (what a contract's floor is decided on)."""
        out = {"agreement": share_interval(self.agreement, self.n)}
        if self.worst_class_drop_ci is not None:
            out["worst_class_drop"] = self.worst_class_drop_ci
        return out

    def to_dict(self, top: int = 5) -> dict[str, Any]:
        """The run JSON's ``behaviour`` object: every figure, and the ``top`` worst classes."""
        return {
            "n": self.n,
            "agreement": self.agreement,
            "flips_to_wrong": self.flips_to_wrong,
            "flips_to_right": self.flips_to_right,
            "accuracy": self.accuracy,
            "accuracy_ci": list(self.accuracy_ci),
            "accuracy_change": self.accuracy_change,
            "accuracy_change_ci": list(self.accuracy_change_ci),
            "mcnemar_p": self.mcnemar_p,
            "kl_mean": self.kl_mean,
            "ece": self.ece,
            "worst_class_drop": self.worst_class_drop if self.classes else None,
            "worst_class_drop_ci": list(self.worst_class_drop_ci or ()) or None,
            "classes_compared": len(self.classes),
            "min_class_examples": MIN_CLASS_EXAMPLES,
            "worst_classes": [
                {"name": c.name, "n": c.n, "accuracy": c.accuracy, "reference": c.reference}
                for c in self.classes[:top]
            ],
            "lacks": list(self.lacks),
        }


def share_interval(share: float, n: int) -> tuple[float, float]:
    """Wilson interval of a share of ``n`` utterances (agreement, accuracy), at the intervals'
    level."""
    from scipy import stats

    if n == 0:
        return (0.0, 1.0)
    ci = stats.binomtest(round(share * n), n).proportion_ci(LEVEL, method="wilson")
    return (float(ci.low), float(ci.high))


def mcnemar_p(flips_to_wrong: int, flips_to_right: int) -> float:
    """Exact (binomial) McNemar p-value: are the flips one way more than chance?"""
    from scipy import stats

    discordant = flips_to_wrong + flips_to_right
    if discordant == 0:
        return 1.0
    return float(stats.binomtest(flips_to_wrong, discordant, 0.5).pvalue)


def expected_calibration_error(
    probabilities: NDArray[np.float32], correct: NDArray[np.bool_], bins: int = ECE_BINS
) -> float:
    """ECE: the gap between confidence (top probability) and accuracy, averaged over
    equal-width confidence bins weighted by their size."""
    confidence = probabilities.max(axis=1).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total)


def mean_kl(reference: NDArray[np.float32], cell: NDArray[np.float32]) -> float:
    """Mean over utterances of KL(reference || cell), in nats."""
    p = reference.astype(np.float64)
    q = np.maximum(cell.astype(np.float64), PROBABILITY_FLOOR)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(np.maximum(p, PROBABILITY_FLOOR)) - np.log(q)), 0.0)
    return float(max(terms.sum(axis=1).mean(), 0.0))


def per_class(
    cell_correct: NDArray[np.bool_],
    ref_correct: NDArray[np.bool_],
    truth: Sequence[str],
    min_examples: int = MIN_CLASS_EXAMPLES,
) -> tuple[ClassDrop, ...]:
    """Each true class with ``min_examples`` test utterances or more, the worst drop first
    (ties by name)."""
    labels = np.asarray(truth)
    out = []
    for name in sorted(set(truth)):
        mask = labels == name
        n = int(mask.sum())
        if n >= min_examples:
            out.append(
                ClassDrop(
                    name, n, float(cell_correct[mask].mean()), float(ref_correct[mask].mean())
                )
            )
    return tuple(sorted(out, key=lambda c: (-c.drop, c.name)))


def compare_outputs(cell: Outputs, reference: Outputs, truth: Sequence[str]) -> Behaviour:
    """The cell's behaviour against the reference on the utterances whose true labels are
    ``truth`` (all three in the same order)."""
    n = len(truth)
    if n == 0:
        raise ValueError("no test utterances: behaviour needs a non-empty test split")
    if len(cell.labels) != n or len(reference.labels) != n:
        raise ValueError(
            f"{len(cell.labels)} cell and {len(reference.labels)} reference predictions for "
            f"{n} test utterances"
        )
    gold = np.asarray(truth)
    cell_correct = np.asarray(cell.labels) == gold
    ref_correct = np.asarray(reference.labels) == gold
    to_wrong = int((ref_correct & ~cell_correct).sum())
    to_right = int((~ref_correct & cell_correct).sum())
    change = float(cell_correct.mean() - ref_correct.mean())
    change_ci = _paired(cell_correct, ref_correct, change)
    classes = per_class(cell_correct, ref_correct, truth)
    worst_ci = None
    if classes:
        mask = gold == classes[0].name
        low, high = _paired(ref_correct[mask], cell_correct[mask], classes[0].drop)
        worst_ci = (low, high)
    kl = ece = None
    lacks = [] if classes else [f"worst_class_drop: no class has {MIN_CLASS_EXAMPLES}+ examples"]
    if cell.probabilities is None:
        lacks += [f"kl_mean: {NO_PROBABILITIES}", f"ece: {NO_PROBABILITIES}"]
    elif reference.probabilities is None:
        lacks.append("kl_mean: the reference gives no class probabilities")
    elif cell.classes != reference.classes:
        lacks.append("kl_mean: the cell's classes are not the reference's, in order")
    else:
        kl = mean_kl(reference.probabilities, cell.probabilities)
    if cell.probabilities is not None:
        ece = expected_calibration_error(cell.probabilities, cell_correct)
    return Behaviour(
        n=n,
        agreement=float((np.asarray(cell.labels) == np.asarray(reference.labels)).mean()),
        flips_to_wrong=to_wrong,
        flips_to_right=to_right,
        accuracy=float(cell_correct.mean()),
        accuracy_ci=share_interval(float(cell_correct.mean()), n),
        accuracy_change=change,
        accuracy_change_ci=change_ci,
        mcnemar_p=mcnemar_p(to_wrong, to_right),
        classes=classes,
        worst_class_drop_ci=worst_ci,
        kl_mean=kl,
        ece=ece,
        lacks=tuple(lacks),
    )


def _paired(a: NDArray[np.bool_], b: NDArray[np.bool_], point: float) -> tuple[float, float]:
    """The paired bootstrap interval of mean(a) - mean(b); the point itself when the two
    never differ (a bootstrap of a constant is degenerate)."""
    if len(a) < 2 or bool((a == b).all()):
        return (point, point)
    low, high = paired_accuracy_interval(
        a.tolist(), b.tolist(), "difference", LEVEL, N_RESAMPLES, SEED
    )
    return (min(low, point), max(high, point))
