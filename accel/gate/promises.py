"""A technique's contract judged on one cell: its promises met, broken, or undecided.

A speed floor (``min_speedup``) is a promise about the kernels of the machine class its
contract was reviewed on. Int8, bf16 and compiled kernels differ between instruction sets far
more than between runs (2026-12-01, an Intel Xeon with AMX against the AMD EPYC the baselines
were written on: torch-compile 1.22x against its 1.3x floor, distilled-ort-lean 13.1x against
15x), so on a machine whose instruction sets (or GPU model) differ from the cell's baseline's,
a broken speed floor warns, as the baseline's own speedup row does; every other promise stays
gated.
"""

from __future__ import annotations

from dataclasses import replace

from accel.gate.checks import Check, Status
from accel.gate.contracts import Contract, Paired
from accel.measure.records import Accuracy, CellResult


def judge_contract(
    result: CellResult, contract: Contract, rival: Accuracy | None = None, elsewhere: str = ""
) -> Check:
    """The technique's promises against the reference measured in the same run.

    A promise the evidence cannot decide (a floor missed within noise) passes, and the table
    says ``undecided``: never silently. ``elsewhere`` names how this machine differs from the
    baseline's (other instruction sets, another GPU): a broken speed floor then warns (module
    doc)."""
    if elsewhere and contract.min_speedup is not None:
        speed = judge_contract(result, Contract(min_speedup=contract.min_speedup))
        if speed.status is Status.FAIL:
            rest = judge_contract(result, replace(contract, min_speedup=None), rival)
            note = f"{speed.message}\n(on {elsewhere}: the speed floor only warns)"
            if rest.status is Status.FAIL:
                return replace(rest, message=f"{rest.message}\n{note}")
            summary = f"pass (warn: speedup floor on {elsewhere})"
            warning = "\n".join(w for w in (rest.warning, note) if w)
            return replace(rest, summary=summary, warning=warning)
    paired = Paired(
        result.accuracy.correct,
        result.reference_accuracy.correct,
        rival.correct if rival is not None else (),
    )
    assessed = contract.assess(
        accuracy=result.accuracy.accuracy,
        ref_accuracy=result.reference_accuracy.accuracy,
        size_mb=result.size_mb,
        ref_size_mb=result.reference_size_mb,
        speedup=result.timing.speedup,
        rival_accuracy=rival.accuracy if rival is not None else None,
        extra=result.extra_metrics,
        speedup_ci=result.speedup_interval,
        paired=paired,
        intervals=result.behaviour.intervals() if result.behaviour else None,
    )
    head = f"{result.cell.id}'s contract ({contract.describe()})"
    if not assessed.broken:
        if not assessed.undecided:
            return Check(Status.PASS, "pass")
        warning = f"{head} is undecided:\n  - " + "\n  - ".join(assessed.undecided)
        return Check(Status.PASS, "pass (undecided: within noise)", warning=warning)
    rounds = ", ".join(f"{s:.2f}" for s in result.timing.round_speedups)
    message = (
        f"{result.cell.id} breaks its contract ({contract.describe()}):\n  - "
        + "\n  - ".join(assessed.broken + assessed.undecided)
        + f"\n(speedup per round: {rounds})"
    )
    return Check(Status.FAIL, "FAIL contract", message, tuple(assessed.broken))
