"""``accel report`` on several run JSONs: the merged run's JSON, its comparison table (stdout
and ``$GITHUB_STEP_SUMMARY``) and its report; the exit status gates on the merged cells.

The table renders the run JSON's cells through :func:`accel.reporting.table.row`, the columns
of the session's table; a JSON keeps no baseline figures, so its rows have no deltas (each
shard's own step summary has them). No torch.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from accel.artifacts.cache import write_text_atomic
from accel.reporting.merge import merge_runs
from accel.reporting.report import write_report
from accel.reporting.schema import CellRecord, ReportError, RunRecord
from accel.reporting.table import COLUMNS, ci_text, markdown_grid, row, text_grid

MERGED_NAME = "accel-run.json"  # the merged run's JSON, beside report.md
FAILED = ("fail", "error")  # statuses that fail the merge job
OK, CELL_FAILED, CANNOT_MERGE = 0, 1, 2


def record_rows(cells: Sequence[CellRecord]) -> list[tuple[str, ...]]:
    """The table's rows for cells of a run JSON: this run's figures, the verdict as recorded."""
    out = []
    for c in cells:
        if not c.measured:
            out.append(row(c.cell, None, {}, "", c.verdict))
            continue
        figures = {
            "accuracy": c.accuracy,
            "size_mb": c.size_mb,
            "latency_ms.p50": c.p50_ms,
            "speedup": c.speedup,
        }
        ci = ci_text(c.speedup_ci.low, c.speedup_ci.high) if c.speedup_ci else ""
        out.append(row(c.cell, figures, {}, ci, c.verdict))
    return out


def title(run: RunRecord) -> str:
    s = run.settings
    merged = s.get("merged", [])
    shards = [m["shard"] for m in merged if "shard" in m]
    shards.sort(key=lambda v: int(v.split("/")[0]))
    return (
        f"accel matrix, {len(merged)} runs merged"
        + (f" (shards {', '.join(shards)})" if shards else "")
        + f": model={s.get('model')}, threads={s.get('threads')}, "
        f"rounds={s.get('rounds')}x{s.get('block')} calls"
    )


def terminal(run: RunRecord) -> str:
    """The merged table as plain text, each run's warnings under it."""
    text = text_grid(title(run), COLUMNS, record_rows(run.cells))
    return text + "".join(f"  WARNING {note}\n" for note in run.warnings)


def markdown(run: RunRecord) -> str:
    """The merged table as Markdown (the merge job's step summary)."""
    lines = [f"### {title(run)}", "", *markdown_grid(COLUMNS, record_rows(run.cells))]
    lines += ["", *(f"**Warning:** {note}" for note in run.warnings)] if run.warnings else []
    return "\n".join(lines) + "\n"


def report_merged(
    paths: Sequence[Path], out: Path, expect_shards: int | None, expect_cells: Sequence[str]
) -> int:
    """Merge ``paths``, write ``out/accel-run.json`` and the report, print the table (and
    append it to ``$GITHUB_STEP_SUMMARY``); 1 when a merged cell failed or errored, 2 when
    the JSONs cannot be merged or reported, else 0."""
    try:
        run = merge_runs(paths, expect_shards, expect_cells)
    except ReportError as exc:
        print(f"accel report: {exc}", file=sys.stderr)
        return CANNOT_MERGE
    merged = out / MERGED_NAME
    write_text_atomic(merged, run.to_json())
    print(terminal(run), end="")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(markdown(run))
    status = OK
    try:
        written = write_report(merged, out)
    except ReportError as exc:
        print(f"accel report: {exc}", file=sys.stderr)
        written, status = [], CANNOT_MERGE
    for path in [merged, *written]:
        print(f"wrote {path}")
    failed = [c.cell for c in run.cells if c.status in FAILED]
    if failed:
        print(f"accel report: {len(failed)} cell(s) failed or errored: {', '.join(failed)}")
        return CELL_FAILED if status == OK else status
    return status
