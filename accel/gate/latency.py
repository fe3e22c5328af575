"""The latency decision: rules on the speedup's confidence interval.

Each rule uses one bound of a two-sided 90% interval (:mod:`accel.measure.intervals`), that is
a one-sided 95% confidence bound:

* baseline regression: worse when the upper bound is below ``(1 - margin) x baseline``; better
  (a hint that the baseline is stale) when the lower bound is above ``(1 + margin) x baseline``;
* contract floor (:mod:`accel.gate.contracts`): broken when the upper bound is below the floor,
  undecided when the point misses it but the interval reaches it.

The interval covers the noise between rounds of one run. The margin covers what one run cannot
see: the figure itself moves between runs and with the machine's load (see
:data:`SPEEDUP_MARGIN` and docs/latency-decision.md).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from accel.measure.intervals import SpeedupInterval

# The baseline rule's margin, the default `tolerances.speedup.rel` of a baseline file: about
# 2.5 times the speedup's measured spread between runs of the noisiest cell, which the fidelity
# benchmark measures with its error rates (docs/latency-decision.md).
SPEEDUP_MARGIN = 0.125


Verdict = Literal["ok", "better", "worse"]


def regression_threshold(baseline: float, margin: float) -> float:
    """The speedup whose upper bound a run must reach: ``(1 - margin) x baseline``."""
    if not (np.isfinite(baseline) and baseline > 0):
        raise ValueError(f"`baseline` must be a finite number > 0, got {baseline}")
    if not 0 <= margin < 1:
        raise ValueError(f"`margin` must be in [0, 1), got {margin}")
    return (1 - margin) * baseline


def regression_verdict(interval: SpeedupInterval, baseline: float, margin: float) -> Verdict:
    """``worse`` when even the upper bound is below ``(1 - margin) x baseline``; ``better`` when
    even the lower bound is above ``(1 + margin) x baseline``; else ``ok``."""
    if interval.high < regression_threshold(baseline, margin):
        return "worse"
    if interval.low > (1 + margin) * baseline:
        return "better"
    return "ok"


def regression_rule(interval: SpeedupInterval, baseline: float, margin: float) -> str:
    """The rule and the numbers it was applied to, for a failure message."""
    threshold = regression_threshold(baseline, margin)
    relation = "<" if interval.high < threshold else ">="
    return (
        f"speedup {interval.describe()}, baseline {baseline:.2f}x: the rule fails a run when the "
        f"CI's upper bound is below (1 - {margin * 100:g}%) x baseline = {threshold:.2f}x; here "
        f"{interval.high:.2f}x {relation} {threshold:.2f}x"
    )
