"""Contracts: a technique's portable promises, relative to the reference of the same run."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from accel.measure.intervals import SpeedupInterval, paired_accuracy_interval
from accel.validation import check_in_range, check_positive


@dataclass(frozen=True)
class Paired:
    """Which test utterances the cell, the reference and the ``beats`` rival got right, in
    the same order: what the accuracy promises' paired intervals resample."""

    cell: Sequence[bool]
    reference: Sequence[bool]
    rival: Sequence[bool] = ()

    def interval(self, against: str, statistic: str) -> tuple[float, float] | None:
        """The cell's accuracy ``statistic`` against ``against``'s, with its interval (None
        when either has no per-utterance record)."""
        other = self.reference if against == "reference" else self.rival
        if not self.cell or len(other) != len(self.cell):
            return None
        return paired_accuracy_interval(self.cell, other, statistic)


@dataclass
class Assessment:
    """A contract's promises that are broken, and those the evidence cannot decide."""

    broken: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)

    def add(
        self,
        text: str,
        ci: tuple[float, float] | None,
        floor: float,
        what: str,
        ceiling: bool = False,
    ) -> None:
        """A promise whose point figure missed ``floor`` (or went above it, for a
        ``ceiling``): broken unless its interval reaches the limit."""
        if ci is None:
            self.broken.append(text)
        elif (ci[0] > floor) if ceiling else (ci[1] < floor):
            self.broken.append(f"{text}; the 90% CI {what} is {ci[0]:.4g}-{ci[1]:.4g}")
        else:
            self.undecided.append(
                f"{text}, within noise: the 90% CI {what} is {ci[0]:.4g}-{ci[1]:.4g}, "
                f"which reaches {floor:g}"
            )


@dataclass(frozen=True)
class Contract:
    """Portable promises of a technique, relative to the reference measured in the same run."""

    min_accuracy_ratio: float | None = None
    max_size_ratio: float | None = None
    min_speedup: float | None = None
    max_accuracy_drop: float | None = None  # absolute: 0.003 is 0.3 points below the reference
    beats: str | None = None  # a technique whose accuracy, same device and run, must be lower
    # Pruning: the fraction of zero weights in the pruned layers (extra metric ``sparsity``),
    # and the compressed artifact's size (``compressed_size_mb``) relative to the reference's.
    min_sparsity: float | None = None
    max_compressed_size_ratio: float | None = None
    # Behaviour against the reference (accel.measure.behaviour): the share of test utterances
    # where both predict the same intent, and the most points any class (with enough test
    # utterances) may lose.
    min_agreement: float | None = None
    max_class_drop: float | None = None

    def __post_init__(self) -> None:
        # Every promise is optional (None: not promised); a given one must make sense.
        ratios = (
            "min_accuracy_ratio",
            "max_size_ratio",
            "min_speedup",
            "max_compressed_size_ratio",
        )
        check_positive(self, *(f for f in ratios if getattr(self, f) is not None))
        for fraction in ("min_sparsity", "max_accuracy_drop", "min_agreement", "max_class_drop"):
            if getattr(self, fraction) is not None:
                check_in_range(self, fraction, 0, 1)

    def violations(self, *args: Any, **kwargs: Any) -> list[str]:
        """The broken promises of :meth:`assess` (same arguments), as human-readable lines."""
        return self.assess(*args, **kwargs).broken

    def assess(
        self,
        accuracy: float,
        ref_accuracy: float,
        size_mb: float,
        ref_size_mb: float,
        speedup: float,
        rival_accuracy: float | None = None,
        extra: Mapping[str, float] | None = None,
        speedup_ci: SpeedupInterval | None = None,
        paired: Paired | None = None,
        intervals: Mapping[str, tuple[float, float]] | None = None,
    ) -> Assessment:
        """Each promise met, broken, or undecided.

        A floor on a measured figure is met when the figure reaches it. When it does not, the
        promise is broken only if the figure's confidence interval lies wholly below the floor
        (a one-sided 95% bound): the speedup's interval over timing rounds (``speedup_ci``), and
        for the accuracy promises a paired bootstrap over the test utterances (``paired``: the
        per-utterance correctness of the cell, the reference and the rival), which covers what
        a retrained model moves by on a finite split. Otherwise it is undecided: reported, never
        silent. Without intervals the point figures decide. ``rival_accuracy`` is required with
        ``beats``; ``extra`` holds the cell's extra metrics (a promise on one it did not
        measure is broken), ``intervals`` the intervals of some (agreement: Wilson; the worst
        class's drop: a paired bootstrap over its utterances).
        """
        out = Assessment()
        if self.min_accuracy_ratio is not None:
            floor = self.min_accuracy_ratio * ref_accuracy
            if not accuracy >= floor:  # a NaN accuracy breaks it too
                text = (
                    f"accuracy {accuracy:.4f} < {self.min_accuracy_ratio:g} x reference "
                    f"{ref_accuracy:.4f} = {floor:.4f}"
                )
                ci = paired.interval("reference", "ratio") if paired else None
                out.add(text, ci, self.min_accuracy_ratio, "of the accuracy ratio")
        drop = self.max_accuracy_drop
        if drop is not None and not accuracy >= ref_accuracy - drop:
            text = (
                f"accuracy {accuracy:.4f} < reference {ref_accuracy:.4f} - "
                f"{drop:g} = {ref_accuracy - drop:.4f}"
            )
            ci = paired.interval("reference", "difference") if paired else None
            out.add(text, ci, -drop, "of the accuracy change")
        if self.max_size_ratio is not None and not size_mb <= self.max_size_ratio * ref_size_mb:
            out.broken.append(
                f"size {size_mb:.2f} MB > {self.max_size_ratio:g} x reference "
                f"{ref_size_mb:.2f} MB = {self.max_size_ratio * ref_size_mb:.2f} MB"
            )
        if self.min_speedup is not None and not speedup >= self.min_speedup:
            text = f"speedup {speedup:.2f}x < {self.min_speedup:g}x over the reference"
            ci = (speedup_ci.low, speedup_ci.high) if speedup_ci else None
            out.add(text, ci, self.min_speedup, "of the speedup")
        if self.beats is not None:
            if rival_accuracy is None:
                raise ValueError(f"the contract needs the accuracy of {self.beats!r}")
            if not accuracy > rival_accuracy:
                text = f"accuracy {accuracy:.4f} does not beat {self.beats}'s {rival_accuracy:.4f}"
                ci = paired.interval("rival", "difference") if paired else None
                out.add(text, ci, 0.0, f"of the accuracy change against {self.beats}")
        out.broken += self._extra_violations(extra or {}, ref_size_mb)
        self._assess_behaviour(out, extra or {}, intervals or {})
        return out

    def _assess_behaviour(
        self,
        out: Assessment,
        extra: Mapping[str, float],
        intervals: Mapping[str, tuple[float, float]],
    ) -> None:
        agreement, drop = extra.get("agreement"), extra.get("worst_class_drop")
        if self.min_agreement is not None:
            if agreement is None or not math.isfinite(agreement):
                out.broken.append("the agreement with the reference was not measured")
            elif agreement < self.min_agreement:
                text = f"agreement with the reference {agreement:.4f} < {self.min_agreement:g}"
                out.add(text, intervals.get("agreement"), self.min_agreement, "of the agreement")
        if self.max_class_drop is not None:
            if drop is None or not math.isfinite(drop):
                out.broken.append("the worst class's accuracy drop was not measured")
            elif drop > self.max_class_drop:
                text = f"the worst class loses {drop:.4f} > {self.max_class_drop:g}"
                ci = intervals.get("worst_class_drop")
                out.add(text, ci, self.max_class_drop, "of its drop", ceiling=True)

    def _extra_violations(self, extra: Mapping[str, float], ref_size_mb: float) -> list[str]:
        out = []
        sparsity, compressed = extra.get("sparsity"), extra.get("compressed_size_mb")
        if self.min_sparsity is not None:
            if sparsity is None or not math.isfinite(sparsity):
                out.append("sparsity was not measured")
            elif sparsity < self.min_sparsity:
                out.append(f"sparsity {sparsity:.4f} < {self.min_sparsity:g}")
        if self.max_compressed_size_ratio is not None:
            limit = self.max_compressed_size_ratio * ref_size_mb
            if compressed is None or not math.isfinite(compressed):
                out.append("the compressed size was not measured")
            elif compressed > limit:
                out.append(
                    f"compressed size {compressed:.2f} MB > {self.max_compressed_size_ratio:g} x "
                    f"reference {ref_size_mb:.2f} MB = {limit:.2f} MB"
                )
        return out

    def describe(self) -> str:
        parts = []
        if self.min_accuracy_ratio is not None:
            parts.append(f"accuracy >= {self.min_accuracy_ratio:g}x ref")
        if self.max_accuracy_drop is not None:
            parts.append(f"accuracy >= ref - {self.max_accuracy_drop:g}")
        if self.max_size_ratio is not None:
            parts.append(f"size <= {self.max_size_ratio:g}x ref")
        if self.min_speedup is not None:
            parts.append(f"speedup >= {self.min_speedup:g}x")
        if self.beats is not None:
            parts.append(f"accuracy > {self.beats}")
        if self.min_sparsity is not None:
            parts.append(f"sparsity >= {self.min_sparsity:g}")
        if self.max_compressed_size_ratio is not None:
            parts.append(f"compressed size <= {self.max_compressed_size_ratio:g}x ref")
        if self.min_agreement is not None:
            parts.append(f"agreement >= {self.min_agreement:g}")
        if self.max_class_drop is not None:
            parts.append(f"worst class drop <= {self.max_class_drop:g}")
        return ", ".join(parts) or "none (the reference)"
