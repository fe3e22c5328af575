"""One verdict per cell, made in one place from its measurements, contract and baseline.

:func:`judge` is the only function that decides whether a cell passes. The pytest plugin turns
a :class:`CellVerdict` into test outcomes; the table and the results JSON only render it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from accel.gate.base_head import BaseHead, flag, passing_note, short_note, slower_note, speed_note
from accel.gate.baselines import Baseline, BaselineError
from accel.gate.checks import Check, Status
from accel.gate.compare import compare, explain, format_rows
from accel.gate.contracts import Contract
from accel.gate.identity import Match, match_model
from accel.gate.latency import machine_slowdown
from accel.gate.metrics import METRICS, required
from accel.gate.promises import judge_contract
from accel.measure.machine import Incomparable
from accel.measure.records import Accuracy, CellResult

__all__ = ["Check", "Status", "judge_contract"]  # re-exported: one place to import verdicts from

SameMachine = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]
LatencyIncomparable = Callable[[Mapping[str, Any], Mapping[str, Any]], Incomparable | None]


@dataclass(frozen=True)
class CellVerdict:
    """Both checks of a cell; ``status`` and ``summary`` merge them."""

    cell: str
    contract: Check
    baseline: Check
    result: CellResult | None = None
    # The baseline it was judged against (for the table's deltas).
    against: Baseline | None = field(default=None, compare=False)

    @property
    def checks(self) -> tuple[Check, Check]:
        return (self.contract, self.baseline)

    @property
    def status(self) -> Status:
        """The worst of the two checks: error, fail, skipped, written, better, pass."""
        order = (
            Status.ERROR,
            Status.FAIL,
            Status.SKIPPED,
            Status.WRITTEN,
            Status.BETTER,
            Status.PASS,
        )
        return next(s for s in order if s in (c.status for c in self.checks))

    @property
    def summary(self) -> str:
        """The table's verdict column: failures first (both checks' if both failed)."""
        failed = [c for c in self.checks if c.status.failed]
        if failed:
            return "; ".join(dict.fromkeys(c.summary for c in failed))  # "ERROR", not twice
        if self.status is Status.SKIPPED:
            return self.contract.summary
        if self.contract.summary != "pass":  # e.g. a promise undecided within noise
            return f"{self.baseline.summary}; contract {self.contract.summary}"
        return self.baseline.summary

    @property
    def reasons(self) -> tuple[str, ...]:
        """Every reason of both checks, each once."""
        return tuple(dict.fromkeys(self.contract.reasons + self.baseline.reasons))


def accept_command(cell: str) -> str:
    """The command that rewrites ``cell``'s baseline from a new run."""
    technique, device = cell.split("/")
    return (
        "  pytest --pyargs accel.plugin.suite --accel-update-baselines "
        f"--accel-techniques {technique} --accel-device {device}"
    )


def skipped(cell: str, reason: str) -> CellVerdict:
    """The verdict of a cell this machine cannot run."""
    check = Check(Status.SKIPPED, f"skipped: {reason}", reasons=(reason,))
    return CellVerdict(cell, check, check)


def unavailable(cell: str, reason: str) -> CellVerdict:
    """The verdict of a required cell (``--accel-require``) this machine cannot run: a
    failure that names the cell, the reason and the fix, never a skip."""
    message = (
        f"{cell} is required (--accel-require / $ACCEL_REQUIRE) but cannot run on this "
        f"machine: {reason}.\nFix: run the gate on a machine that provides what is missing, "
        f"or remove {cell} (or its technique, or 'all') from --accel-require / $ACCEL_REQUIRE."
    )
    text = f"required, cannot run here: {reason}"
    check = Check(Status.FAIL, f"FAIL {text}", message, (text,))
    return CellVerdict(cell, check, check)


def errored(cell: str, error: BaseException) -> CellVerdict:
    """The verdict of a cell whose build or measurement raised."""
    text = f"{type(error).__name__}: {error}"
    check = Check(Status.ERROR, "ERROR", text, (text,))
    return CellVerdict(cell, check, check)


def raised(made: CellVerdict | None, cell: str, which: str, text: str) -> CellVerdict:
    """The verdict once the test of ``cell``'s ``which`` check ("contract" or "baseline")
    raised ``text`` before recording an outcome: that check is ERROR (both, when nothing was
    recorded), whatever the other check said. A check that already failed keeps its verdict."""
    last = (text.strip().splitlines() or ["error"])[-1]
    check = Check(Status.ERROR, "ERROR", text, (last,))
    if made is None:
        return CellVerdict(cell, check, check)
    if getattr(made, which).status.failed:
        return made
    if which == "contract":
        return replace(made, contract=check)
    return replace(made, baseline=check)


def judge_baseline(
    result: CellResult,
    baseline: Baseline | BaselineError | None,
    path: Path,
    same_machine: SameMachine,
    latency_incomparable: LatencyIncomparable,
    against_base: BaseHead | str | None = None,
    reference_baseline: Baseline | None = None,
) -> Check:
    """The cell against its reviewed baseline file (``None``: there is none); a changed cell's
    speed against its baseline's own artifact, when timed (:mod:`accel.gate.base_head`). The
    reference's baseline, on the same machine, tells how much slower the machine runs now
    (:func:`accel.gate.latency.machine_slowdown`)."""
    cell = result.cell.id
    if baseline is None:
        message = (
            f"No baseline for {cell} at {path}. Create it with\n{accept_command(cell)}\n"
            "then review and commit the new file."
        )
        return Check(Status.FAIL, "FAIL no baseline", message, ("no baseline",))
    if isinstance(baseline, BaselineError):
        return Check(Status.FAIL, "FAIL bad baseline", str(baseline), (str(baseline),))
    model = match_model(baseline.model, result.provenance())
    same_model = model.match is Match.SAME
    other = latency_incomparable(result.machine, baseline.machine)
    slowdown = 0.0
    if reference_baseline is not None and same_machine(result.machine, reference_baseline.machine):
        then = reference_baseline.latency_ms.get("p50")
        slowdown = machine_slowdown(result.timing.reference.p50, then)
    rows = compare(
        result.metrics(),
        baseline,
        slowdown=slowdown,
        model_matches=same_model,
        latency_gated=other is None,
        speedup_interval=result.speedup_interval,
        ungated_note=f"{other.note}, not gated" if other else "",
        against_base=against_base,
    )
    notes = [speed_note(against_base)] if against_base else []
    if model.match is Match.RETRAIN:
        notes.append(f"{model.why}: accuracy metrics were compared with retrain tolerances")
    if other:
        notes.append(f"{other.why}: accuracy and size are gated, latency only warns")
    detail = f"{format_rows(rows)}\n" + explain(rows) + "".join(f"note: {n}\n" for n in notes)
    if model.match is Match.CHANGED:
        message = (
            f"{cell}: the model changed: review and update the baseline. Against {path}, "
            f"{model.why}. Its figures now (compared as a retrain, for the review):\n{detail}"
            f"Accept them with\n{accept_command(cell)}\nand commit the reviewed diff."
        )
        summary = f"FAIL model changed{short_note(against_base)}"
        return Check(Status.FAIL, summary, message, ("model changed",), tuple(rows))
    worse = tuple(r.metric for r in rows if r.verdict == "worse")
    if worse:
        message = (
            f"{cell} regressed against {path}:\n{detail}If the change is intended, accept it "
            f"with\n{accept_command(cell)}\nand commit the reviewed diff of the baselines."
        )
        summary = f"FAIL {', '.join(worse)}{short_note(against_base)}"
        return Check(Status.FAIL, summary, message, worse, tuple(rows))
    better = [r.metric for r in rows if r.verdict == "better"]
    warned = [r.metric for r in rows if r.verdict == "warn"]
    flags = (
        ([f"better: {', '.join(better)}"] if better else [])
        + ([f"warn: {', '.join(warned)} on {other.where if other else '?'}"] if warned else [])
        + ([] if same_model else ["retrained model"])
        + ([flag(against_base)] if isinstance(against_base, BaseHead) else [])
    )
    summary = "pass" + (f" ({'; '.join(flags)})" if flags else "")
    where = other.where if other else "?"
    warning = f"{cell}: slower than {path} on {where}, not gated:\n{detail}" if warned else ""
    aside = passing_note(against_base)  # no base timed, or the base code's answer undecided
    warning = "\n".join(w for w in (warning, aside and f"{cell}: {aside}") if w)
    status = Status.BETTER if better else Status.PASS
    return Check(status, summary, rows=tuple(rows), warning=warning)


def not_measured(result: CellResult) -> list[str]:
    """The required metrics ``result`` holds no valid value of (NaN, or outside the domain)."""
    values = result.metrics()
    return [m for m in required() if not METRICS[m].domain.admits(values[m])]


def judge(
    result: CellResult,
    contract: Contract,
    baseline: Baseline | BaselineError | None,
    path: Path,
    *,
    rival: Accuracy | None = None,
    update: bool = False,
    same_machine: SameMachine,
    latency_incomparable: LatencyIncomparable,
    against_base: BaseHead | str | None = None,
    reference_baseline: Baseline | None = None,
) -> CellVerdict:
    """The verdict of one measured cell: its contract, and its baseline (or, with ``update``,
    the fact that its baseline is rewritten from this run); ``reference_baseline``: the
    reference cell's baseline on this device, which measures the machine's slowdown."""
    previous = baseline if isinstance(baseline, Baseline) else None
    other = latency_incomparable(result.machine, previous.machine) if previous else None
    promise = judge_contract(result, contract, rival, other.where if other else "")
    missing = not_measured(result)
    if missing:
        regression = Check(
            Status.FAIL,
            f"FAIL not measured: {', '.join(missing)}",
            f"{result.cell.id}: the required metric(s) {', '.join(missing)} were not measured "
            "(NaN or outside their domain), so this run can neither be compared with nor "
            "written into a baseline. Fix the measurement (a score is NaN when the test split "
            "has no rows to compute it on).",
            tuple(f"{m} not measured" for m in missing),
        )
    elif update:
        summary, note = f"baseline written{short_note(against_base)}", speed_note(against_base)
        regression = Check(Status.WRITTEN, summary, note, warning=slower_note(against_base))
    else:
        regression = judge_baseline(
            result,
            baseline,
            path,
            same_machine,
            latency_incomparable,
            against_base,
            reference_baseline,
        )
    return CellVerdict(result.cell.id, promise, regression, result, previous)
