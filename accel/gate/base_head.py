"""Base against head: a changed cell timed beside its baseline's own artifact, decided in phases.

When a cell's final artifact is no longer the one its baseline measured (a recipe or the code
that builds it changed), the cache may still hold the old one. Timed interleaved in one
process, the two meet the same states of the machine, so their ratio does not carry the drift
that the speedup over the fp32 reference carries from run to run: on the 2-core CPU the A/A
spread of that ratio between runs was 0.9-1.8% (SD), against a CV of 4.3-5.1% for ort-int8's
speedup (docs/latency-decision.md, "Base against head").

The two are timed call by call (:data:`AB_PLAN`). The decision has three answers. With ``r``
the head's speedup over the base (the median over rounds, pooled over every phase so far, of
the base call's time over the head call's) and its 90% interval:

* ``slower`` when even the upper bound is below ``1 - margin``: the head is slower than the base
  by more than the margin, at 95% confidence;
* ``same`` when even the lower bound is at or above ``1 - margin``;
* ``undecided`` otherwise: another phase is timed and pooled, up to ``max_phases``. A cell still
  undecided then is decided on the pooled point, as a truncated sequential test ends
  (:func:`fails`): below ``1 - margin`` it fails, else it passes, and the table says
  ``undecided`` either way. Failing every undecided cell instead cost one false alarm in 160
  clean ort-int8 runs; passing every one missed 11 of 160 slowdowns of 10%
  (docs/latency-decision.md, "Base against head"). Against the base code (timed in a second
  process, a wider spread) an undecided cell passes with a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from accel.measure.intervals import SpeedupInterval, speedup_interval
from accel.measure.records import Speedup
from accel.measure.timing import TimingPlan

# The slowdown of the head against the base that fails: 5%, about 3 times the largest A/A spread
# measured between runs (1.8%, ort-int8), so a clean change fails only in the far tail, while a
# 10% slowdown (r = 0.91) sits well below the threshold.
AB_MARGIN = 0.05
# Phases of AB_PLAN's rounds each; a clean head or a 10% slowdown is mostly decided in the first.
AB_MAX_PHASES = 3
# One phase: 100 rounds of one call a side (ABBA), each round on the next latency query. Blocks of
# one call put each base call next to its head call: on a 2-core host whose speed jumped by
# 20-50% for tens of milliseconds at a time, the A/A ratio of blocks of 25 spread 2.0-6.2%
# between phases, and of single calls 0.5-0.6% (docs/latency-decision.md, "Call by call").
AB_PLAN = TimingPlan(warmup=25, rounds=100, block=1)

Answer = Literal["same", "slower", "undecided"]
Against = Literal["artifact", "code"]  # the baseline's own artifact, or the base code's build


def answer(interval: SpeedupInterval, margin: float = AB_MARGIN) -> Answer:
    """The three-answer decision on the head's speedup over the base (see the module doc)."""
    if not 0 < margin < 1:
        raise ValueError(f"`margin` must be in (0, 1), got {margin}")
    threshold = 1 - margin
    if interval.high < threshold:
        return "slower"
    if interval.low >= threshold:
        return "same"
    return "undecided"


def fails(outcome: BaseHead) -> bool:
    """Whether the outcome fails the cell: ``slower``; or, against an old artifact,
    ``undecided`` after the last phase with the pooled point below ``1 - margin``. Against the
    base code an undecided cell passes with a warning: timed in two processes, the ratio's A/A
    spread was up to twice that of one process, and failing on the point failed 3 of 160 clean
    ort-int8 runs and 3 of 160 torch-int8 ones (docs/latency-decision.md)."""
    if outcome.answer == "undecided":
        point_below = outcome.interval.speedup < 1 - outcome.margin
        return outcome.against == "artifact" and point_below
    return outcome.answer == "slower"


@dataclass(frozen=True)
class BaseHead:
    """The outcome: the answer, the pooled interval, how many phases it took, the margin."""

    answer: Answer
    interval: SpeedupInterval
    phases: int
    margin: float
    base: str  # the base artifact as ``kind/key``, or the base code's revision
    # What the base is: the baseline's own artifact, or the cell built by the base revision's
    # code in a second process (accel.plugin.base_code).
    against: Against = "artifact"
    calibrated: bool = False  # the margin is the cell's, from `accel calibrate`

    @property
    def what(self) -> str:
        """The base in words: ``its old artifact`` or ``the base code``."""
        return "its old artifact" if self.against == "artifact" else "the base code"

    def describe(self) -> str:
        """Like ``same: 0.99x of the base [0.97-1.01], 1 phase, fails below 0.95x``."""
        i = self.interval
        base = f"the code at {self.base}" if self.against == "code" else "the baseline's artifact"
        return (
            f"{self.answer}: {i.speedup:.3f}x the speed of {base} "
            f"[{i.low:.3f}-{i.high:.3f}], {self.phases} phase{'s' * (self.phases > 1)} of "
            f"{i.rounds // self.phases} rounds, fails below {1 - self.margin:.3g}x"
            + (" (the cell's calibrated margin)" if self.calibrated else "")
        )

    def as_dict(self) -> dict[str, object]:
        i = self.interval
        return {
            "answer": self.answer,
            "ratio": i.speedup,
            "low": i.low,
            "high": i.high,
            "phases": self.phases,
            "rounds": i.rounds,
            "margin": self.margin,
            "base": self.base,
            "against": self.against,
            "calibrated": self.calibrated,
        }


def speed_note(against_base: BaseHead | str | None) -> str:
    """A line for a cell's message: the decision with its figures, or why it was not made."""
    if against_base is None:
        return ""
    if isinstance(against_base, BaseHead) and against_base.against == "code":
        timed = against_base.describe()
        return f"speed against the base code's build of the cell, timed side by side: {timed}"
    if isinstance(against_base, BaseHead):
        timed = against_base.describe()
        return f"speed against the baseline's own artifact, timed side by side: {timed}"
    return f"speed judged against the reference: {against_base}"


def flag(against_base: BaseHead | str | None) -> str:
    """The table's words: ``vs its old artifact: slower``, or nothing when not timed."""
    if isinstance(against_base, BaseHead):
        return f"vs {against_base.what}: {against_base.answer}"
    return ""


def short_note(against_base: BaseHead | str | None) -> str:
    """:func:`flag` in brackets after a summary, or nothing when not timed."""
    words = flag(against_base)
    return f" ({words})" if words else ""


def passing_note(against_base: BaseHead | str | None) -> str:
    """What a passing cell's warning must say of its speed: why no base was timed, or that
    the base code's answer stayed undecided; nothing otherwise."""
    if isinstance(against_base, BaseHead):
        undecided = against_base.answer == "undecided" and not fails(against_base)
        return speed_note(against_base) if undecided else ""
    return speed_note(against_base)


def slower_note(against_base: BaseHead | str | None) -> str:
    """A warning for a baseline rewritten over an old artifact that may have been faster."""
    if isinstance(against_base, BaseHead) and fails(against_base):
        note = speed_note(against_base)
        return f"the new baseline accepts a model that may be slower than its old one: {note}"
    return ""


def decide(
    phase: Callable[[], Speedup],
    base: str,
    margin: float = AB_MARGIN,
    max_phases: int = AB_MAX_PHASES,
    against: Against = "artifact",
    calibrated: bool = False,
) -> BaseHead:
    """Time ``phase`` (the head beside the base: the base is the "reference" side) until the
    pooled interval is decided, or ``max_phases`` phases are spent. ``calibrated`` says that
    ``margin`` is the cell's own (:mod:`accel.gate.calibration`)."""
    if max_phases < 1:
        raise ValueError(f"`max_phases` must be >= 1, got {max_phases}")
    base_rounds: list[tuple[float, ...]] = []
    head_rounds: list[tuple[float, ...]] = []
    for done in range(1, max_phases + 1):
        timed = phase()
        base_rounds += timed.reference_rounds
        head_rounds += timed.cell_rounds
        interval = speedup_interval(base_rounds, head_rounds, paired=True)
        decided = answer(interval, margin)
        if decided != "undecided" or done == max_phases:
            return BaseHead(decided, interval, done, margin, base, against, calibrated)
    raise AssertionError("unreachable")
