"""The comparison table (terminal and Markdown) and the JSON results of a matrix run."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence

from rich import box
from rich.console import Console
from rich.table import Table

from accel.gate.metrics import METRICS
from accel.gate.verdict import CellVerdict
from accel.measure import reuse, serving
from accel.measure.intervals import LEVEL
from accel.measure.records import (
    LENGTH_PREFIX,
    SCORES,
    SECONDS_KEY,
    THROUGHPUT_PREFIX,
    CellResult,
)
from accel.reporting.scenario_report import scenario_text, settings_text
from accel.techniques import REFERENCE

COLUMNS = ("cell", "accuracy", "size MB", "p50 ms", f"speedup [{LEVEL:.0%} CI]", "verdict")


def _with_delta(
    value: float, base: float | None, fmt: str, pct: bool = False, interval: str = ""
) -> str:
    if not math.isfinite(value):
        return "not measured"
    text = format(value, fmt) + interval
    if base is None:
        return text
    if pct:
        return f"{text} ({(value / base - 1) * 100:+.1f}%)" if base else text
    return f"{text} ({value - base:+{fmt}})"


def row(
    cell: str,
    figures: Mapping[str, float] | None,
    base: Mapping[str, float],
    ci: str,
    verdict: str,
) -> tuple[str, ...]:
    """One row of :data:`COLUMNS`: ``figures`` (flat, ``latency_ms.p50`` style; None for a cell
    not measured) each with its delta against ``base`` (the baseline's, where known), ``ci``
    the speedup's interval text (:func:`ci_text`). Every table of cells renders through here."""
    if figures is None:
        return (cell, "-", "-", "-", "-", verdict)
    return (
        cell,
        _with_delta(figures["accuracy"], base.get("accuracy"), ".4f"),
        _with_delta(figures["size_mb"], base.get("size_mb"), ".1f", pct=True),
        _with_delta(figures["latency_ms.p50"], base.get("latency_ms.p50"), ".2f", pct=True),
        _with_delta(figures["speedup"], base.get("speedup"), ".2f", pct=True, interval=ci),
        verdict,
    )


def ci_text(low: float, high: float) -> str:
    """The speedup's interval as the speedup column shows it."""
    return f" [{low:.2f}-{high:.2f}]"


def rows(verdicts: Sequence[CellVerdict]) -> list[tuple[str, ...]]:
    """Table rows as strings: each metric with its delta against the baseline."""
    out: list[tuple[str, ...]] = []
    for o in verdicts:
        if o.result is None:
            out.append(row(o.cell, None, {}, "", o.summary))
            continue
        b = o.against.flat_metrics() if o.against else {}
        out.append(row(o.cell, o.result.metrics(), b, _ci(o.result), o.summary))
    return out


def extra_figures(verdicts: Sequence[CellVerdict]) -> list[tuple[str, str]]:
    """(cell, text) for every cell's gated figures beyond the columns: the scores its data has
    (macro-F1; in-scope accuracy and out-of-scope recall with a reject label) and its extra
    metrics (sparsity, compressed size, ...), each with its delta against the baseline."""
    out = []
    for o in verdicts:
        measured = o.result.metrics() if o.result else {}
        scores = {k: measured[k] for k in SCORES if k in measured}
        extra = scores | (o.result.extra_metrics if o.result else {})
        if not extra:
            continue
        b = o.against.flat_metrics() if o.against else {}
        parts = [f"{name} " + _delta(name, value, b.get(name)) for name, value in extra.items()]
        out.append((o.cell, ", ".join(parts)))
    return out


def behaviour_figures(verdicts: Sequence[CellVerdict]) -> list[tuple[str, str]]:
    """(cell, text) for every cell compared with the reference: the accuracy change with its
    interval and whether McNemar's test calls it real, the flips each way, the worst class."""
    out = []
    for o in verdicts:
        if o.result is None or o.result.behaviour is None or o.result.cell.technique == REFERENCE:
            continue
        b = o.result.behaviour
        low, high = b.accuracy_change_ci
        verdict = "a real change" if b.significant else "within noise"
        parts = [
            f"accuracy {b.accuracy:.4f} [{b.accuracy_ci[0]:.4f}-{b.accuracy_ci[1]:.4f}], "
            f"{b.accuracy_change * 100:+.2f} pt vs reference "
            f"[{LEVEL:.0%} CI {low * 100:+.2f} to {high * 100:+.2f}], McNemar p={b.mcnemar_p:.2g} "
            f"({verdict})",
            f"flips {b.flips_to_wrong} right->wrong, {b.flips_to_right} wrong->right",
        ]
        if b.worst is not None:
            parts.append(
                f"worst class {b.worst.name} {b.worst.accuracy:.3f} vs {b.worst.reference:.3f} "
                f"(n={b.worst.n})"
            )
        parts += [f"lacks {text}" for text in b.lacks]
        out.append((o.cell, "; ".join(parts)))
    return out


def _delta(name: str, value: float, base: float | None) -> str:
    """A gated figure beyond the columns, with its delta (relative for a size)."""
    spec = METRICS.get(name)
    fmt = spec.fmt if spec else ".4f"
    return _with_delta(value, base, fmt, pct=bool(spec and spec.unit == "MB"))


def _ci(result: CellResult) -> str:
    try:
        interval = result.speedup_interval
    except ValueError:  # no rounds recorded
        return ""
    return ci_text(interval.low, interval.high)


def reported_figures(verdicts: Sequence[CellVerdict]) -> list[tuple[str, str]]:
    """(cell, text) for every cell with ungated figures: compile time, throughput, serving."""
    out = []
    for o in verdicts:
        figures = dict(o.result.reported) if o.result else {}
        if not figures:
            continue
        parts = []
        if "compile_seconds" in figures:
            parts.append(f"compile {figures.pop('compile_seconds'):.1f} s")
        rates = {
            k.removeprefix(THROUGHPUT_PREFIX): figures.pop(k)
            for k in list(figures)
            if k.startswith(THROUGHPUT_PREFIX)
        }
        if rates:
            parts.append(
                "throughput seq/s " + ", ".join(f"b{b}: {r:,.0f}" for b, r in rates.items())
            )
        sweep = {
            k.removeprefix(LENGTH_PREFIX): figures.pop(k)
            for k in list(figures)
            if k.startswith(LENGTH_PREFIX)
        }
        if sweep:
            values = "/".join(f"{v:.3g}" for v in sweep.values())
            parts.append(f"p50 ms at {'/'.join(sweep)} tokens: {values}")
        if SECONDS_KEY in figures:
            parts.append(f"(scaling took {figures.pop(SECONDS_KEY):.1f} s)")
        served = {
            k.removeprefix(serving.PREFIX): figures.pop(k)
            for k in list(figures)
            if k.startswith(serving.PREFIX)
        }
        if served:
            parts.append(serving.describe(served))
        if figures.pop(reuse.OUTPUTS_REUSED, None):
            parts.append("accuracy pass reused")
        elif reuse.ACCURACY_PASS_SECONDS in figures:
            parts.append(f"accuracy pass {figures.pop(reuse.ACCURACY_PASS_SECONDS):.1f} s")
        parts += [f"{k} {v:g}" for k, v in figures.items()]
        out.append((o.cell, "; ".join(parts)))
    return out


def scenario_lines(verdicts: Sequence[CellVerdict]) -> list[str]:
    """LoadGen's settings once, then each cell's scenario figures (--accel-scenarios)."""
    found = {
        o.cell: o.result.scenarios.to_dict() for o in verdicts if o.result and o.result.scenarios
    }
    if not found:
        return []
    settings = settings_text(next(iter(found.values()))["settings"])
    return [f"LoadGen scenarios ({settings}):"] + [
        f"  {cell}: {scenario_text(record)}" for cell, record in found.items()
    ]


def terminal_table(
    verdicts: Sequence[CellVerdict], title: str, notes: Sequence[str] = ()
) -> str:
    """The table as plain text for terminals and CI logs; ``notes``: warnings about the whole
    run (a reference slowdown), each a line under it."""
    buffer = io.StringIO()
    buffer.write(text_grid(title, COLUMNS, rows(verdicts)))
    buffer.writelines(f"  WARNING {note}\n" for note in notes)
    extra = extra_figures(verdicts)
    if extra:
        buffer.write("  gated, beyond the columns:\n")
        buffer.writelines(f"    {cell}: {text}\n" for cell, text in extra)
    behaviour = behaviour_figures(verdicts)
    if behaviour:
        buffer.write("  behaviour against the reference (same test utterances):\n")
        buffer.writelines(f"    {cell}: {text}\n" for cell, text in behaviour)
    reported = reported_figures(verdicts)
    if reported:
        buffer.write("  reported, not gated:\n")
        buffer.writelines(f"    {cell}: {text}\n" for cell, text in reported)
    buffer.writelines(f"  {line}\n" for line in scenario_lines(verdicts))
    return buffer.getvalue()


def text_grid(title: str, header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """A plain-text table for terminals and CI logs (cell and verdict left-aligned)."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for column in header:
        table.add_column(column, justify="left" if column in ("cell", "verdict") else "right")
    for line in body:
        table.add_row(*line)
    buffer = io.StringIO()
    Console(file=buffer, width=160, force_terminal=False, color_system=None).print(table)
    return buffer.getvalue()


def markdown_grid(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    """The lines of a GitHub-flavoured Markdown table (every Markdown table of accel's)."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in body),
    ]


def markdown_table(
    verdicts: Sequence[CellVerdict], title: str, notes: Sequence[str] = ()
) -> str:
    """The table as GitHub-flavoured Markdown (for $GITHUB_STEP_SUMMARY)."""
    lines = [f"### {title}", "", *markdown_grid(COLUMNS, rows(verdicts))]
    lines += ["", *(f"**Warning:** {note}" for note in notes)] if notes else []
    extra = extra_figures(verdicts)
    if extra:
        lines += ["", "Gated, beyond the columns:", ""]
        lines += [f"- `{cell}`: {text}" for cell, text in extra]
    behaviour = behaviour_figures(verdicts)
    if behaviour:
        lines += ["", "Behaviour against the reference (same test utterances):", ""]
        lines += [f"- `{cell}`: {text}" for cell, text in behaviour]
    reported = reported_figures(verdicts)
    if reported:
        lines += ["", "Reported, not gated:", ""]
        lines += [f"- `{cell}`: {text}" for cell, text in reported]
    lines += [""] + [f"- {line}" for line in scenario_lines(verdicts)]
    return "\n".join(lines) + "\n"
