"""A run's report for people: Markdown and PNG plots from the JSON that ``--accel-json`` writes.

Plots (matplotlib, Agg backend), one of each per device in the run:

* ``accuracy-vs-latency-<device>.png``: the book's chart, accuracy against p50 latency, one
  labelled bubble per cell, bubble area proportional to size, the reference's accuracy dashed;
* ``latency-vs-length-<device>.png``: p50 latency against input length, one line per cell;
* ``agreement-vs-speedup-<device>.png`` and ``class-drops-<device>.png``: top-1 agreement with
  the reference against speedup, and the worst classes of the cells whose worst class drops
  most (:mod:`accel.reporting.behaviour`), with a table of every cell's behaviour figures.
* ``server-qps-vs-p99-<device>.png`` (a run with ``--accel-scenarios``): LoadGen's Server
  search, completed QPS against p99 latency, one line per cell.
* ``frontier-speedup-<device>.png`` and ``frontier-size-<device>.png``: accuracy change against
  speedup and against size ratio, the Pareto front and the book's points as ratios, with the
  "Frontier" table (:mod:`accel.reporting.frontier`).

The JSON is read and validated by :mod:`accel.reporting.schema` (its versions 1 and 2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from accel.artifacts.cache import write_text_atomic
from accel.reporting.behaviour import agreement_chart, behaviour_table, class_drop_chart, compared
from accel.reporting.frontier import cell_points, frontier_devices, frontier_markdown
from accel.reporting.frontier_chart import frontier_charts
from accel.reporting.plotting import pyplot, save
from accel.reporting.scenario_report import scenario_markdown, server_chart
from accel.reporting.schema import CellRecord, ReportError, RunRecord
from accel.reporting.table import markdown_grid

REPORT_NAME = "report.md"
BUBBLE_MAX_AREA = 2500.0  # points^2 of the largest cell's bubble


def read_run(path: Path) -> RunRecord:
    """Read and validate a run JSON (:meth:`RunRecord.read`); errors name the file and field."""
    return RunRecord.read(path)


def _devices(cells: Sequence[CellRecord]) -> list[str]:
    return list(dict.fromkeys(c.device for c in cells))


def _size_text(c: CellRecord) -> str:
    """The dense size, and the compressed artifact's where the cell has one."""
    if c.compressed_size_mb is None:
        return f"{c.size_mb:.1f}"
    return f"{c.size_mb:.1f} ({c.compressed_size_mb:.1f} compressed)"


def accuracy_chart(cells: Sequence[CellRecord], path: Path, title: str) -> None:
    """Accuracy against p50 latency; bubble area proportional to size; reference dashed.

    Cells often share the reference's accuracy and sit close together, so each bubble is
    labelled through the legend (its colour, technique and size) rather than beside it.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 5.5), dpi=120)
    largest = max(c.size_mb for c in cells)
    colors = plt.get_cmap("tab10" if len(cells) <= 10 else "tab20")
    for i, c in enumerate(cells):
        ax.scatter(
            c.p50_ms,
            c.accuracy,
            s=BUBBLE_MAX_AREA * c.size_mb / largest,
            alpha=0.5,
            color=colors(i % colors.N),
            edgecolors="black",
            linewidths=0.6,
            label=f"{c.technique} ({c.size_mb:.0f} MB"
            + (f"; {c.compressed_size_mb:.0f} MB compressed)" if c.compressed_size_mb else ")"),
            zorder=3,
        )
        ax.plot(c.p50_ms, c.accuracy, "k.", markersize=2, zorder=4)  # the exact point
    reference = cells[0].reference_accuracy
    ax.axhline(
        reference,
        linestyle="--",
        color="gray",
        linewidth=1,
        label=f"reference accuracy {reference:.4f}",
        zorder=2,
    )
    accuracies = [c.accuracy for c in cells] + [reference]
    pad = max(0.01, (max(accuracies) - min(accuracies)) * 0.3)
    ax.set_ylim(min(accuracies) - pad, max(accuracies) + pad)
    ax.set_xlim(0, max(c.p50_ms for c in cells) * 1.15)
    ax.set_xlabel("p50 latency, one query (ms)")
    ax.set_ylabel("test accuracy")
    ax.set_title(title + "\nbubble area = model size")
    ax.grid(alpha=0.3)
    legend = ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    for handle in legend.legend_handles:
        if hasattr(handle, "set_sizes"):
            handle.set_sizes([60])  # legend markers of one size: the chart shows the areas
    fig.tight_layout()
    save(fig, path)


def length_chart(cells: Sequence[CellRecord], path: Path, title: str) -> None:
    """p50 latency against input length (log-log), one line per cell."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    lengths: set[int] = set()
    for c in cells:
        if not c.length_p50_ms:
            continue
        xs = list(c.length_p50_ms)
        lengths.update(xs)
        ax.plot(xs, list(c.length_p50_ms.values()), marker="o", label=c.technique)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(sorted(lengths), [str(n) for n in sorted(lengths)])
    ax.set_xlabel("input length (tokens, special tokens included)")
    ax.set_ylabel("p50 latency, one query (ms)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, path)


# Said where a run left out the ungated scaling sweep (the per-merge gate does).
SCALING_LEFT_OUT = (
    "Scaling (latency by input length, throughput by batch size): not measured in this run "
    "(`--accel-no-scaling`); the main job, `accel run`, measures it."
)


def _settings_line(settings: Mapping[str, Any]) -> str:
    keys = ("model", "threads", "rounds", "block", "speedup_ci_level", "accel_version")
    return ", ".join(f"{k} {settings[k]}" for k in keys if k in settings)


def markdown(
    run: RunRecord,
    images: Mapping[str, list[str]],
    frontier: Mapping[str, list[str]] | None = None,
) -> str:
    """The report's Markdown; ``images`` and ``frontier`` map a device to its PNG file names
    (the frontier's charts go with the "Frontier" table)."""
    level = run.settings.get("speedup_ci_level")
    ci_head = f"speedup [{level:.0%} CI]" if isinstance(level, (int, float)) else "speedup [CI]"
    lines = ["# accel run report", "", f"Settings: {_settings_line(run.settings)}.", ""]
    if run.settings.get("scaling") is False:
        lines += [SCALING_LEFT_OUT, ""]
    measured = [c for c in run.cells if c.measured]
    rows = []
    for c in measured:
        ci = f" [{c.speedup_ci.low:.2f}-{c.speedup_ci.high:.2f}]" if c.speedup_ci else ""
        rows.append(
            (
                f"`{c.cell}`",
                f"{c.accuracy:.4f}",
                _size_text(c),
                f"{c.p50_ms:.2f}",
                f"{c.speedup:.2f}{ci}",
                c.verdict,
            )
        )
    rows += [(f"`{c.cell}`", "-", "-", "-", "-", c.verdict) for c in run.cells if not c.measured]
    lines += markdown_grid(("cell", "accuracy", "size MB", "p50 ms", ci_head, "verdict"), rows)
    lines += ["", *frontier_markdown(run.cells, frontier or {})]
    for device in _devices(measured):
        cells = [c for c in measured if c.device == device]
        lines += ["", f"## {device}", ""]
        for name in images.get(device, []):
            lines += [f"![{name}]({name})", ""]
        lengths = sorted({n for c in cells for n in c.length_p50_ms})
        if lengths:
            lines += ["", "p50 latency (ms) by input length (tokens):", ""]
            lines += markdown_grid(
                ("cell", *map(str, lengths)),
                [
                    (
                        f"`{c.cell}`",
                        *(
                            f"{c.length_p50_ms[n]:.2f}" if n in c.length_p50_ms else "-"
                            for n in lengths
                        ),
                    )
                    for c in cells
                ],
            )
        if compared(cells):
            lines += ["", "Behaviour against the reference (whole test split):", ""]
            lines += behaviour_table(compared(cells))
        batches = sorted({b for c in cells for b in c.throughput})
        if batches:
            lines += ["", "Throughput (sequences/s, test utterances) by batch size:", ""]
            lines += markdown_grid(
                ("cell", *(f"batch {b}" for b in batches)),
                [
                    (
                        f"`{c.cell}`",
                        *(f"{c.throughput[b]:,.0f}" if b in c.throughput else "-" for b in batches),
                    )
                    for c in cells
                ],
            )
    lines += scenario_markdown({c.cell: c.scenarios for c in measured if c.scenarios})
    text = "\n".join(lines)
    while "\n\n\n" in text:  # one blank line between blocks
        text = text.replace("\n\n\n", "\n\n")
    return text + "\n"


def write_report(run_json: Path, out: Path) -> list[Path]:
    """Write ``out/report.md`` and the plots from ``run_json``; return the files written."""
    run = RunRecord.read(run_json)
    measured = [c for c in run.cells if c.measured]
    if not measured:
        raise ReportError(f"{run_json}: field cells holds no measured cell to report")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    images: dict[str, list[str]] = {}
    for device in _devices(measured):
        cells = [c for c in measured if c.device == device]
        chart = out / f"accuracy-vs-latency-{device}.png"
        accuracy_chart(cells, chart, f"Accuracy against p50 latency ({device})")
        images.setdefault(device, []).append(chart.name)
        written.append(chart)
        if any(c.length_p50_ms for c in cells):
            sweep = out / f"latency-vs-length-{device}.png"
            length_chart(cells, sweep, f"p50 latency against input length ({device})")
            images[device].append(sweep.name)
            written.append(sweep)
        others = compared(cells)
        if others:
            agreement = out / f"agreement-vs-speedup-{device}.png"
            agreement_chart(others, agreement, f"Agreement with the reference ({device})")
            drops = out / f"class-drops-{device}.png"
            class_drop_chart(others, drops, f"Classes that lose most ({device})")
            images[device] += [agreement.name, drops.name]
            written += [agreement, drops]
        scenarios = {c.cell: c.scenarios for c in cells if c.scenarios}
        if scenarios:
            qps = out / f"server-qps-vs-p99-{device}.png"
            server_chart(scenarios, qps, f"LoadGen Server: QPS against p99 ({device})")
            images[device].append(qps.name)
            written.append(qps)
    frontier: dict[str, list[str]] = {}
    for device in frontier_devices(run.cells):
        charts = frontier_charts(cell_points(run.cells, device), out, device)
        frontier[device] = [p.name for p in charts]
        written += charts
    report = out / REPORT_NAME
    write_text_atomic(report, markdown(run, images, frontier))
    return [report, *written]
