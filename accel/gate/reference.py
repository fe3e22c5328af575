"""A slower reference inflates every speedup: detecting it (docs/latency-decision.md).

Every cell's speedup is the reference's latency over the cell's, timed side by side. When the
reference itself slows down (a regression in the fp32 path: the model, the tokenizer, the
predictor), every other cell looks faster on speedup and passes as "better". Two observations
tell that apart from the cells really improving and from the machine drifting:

* most latency-gated cells of a device are ``better`` on speedup at once (a machine that is
  slower as a whole moves speedups down, if at all: int8 kernels suffer more than fp32 ones);
* the reference's own p50 is slower than in its baseline by more than
  :data:`REFERENCE_SLOWDOWN`, on the baseline's machine (raw milliseconds mean nothing on
  another).

The first alone is a warning (the cells may all have improved, or the machine may differ); both
together fail the reference cell.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from accel.gate.latency import SPEEDUP_MARGIN, widened_margin
from accel.gate.verdict import CellVerdict, Check, Status, accept_command

SameMachine = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]

# The reference's p50 must exceed its baseline's by more than this (on the same machine) for
# a broad "better" to count as a reference slowdown: the speedup's margin, so that a slowdown
# that makes the other cells "better" also shows in the reference's own figure.
REFERENCE_SLOWDOWN = SPEEDUP_MARGIN
# "Most": more than half of the latency-gated cells of a device, and at least this many.
MIN_CELLS = 2


@dataclass(frozen=True)
class Drift:
    """The evidence, on one device, that the reference slowed down."""

    device: str
    reference: str  # the reference cell, like fp32/cpu
    better: tuple[str, ...]  # cells better than their baselines on speedup
    gated: int  # latency-gated cells compared with their baselines (the reference aside)
    ratio: float | None  # the reference's p50 over its baseline's, on the same machine

    @property
    def strong(self) -> bool:
        """Both observations: enough to fail the reference cell."""
        return self.ratio is not None and self.ratio > 1 + REFERENCE_SLOWDOWN

    def message(self) -> str:
        broad = (
            f"{len(self.better)} of {self.gated} latency-gated cells on {self.device} beat their "
            f"baselines' speedup at once ({', '.join(self.better)})"
        )
        if self.strong:
            assert self.ratio is not None
            return (
                f"reference slowdown: {self.reference}'s p50 is {self.ratio - 1:+.0%} against its "
                f"baseline on the same machine (more than {REFERENCE_SLOWDOWN:.1%}), and {broad}: "
                "the reference slowed down, which inflates every speedup on "
                f"{self.device}. Find the slowdown in the reference's path; if it is intended, "
                f"accept it with\n{accept_command(self.reference)}\nand refresh the other "
                f"baselines of {self.device} with it."
            )
        own = (
            "its own latency cannot be compared here (another machine, or no baseline)"
            if self.ratio is None
            else f"its own p50 is {self.ratio - 1:+.0%} against its baseline"
        )
        return (
            f"possible reference slowdown: {broad}. Either they all improved, or the reference "
            f"({self.reference}) slowed down and inflates every speedup; {own}. Check before "
            "refreshing these baselines."
        )


def _speedup_row(made: CellVerdict) -> str | None:
    """The verdict of the cell's latency-gated speedup row, or None when there is none."""
    for row in made.baseline.rows:
        if row.metric == "speedup" and not row.note.endswith("not gated"):
            return row.verdict
    return None


def _ratio(made: CellVerdict | None, same_machine: SameMachine) -> float | None:
    if made is None or made.result is None or made.against is None:
        return None
    if not same_machine(made.result.machine, made.against.machine):
        return None
    base = made.against.latency_ms.get("p50", 0.0)
    return made.result.timing.cell.p50 / base if base > 0 else None


def slowdown_notes(
    verdicts: Sequence[CellVerdict], reference: str, same_machine: SameMachine
) -> list[str]:
    """A line per device whose reference ran more than 1% slower than its baseline on the same
    machine (less moves no margin visibly): the speedup margins there widened by about as much
    (:func:`accel.gate.latency.widened_margin`), which a reviewer needs to read the verdicts."""
    out = []
    for made in verdicts:
        ratio = _ratio(made, same_machine) if made.cell.split("/")[0] == reference else None
        if ratio is not None and ratio > 1.01:
            wide = widened_margin(SPEEDUP_MARGIN, ratio - 1)
            out.append(
                f"slower machine: {made.cell}'s p50 is {ratio - 1:+.0%} against its baseline on "
                "the same machine; int8 speedups fall with such a slowdown, so each speedup's "
                f"margin widens by it (the default {SPEEDUP_MARGIN:.1%} to about {wide:.0%}): "
                "a smaller slowdown of a cell is caught only against the base (--accel-base)."
            )
    return out


def reference_drift(
    verdicts: Sequence[CellVerdict], reference: str, same_machine: SameMachine
) -> list[Drift]:
    """One :class:`Drift` per device where most latency-gated cells are "better" on speedup
    at once (``reference``: the reference technique's name, like ``fp32``)."""
    out = []
    for device in dict.fromkeys(v.cell.split("/")[1] for v in verdicts):
        ref_id = f"{reference}/{device}"
        mine = [v for v in verdicts if v.cell.split("/")[1] == device and v.cell != ref_id]
        rows = {v.cell: r for v in mine if (r := _speedup_row(v)) is not None}
        better = tuple(c for c, r in rows.items() if r == "better")
        if len(rows) >= MIN_CELLS and 2 * len(better) > len(rows):
            ref = next((v for v in verdicts if v.cell == ref_id), None)
            out.append(Drift(device, ref_id, better, len(rows), _ratio(ref, same_machine)))
    return out


def judge_reference(
    made: CellVerdict, others: Sequence[CellVerdict], same_machine: SameMachine
) -> CellVerdict:
    """The reference cell's verdict, failed when the evidence that it slowed down is strong
    (:attr:`Drift.strong`); ``others``: the verdicts of the other cells judged so far."""
    if made.baseline.status.failed or made.baseline.status is Status.WRITTEN:
        return made
    technique, device = made.cell.split("/")
    drifts = reference_drift([made, *others], technique, same_machine)
    strong = [d for d in drifts if d.device == device and d.strong]
    if not strong:
        return made
    text = strong[0].message()
    check = Check(Status.FAIL, "FAIL reference slowdown", text, ("reference slowdown",))
    return replace(made, baseline=replace(check, rows=made.baseline.rows))
