"""Margins per cell, from measurement: the A/A spread of base against head, and what it allows.

``accel calibrate`` times each cell against a second, separately loaded copy of itself (or, with
``--across-processes``, against the copy the base worker builds in a second process) in repeated
phases of the gate's own base-against-head timing, and writes what it measured into the cell's
baseline, reviewed like any baseline change. From the phases' ratios ``r`` (the head copy's
speed over the base copy's), with ``mu`` and ``s`` the mean and standard deviation of ``ln r``:

* the **margin** is ``1 - exp(-(|mu| + 3 s))``, at least :data:`MIN_MARGIN`: a clean change
  lands below ``1 - margin`` in about one phase in 740 (a one-sided 3-sigma tail), and the bias
  between two copies of one model (up to 2% measured for ort-int8's two sessions) is covered;
* the **smallest slowdown caught** in 95% of first phases is ``exp(|mu| + 1.645 s) / (1 -
  margin) - 1``: where that is above 10%, a 10% slowdown of this cell cannot be told from its
  noise in the budget, and the calibration says so.

The gate uses a cell's calibrated margin, for the kind of base it was measured against, when
the run's CPU and threads are those of the calibration; else the default
:data:`accel.gate.base_head.AB_MARGIN`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from accel.gate.base_head import AB_MARGIN, AB_PLAN, Against

# Sigmas of the A/A spread between a clean head and the threshold (one-sided tail 0.13%).
FALSE_ALARM_SIGMAS = 3.0
# The power the smallest caught slowdown is stated for (its first phase below the threshold).
POWER = 0.95
# No margin below 3%: two loaded copies of one model differed by up to 2% (ort-int8), and one
# calibration session cannot see the drift between days.
MIN_MARGIN = 0.03
# Fewest phases whose spread is worth a margin.
MIN_PHASES = 5
# The slowdown the gate is built to catch (issue: at least 95% of 10% slowdowns).
TARGET_SLOWDOWN = 0.10
AGAINST: tuple[Against, ...] = ("artifact", "code")


@dataclass(frozen=True)
class Calibration:
    """One cell's measured A/A spread against one kind of base, and the margin it gives."""

    against: Against  # a second copy in this process ("artifact"), or in the worker ("code")
    phases: int
    rounds: int  # timing rounds per phase
    mean: float  # mean of ln(ratio) over the phases: the bias between the two copies
    sd: float  # standard deviation of ln(ratio) between phases
    margin: float
    detects: float  # the smallest slowdown caught in 95% of first phases
    cpu: str
    threads: int
    measured: str  # ISO date and time

    @property
    def blind_to_target(self) -> bool:
        """Whether a 10% slowdown of this cell cannot be told from its noise."""
        return self.detects > TARGET_SLOWDOWN

    def describe(self) -> str:
        """Like ``margin 4.1% (A/A SD 1.3% in 20 phases); catches slowdowns from 6.6%``."""
        text = (
            f"margin {self.margin:.1%} (A/A SD {self.sd:.2%}, bias {self.mean:+.2%}, in "
            f"{self.phases} phases); catches slowdowns from {self.detects:.1%}"
        )
        if self.blind_to_target:
            text += f": a {TARGET_SLOWDOWN:.0%} slowdown cannot be told from this cell's noise"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "phases": self.phases,
            "rounds": self.rounds,
            "mean_log_ratio": self.mean,
            "sd_log_ratio": self.sd,
            "margin": self.margin,
            "detects": self.detects,
            "cpu": self.cpu,
            "threads": self.threads,
            "measured": self.measured,
        }


def calibrate(
    ratios: Sequence[float], against: Against, rounds: int, machine: Mapping[str, Any], when: str
) -> Calibration:
    """The calibration of A/A phases whose ratios are ``ratios`` (see the module doc)."""
    if len(ratios) < MIN_PHASES:
        raise ValueError(f"a calibration needs at least {MIN_PHASES} phases, got {len(ratios)}")
    if any(not r > 0 or not math.isfinite(r) for r in ratios):
        raise ValueError(f"A/A ratios must be positive and finite, got {list(ratios)}")
    logs = [math.log(r) for r in ratios]
    mean, sd = statistics.fmean(logs), statistics.stdev(logs)
    spread = abs(mean) + FALSE_ALARM_SIGMAS * sd
    margin = max(MIN_MARGIN, 1 - math.exp(-spread))
    detects = math.exp(abs(mean) + statistics.NormalDist().inv_cdf(POWER) * sd) / (1 - margin) - 1
    cpu, threads = str(machine.get("cpu")), int(machine.get("threads") or 0)
    return Calibration(against, len(ratios), rounds, mean, sd, margin, detects, cpu, threads, when)


def parse(raw: Any) -> dict[Against, Calibration]:
    """A baseline's ``calibration`` field, ``{"artifact": {...}, "code": {...}}``; a
    ``ValueError`` naming the field and value when it is malformed."""
    if not isinstance(raw, dict) or set(raw) - set(AGAINST):
        raise ValueError(f"field calibration must be an object with keys {AGAINST}, got {raw!r}")
    found: dict[Against, Calibration] = {}
    for against, spec in raw.items():
        where = f"calibration.{against}"
        try:
            found[cast(Against, against)] = Calibration(
                cast(Against, against),
                int(spec["phases"]),
                int(spec["rounds"]),
                float(spec["mean_log_ratio"]),
                float(spec["sd_log_ratio"]),
                float(spec["margin"]),
                float(spec["detects"]),
                str(spec["cpu"]),
                int(spec["threads"]),
                str(spec["measured"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"field {where} is {spec!r} ({type(exc).__name__}: {exc}); rewrite it with "
                "`accel calibrate`"
            ) from None
        if not 0 < found[against].margin < 1:
            raise ValueError(f"field {where}.margin must be in (0, 1), got {spec['margin']!r}")
    return found


def margin_for(
    calibrations: Mapping[Against, Calibration], against: Against, machine: Mapping[str, Any]
) -> tuple[float, Calibration | None]:
    """The margin for a cell judged against ``against`` on ``machine``: its calibrated one
    where the calibration was made on this CPU with these threads and phases of today's
    :data:`AB_PLAN` (a calibration of 10-round phases timed blocks of 25 calls, a spread that
    does not describe call-by-call phases), else the default."""
    found = calibrations.get(against)
    if found is None or found.rounds != AB_PLAN.rounds:
        return AB_MARGIN, None
    if (found.cpu, found.threads) != (str(machine.get("cpu")), int(machine.get("threads") or 0)):
        return AB_MARGIN, None
    return found.margin, found
