"""Wiring of base against head: find a changed cell's baseline artifact, load it, time both;
else, with ``--accel-base``, time the cell beside the base code's build of it.

A cell's last artifact is the graph or model it runs. When the baseline file names another one
of the same kind (the model changed) and the cache still holds it, the cell's own builder is
run again with that entry read in place of the new one (``BuildContext.substitute``), so the
old artifact is loaded exactly like the new, through today's code. The two are then timed side
by side in phases until :func:`accel.gate.base_head.decide` answers. Where there is no old
artifact in the cache, or the builder does not read its last artifact from the cache (a cell
that transforms the loaded reference in memory, such as ``torch-int8``), the speedup over the
reference decides, as for an unchanged cell, and the reason is returned for the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from accel.artifacts.cache import cache_root
from accel.artifacts.entries import entry_problem
from accel.gate.base_head import AB_PLAN, BaseHead, decide
from accel.gate.baselines import Baseline, BaselineError
from accel.gate.calibration import margin_for
from accel.matrix import Matrix
from accel.measure.records import Cell, CellResult
from accel.measure.timing import measure_speedup
from accel.plugin.base_code import BaseCode
from accel.techniques.base import BuildContext, Builder

if TYPE_CHECKING:  # the plugin imports no torch until a cell is built
    from accel.measure.predictors import Predictor


def changed_artifact(
    measured: Sequence[Mapping[str, str]], baseline: Mapping[str, Any]
) -> tuple[str, str, str] | None:
    """``(kind, new key, old key)`` when the baseline's last artifact is not the cell's last
    one but of the same kind; ``None`` when they are the same (or either records none)."""
    recorded = [a for a in baseline.get("artifacts") or () if isinstance(a, Mapping)]
    if not measured or not recorded:
        return None
    head, base = measured[-1], recorded[-1]
    if base.get("kind") != head.get("kind") or base.get("key") == head.get("key"):
        return None
    return str(head["kind"]), str(head["key"]), str(base.get("key"))


def base_predictor(
    build: Builder, ctx: BuildContext, changed: tuple[str, str, str]
) -> Predictor | str:
    """The cell's predictor built by ``build`` with the old artifact read in place of the new
    one, or why it cannot be: ``ctx`` gives the cache and everything else the build needs."""
    kind, new, old = changed
    short = f"{kind}/{old[:12]}"
    entry = (ctx.cache_dir or cache_root()) / kind / old
    problem = entry_problem(entry, full=False) if entry.is_dir() else "not in the cache"
    if problem is not None:
        return f"the baseline's artifact {short}: {problem}"
    swapped = BuildContext(
        ctx.reference, ctx.data, ctx.device, ctx.threads, ctx.cache_dir, substitute={new: entry}
    )
    try:
        predictor = build(swapped)
    except Exception as exc:  # an old artifact today's code cannot load: say so, judge on
        return f"the baseline's artifact {short} could not be loaded: {type(exc).__name__}: {exc}"
    if not any(a.path == entry for a in swapped.used):
        return f"the cell's builder does not read its {kind} artifact from the cache"
    return predictor


def against_base(
    matrix: Matrix,
    cell: Cell,
    result: CellResult,
    baseline: Baseline | BaselineError | None,
    base_code: BaseCode | None = None,
) -> BaseHead | str | None:
    """The base-against-head decision: beside the baseline's own artifact when the cell's
    changed and the cache has the old one, else beside the base code's build of the cell when
    there is a base (``--accel-base``); a reason when neither can be timed; ``None`` when there
    is nothing to time against (no base, and no baseline or an unchanged artifact)."""
    changed, calibrations = None, {}
    if isinstance(baseline, Baseline):
        changed = changed_artifact(result.artifacts, baseline.model)
        calibrations = baseline.calibration
    if changed is None and base_code is None:
        return None  # nothing to time against: build nothing
    head, plan = matrix.predictor(cell), AB_PLAN
    reason = None
    if changed is not None:
        ctx = BuildContext(matrix.reference, matrix.data, cell.device, matrix.config.threads)
        base = base_predictor(matrix.registry[cell.technique].builder(), ctx, changed)
        if not isinstance(base, str):
            phase = partial(measure_speedup, base, head, matrix.latency_queries, plan)
            margin, own = margin_for(calibrations, "artifact", result.machine)
            return decide(phase, f"{changed[0]}/{changed[2][:12]}", margin, calibrated=bool(own))
        reason = base
    if base_code is None:
        return reason
    cells = [c.id for c in matrix.together] or [cell.id]
    remote = base_code.side(cell.id, cells, matrix.latency_queries)
    if isinstance(remote, str):
        return "; ".join(r for r in (reason, f"the code at {base_code.spec}: {remote}") if r)
    phase = partial(measure_speedup, remote, head, matrix.latency_queries, plan)
    margin, own = margin_for(calibrations, "code", result.machine)
    with base_code.same_core():  # the two processes meet one core's state, as one process does
        return decide(phase, base_code.spec, margin, against="code", calibrated=bool(own))
