"""Gated metrics, each declared once: name, direction, unit, default tolerance, how to print it.

A new gated metric is one :func:`declare` call here (or from a plugin) plus its measurement
(a predictor's ``extra_metrics``, or a hook). Baseline files, the comparison, the table and
the results JSON all read this table; none of them lists metrics of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from accel.gate.latency import SPEEDUP_MARGIN

Direction = Literal["higher", "lower"]
HIGHER: Direction = "higher"
LOWER: Direction = "lower"


@dataclass(frozen=True)
class Tolerance:
    """Allowed change for the worse: absolute, relative to the baseline, or both (the larger)."""

    abs: float = 0.0
    rel: float = 0.0

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) and v >= 0 for v in (self.abs, self.rel)):
            raise ValueError(
                f"tolerances must be finite and >= 0, got abs={self.abs} rel={self.rel}"
            )

    def widest(self, other: Tolerance) -> Tolerance:
        """The larger of each bound."""
        return Tolerance(abs=max(self.abs, other.abs), rel=max(self.rel, other.rel))

    def allowed(self, baseline: float) -> float:
        """The change allowed around ``baseline``."""
        return max(self.abs, self.rel * abs(baseline))

    def describe(self) -> str:
        """``±0.005``, ``±12.5%``, both joined by "or", or ``exact``."""
        parts = ([f"±{self.abs:g}"] if self.abs else []) + (
            [f"±{self.rel * 100:g}%"] if self.rel else []
        )
        return " or ".join(parts) or "exact"

    def as_dict(self) -> dict[str, float]:
        """The non-zero bounds, as a baseline file writes them."""
        return {name: v for name, v in (("abs", self.abs), ("rel", self.rel)) if v}


@dataclass(frozen=True)
class Domain:
    """The values a figure can take: finite, in [low, high] (``(low, high]`` if ``open_low``)."""

    low: float
    high: float = math.inf
    open_low: bool = False

    def admits(self, value: float) -> bool:
        above = value > self.low if self.open_low else value >= self.low
        return math.isfinite(value) and above and value <= self.high

    def describe(self) -> str:
        if math.isfinite(self.high):
            return f"a fraction in [{self.low:g}, {self.high:g}]"
        return f"a finite number {'>' if self.open_low else '>='} {self.low:g}"


FRACTION = Domain(0.0, 1.0)
POSITIVE = Domain(0.0, open_low=True)
NON_NEGATIVE = Domain(0.0)


@dataclass(frozen=True)
class GatedMetric:
    """One metric the baseline check gates."""

    name: str  # key in a baseline's ``metrics`` (``latency_ms.p50``: the nested p50)
    direction: Direction
    unit: str  # "" for a fraction
    tolerance: Tolerance  # default, when a baseline file gives none
    fmt: str = ".4f"
    # In every baseline file and every measurement; otherwise gated where a technique measures
    # it, and once in a baseline, a run must measure it.
    required: bool = False
    # Shown against the baseline, never gated: raw milliseconds, which move with the machine's
    # state (docs/latency-decision.md); latency is gated through the speedup.
    reported: bool = False
    # A timing figure: only warns when latency is not gated (another GPU model).
    timing: bool = False
    # When the model's fingerprint differs from the baseline's, at least this tolerance.
    retrain_tolerance: Tolerance | None = None
    # Absent from a run that did not try to measure it (turned off, as the LoadGen scenarios
    # are by default, or the cell cannot be measured so), a "skipped" row rather than a
    # failure; NaN (tried, and failed) still fails.
    skippable: bool = False
    # The values a measurement or a baseline may hold; anything else is "not measured" in a run
    # and a bad baseline in a file.
    domain: Domain = POSITIVE

    def tolerance_problem(self, tol: Tolerance) -> str | None:
        """Why ``tol`` is absurd for this metric (it could never fail), or None."""
        if tol.rel >= 1:
            return f"rel {tol.rel:g} must be < 1 (a change of 100% or more could never fail)"
        if math.isfinite(self.domain.high) and tol.abs >= self.domain.high - self.domain.low:
            return f"abs {tol.abs:g} must be < {self.domain.high - self.domain.low:g}, the range"
        return None

    def format(self, value: float) -> str:
        """``value`` as the table prints it, with its unit."""
        return format(value, self.fmt) + (f" {self.unit}" if self.unit else "")


METRICS: dict[str, GatedMetric] = {}


def declare(metric: GatedMetric) -> GatedMetric:
    """Add ``metric`` to the gated metrics; a name already declared is an error."""
    if metric.name in METRICS and METRICS[metric.name] != metric:
        raise ValueError(f"gated metric {metric.name!r} is already declared differently")
    METRICS[metric.name] = metric
    return metric


# Accuracy and size are deterministic for a given model and library stack: tight bounds. When
# the model's fingerprint differs (a cell retrained on a cold cache: CPU training here is not
# bitwise reproducible), the accuracy metrics get retrain tolerances drawn from measured
# retrains (docs/baselines.md).
for _metric in (
    GatedMetric(
        "accuracy", HIGHER, "", Tolerance(abs=0.005), required=True,
        retrain_tolerance=Tolerance(abs=0.015), domain=FRACTION,
    ),
    # Macro-F1 over the labels: every dataset. In-scope accuracy and out-of-scope recall: data
    # with a reject label only (CLINC150's oos), so gated where a baseline has them.
    GatedMetric(
        "macro_f1", HIGHER, "", Tolerance(abs=0.005),
        retrain_tolerance=Tolerance(abs=0.015), domain=FRACTION,
    ),
    GatedMetric(
        "accuracy_in_scope", HIGHER, "", Tolerance(abs=0.005),
        retrain_tolerance=Tolerance(abs=0.01), domain=FRACTION,
    ),
    GatedMetric(
        "oos_recall", HIGHER, "", Tolerance(abs=0.01),
        retrain_tolerance=Tolerance(abs=0.08), domain=FRACTION,
    ),
    GatedMetric("size_mb", LOWER, "MB", Tolerance(rel=0.02), fmt=".1f", required=True),
    # The speedup's tolerance is the latency decision's margin (accel.gate.latency).
    GatedMetric(
        "speedup",
        HIGHER,
        "x",
        Tolerance(rel=SPEEDUP_MARGIN),
        fmt=".2f",
        required=True,
        timing=True,
    ),
    GatedMetric(
        "latency_ms.p50",
        LOWER,
        "ms",
        Tolerance(rel=0.50),
        fmt=".2f",
        reported=True,
        timing=True,
    ),
    # Behaviour against the reference on the whole test split (accel.measure.behaviour):
    # deterministic for a given artifact and library stack, so tight; the bounds allow what
    # other int8 kernels (another instruction set) flip, a few utterances of 5,500. Retrain
    # tolerances scale like the accuracy's (docs/behaviour.md).
    GatedMetric(
        "agreement", HIGHER, "", Tolerance(abs=0.003),
        retrain_tolerance=Tolerance(abs=0.02), domain=FRACTION,
    ),
    GatedMetric(
        "flips_to_wrong", LOWER, "", Tolerance(abs=16), fmt=".0f",
        retrain_tolerance=Tolerance(abs=100), domain=NON_NEGATIVE,
    ),
    GatedMetric(
        "kl_mean", LOWER, "", Tolerance(abs=0.002, rel=0.1),
        retrain_tolerance=Tolerance(abs=0.01, rel=0.5), domain=NON_NEGATIVE,
    ),
    GatedMetric(
        "ece", LOWER, "", Tolerance(abs=0.005),
        retrain_tolerance=Tolerance(abs=0.02), domain=FRACTION,
    ),
    # One utterance of a 30-example class moves it by 0.033.
    GatedMetric(
        "worst_class_drop", LOWER, "", Tolerance(abs=0.034),
        retrain_tolerance=Tolerance(abs=0.1), domain=Domain(-1.0, 1.0),
    ),
    # Pruning: the fraction of zero weights, and the compressed artifact's size.
    GatedMetric("sparsity", HIGHER, "", Tolerance(abs=0.005), domain=FRACTION),
    GatedMetric("compressed_size_mb", LOWER, "MB", Tolerance(rel=0.02), fmt=".1f"),
    # Serving, each in a fresh process, as ratios to the reference's in the same run
    # (accel.measure.serving): peak resident memory, and the CPU time from the artifact on disk
    # to the first answer. Tolerances: 3x the spread measured between fresh processes, rounded
    # up (docs/serving.md, benchmarks/serving-spread.json).
    # memory_ratio: also ±0.01 of the reference's peak (about 5 MB), the shift of a fresh
    # virtual environment's imports (the ONNX cells' ratios moved by up to 0.004 between two).
    GatedMetric(
        "memory_ratio", LOWER, "x", Tolerance(abs=0.01, rel=0.02), fmt=".3f", skippable=True
    ),
    GatedMetric(
        "load_time_ratio", LOWER, "x", Tolerance(rel=0.40), fmt=".3f", timing=True,
        skippable=True,
    ),
    # LoadGen's scenarios (--accel-scenarios) as ratios to the reference's of the same run,
    # gated only in runs that measured them; tolerances 3x the largest range of 5 runs on a
    # quiet 2-core machine, rounded up (docs/scenarios.md#spread-and-gating).
    GatedMetric(
        "offline_throughput_ratio", HIGHER, "x", Tolerance(rel=0.30), fmt=".2f",
        timing=True, skippable=True,
    ),
    GatedMetric(
        "server_qps_ratio", HIGHER, "x", Tolerance(rel=0.50), fmt=".2f",
        timing=True, skippable=True,
    ),
    GatedMetric(
        "singlestream_p90_ratio", LOWER, "x", Tolerance(rel=0.40), fmt=".3f",
        timing=True, skippable=True,
    ),
):
    declare(_metric)


def required() -> tuple[str, ...]:
    """Metrics every baseline file and every measurement has."""
    return tuple(m.name for m in METRICS.values() if m.required and "." not in m.name)


def optional() -> tuple[str, ...]:
    """Metrics gated where a technique measures them."""
    return tuple(m.name for m in METRICS.values() if not m.required and "." not in m.name)


def domain(name: str) -> Domain:
    """The domain of a gated metric or of a baseline's ``latency_ms.<field>`` (std may be 0)."""
    if name in METRICS:
        return METRICS[name].domain
    return NON_NEGATIVE if name == "latency_ms.std" else POSITIVE
