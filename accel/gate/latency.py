"""The latency decision: rules on the speedup's confidence interval.

Each rule uses one bound of a two-sided 90% interval (:mod:`accel.measure.intervals`), that is
a one-sided 95% confidence bound:

* baseline regression: worse when the upper bound is below ``(1 - margin) x baseline``; better
  (a hint that the baseline is stale) when the lower bound is above ``(1 + margin) x baseline``;
* contract floor (:mod:`accel.gate.contracts`): broken when the upper bound is below the floor,
  undecided when the point misses it but the interval reaches it.

The interval covers the noise between rounds of one run. The margin covers what one run cannot
see: the figure itself moves between runs and with the machine's load (see
:data:`SPEEDUP_MARGIN` and docs/latency-decision.md). On a machine slower than when the
baseline was written, int8 speedups fall about as much as the reference slows: the margin
widens by that slowdown (:func:`machine_slowdown`, :func:`widened_margin`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from accel.measure.intervals import SpeedupInterval

# The baseline rule's margin, the default `tolerances.speedup.rel` of a baseline file: about
# 2.5 times the speedup's measured spread between runs of the noisiest cell, which the fidelity
# benchmark measures with its error rates (docs/latency-decision.md).
SPEEDUP_MARGIN = 0.125


# A margin of 100% or more could never fail: widening stops below it.
MAX_MARGIN = 0.99

Verdict = Literal["ok", "better", "worse"]


def machine_slowdown(reference_p50: float, baseline_p50: float | None) -> float:
    """How much slower this machine runs than when the baseline was written: the reference's p50
    in this run over its baseline's, minus 1 (the caller checks that it is the same machine);
    0 when the machine is as fast or faster, or the baseline's p50 is unknown."""
    if not (baseline_p50 and baseline_p50 > 0 and np.isfinite(reference_p50)):
        return 0.0
    return max(0.0, reference_p50 / baseline_p50 - 1)


def widened_margin(margin: float, slowdown: float) -> float:
    """The baseline rule's margin on a machine ``slowdown`` slower than at baseline time: the
    two added (int8 speedups measured 4-27% lower on the same machine 12-33% slower), capped
    at :data:`MAX_MARGIN`."""
    return min(margin + max(0.0, slowdown), MAX_MARGIN)


def regression_threshold(baseline: float, margin: float) -> float:
    """The speedup whose upper bound a run must reach: ``(1 - margin) x baseline``."""
    if not (np.isfinite(baseline) and baseline > 0):
        raise ValueError(f"`baseline` must be a finite number > 0, got {baseline}")
    if not 0 <= margin < 1:
        raise ValueError(f"`margin` must be in [0, 1), got {margin}")
    return (1 - margin) * baseline


def regression_verdict(
    interval: SpeedupInterval, baseline: float, margin: float, slowdown: float = 0.0
) -> Verdict:
    """``worse`` when even the upper bound is below ``(1 - margin') x baseline``, ``margin'``
    being ``margin`` widened by the machine's ``slowdown``; ``better`` when even the lower bound
    is above ``(1 + margin) x baseline`` (a slower machine widens only the side it pushes
    toward); else ``ok``."""
    if interval.high < regression_threshold(baseline, widened_margin(margin, slowdown)):
        return "worse"
    if interval.low > (1 + margin) * baseline:
        return "better"
    return "ok"


def regression_rule(
    interval: SpeedupInterval, baseline: float, margin: float, slowdown: float = 0.0
) -> str:
    """The rule and the numbers it was applied to, for a failure message (``margin`` before
    any widening by the machine's ``slowdown``)."""
    wide = widened_margin(margin, slowdown)
    threshold = regression_threshold(baseline, wide)
    relation = "<" if interval.high < threshold else ">="
    how = f"{margin * 100:g}%"
    if wide > margin:
        how = f"{wide * 100:.1f}%: {how} + the machine's slowdown {slowdown * 100:.1f}%"
    return (
        f"speedup {interval.describe()}, baseline {baseline:.2f}x: the rule fails a run when the "
        f"CI's upper bound is below (1 - {how}) x baseline = {threshold:.2f}x; here "
        f"{interval.high:.2f}x {relation} {threshold:.2f}x"
    )
