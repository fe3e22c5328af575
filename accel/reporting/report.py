"""A run's report for people: Markdown and PNG plots from the JSON that ``--accel-json`` writes.

Plots (matplotlib, Agg backend), one of each per device in the run:

* ``accuracy-vs-latency-<device>.png``: the book's chart, accuracy against p50 latency, one
  labelled bubble per cell, bubble area proportional to size, the reference's accuracy dashed;
* ``latency-vs-length-<device>.png``: p50 latency against input length, one line per cell.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accel.artifacts.cache import write_text_atomic
from accel.measure.scaling import LENGTH_PREFIX, THROUGHPUT_PREFIX

REPORT_NAME = "report.md"
BUBBLE_MAX_AREA = 2500.0  # points^2 of the largest cell's bubble


class ReportError(ValueError):
    """The run JSON is missing, not JSON, or lacks a field the report needs."""


@dataclass(frozen=True)
class CellFigures:
    """What the report shows of one measured cell."""

    cell: str
    verdict: str
    accuracy: float
    reference_accuracy: float
    size_mb: float
    p50_ms: float
    speedup: float
    speedup_ci: tuple[float, float] | None
    length_p50_ms: dict[int, float] = field(default_factory=dict)
    throughput: dict[int, float] = field(default_factory=dict)
    compressed_size_mb: float | None = None  # the sparse cells' compressed artifact

    @property
    def size_text(self) -> str:
        """The dense size, and the compressed artifact's where the cell has one."""
        if self.compressed_size_mb is None:
            return f"{self.size_mb:.1f}"
        return f"{self.size_mb:.1f} ({self.compressed_size_mb:.1f} compressed)"

    @property
    def technique(self) -> str:
        return self.cell.split("/")[0]

    @property
    def device(self) -> str:
        return self.cell.split("/")[-1]


@dataclass(frozen=True)
class Run:
    """A parsed run: its settings, its measured cells, and cells without measurements."""

    settings: dict[str, Any]
    cells: list[CellFigures]
    unmeasured: list[tuple[str, str]]  # (cell, verdict), e.g. an ERROR while building

    @property
    def devices(self) -> list[str]:
        return list(dict.fromkeys(c.device for c in self.cells))


def _field(path: Path, data: Mapping[str, Any], dotted: str, where: str) -> Any:
    value: Any = data
    for key in dotted.split("."):
        if not isinstance(value, Mapping) or key not in value:
            raise ReportError(f"{path}: missing field {where}{dotted}")
        value = value[key]
    return value


def _number(path: Path, data: Mapping[str, Any], dotted: str, where: str) -> float:
    value = _field(path, data, dotted, where)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ReportError(f"{path}: field {where}{dotted} must be a finite number, got {value!r}")
    return float(value)


def _keyed(reported: Mapping[str, Any], prefix: str) -> dict[int, float]:
    out = {}
    for key, value in reported.items():
        suffix = key.removeprefix(prefix)
        if key.startswith(prefix) and suffix.isdigit() and isinstance(value, (int, float)):
            out[int(suffix)] = float(value)
    return dict(sorted(out.items()))


def read_run(path: Path) -> Run:
    """Parse and validate a run JSON; errors name the file and the field."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file (write one with pytest --accel-json)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise ReportError(f"{path}: expected a JSON object with fields run and cells")
    settings = _field(path, raw, "run", "")
    cells_raw = _field(path, raw, "cells", "")
    if not isinstance(settings, dict):
        raise ReportError(f"{path}: field run must be an object")
    if not isinstance(cells_raw, list):
        raise ReportError(f"{path}: field cells must be a list")
    cells, unmeasured = [], []
    for i, item in enumerate(cells_raw):
        where = f"cells[{i}]."
        if not isinstance(item, dict):
            raise ReportError(f"{path}: field cells[{i}] must be an object")
        name = _field(path, item, "cell", where)
        verdict = str(item.get("verdict", "-"))
        if not isinstance(name, str) or "/" not in name:
            raise ReportError(f"{path}: field {where}cell must be like 'ort-int8/cpu'")
        if "metrics" not in item:  # a cell that could not be measured: listed, not plotted
            unmeasured.append((name, verdict))
            continue
        ci = item.get("speedup_ci")
        interval = None
        if ci is not None:
            interval = (
                _number(path, item, "speedup_ci.low", where),
                _number(path, item, "speedup_ci.high", where),
            )
        reported = item.get("reported") or {}
        if not isinstance(reported, dict):
            raise ReportError(f"{path}: field {where}reported must be an object")
        cells.append(
            CellFigures(
                cell=name,
                verdict=verdict,
                accuracy=_number(path, item, "metrics.accuracy", where),
                reference_accuracy=_number(path, item, "reference.accuracy", where),
                size_mb=_number(path, item, "metrics.size_mb", where),
                p50_ms=_number(path, item, "metrics.latency_ms.p50", where),
                speedup=_number(path, item, "metrics.speedup", where),
                speedup_ci=interval,
                length_p50_ms=_keyed(reported, LENGTH_PREFIX),
                throughput=_keyed(reported, THROUGHPUT_PREFIX),
                compressed_size_mb=(
                    _number(path, item, "metrics.compressed_size_mb", where)
                    if "compressed_size_mb" in (item.get("metrics") or {})
                    else None
                ),
            )
        )
    return Run(settings, cells, unmeasured)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def accuracy_chart(cells: Sequence[CellFigures], path: Path, title: str) -> None:
    """Accuracy against p50 latency; bubble area proportional to size; reference dashed.

    Cells often share the reference's accuracy and sit close together, so each bubble is
    labelled through the legend (its colour, technique and size) rather than beside it.
    """
    plt = _pyplot()
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
    _save(fig, path)
    plt.close(fig)


def length_chart(cells: Sequence[CellFigures], path: Path, title: str) -> None:
    """p50 latency against input length (log-log), one line per cell."""
    plt = _pyplot()
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
    _save(fig, path)
    plt.close(fig)


def _save(fig: Any, path: Path) -> None:
    """Save a figure through a temporary file and an atomic rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fig.savefig(tmp, format="png")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def _settings_line(settings: Mapping[str, Any]) -> str:
    keys = ("model", "threads", "rounds", "block", "speedup_ci_level", "accel_version")
    return ", ".join(f"{k} {settings[k]}" for k in keys if k in settings)


def markdown(run: Run, images: Mapping[str, list[str]]) -> str:
    """The report's Markdown; ``images`` maps a device to its PNG file names."""
    level = run.settings.get("speedup_ci_level")
    ci_head = f"speedup [{level:.0%} CI]" if isinstance(level, (int, float)) else "speedup [CI]"
    lines = ["# accel run report", "", f"Settings: {_settings_line(run.settings)}.", ""]
    rows = []
    for c in run.cells:
        ci = f" [{c.speedup_ci[0]:.2f}-{c.speedup_ci[1]:.2f}]" if c.speedup_ci else ""
        rows.append(
            (
                f"`{c.cell}`",
                f"{c.accuracy:.4f}",
                c.size_text,
                f"{c.p50_ms:.2f}",
                f"{c.speedup:.2f}{ci}",
                c.verdict,
            )
        )
    rows += [(f"`{name}`", "-", "-", "-", "-", verdict) for name, verdict in run.unmeasured]
    lines += _table(("cell", "accuracy", "size MB", "p50 ms", ci_head, "verdict"), rows)
    for device in run.devices:
        cells = [c for c in run.cells if c.device == device]
        lines += ["", f"## {device}", ""]
        for name in images.get(device, []):
            lines += [f"![{name}]({name})", ""]
        lengths = sorted({n for c in cells for n in c.length_p50_ms})
        if lengths:
            lines += ["", "p50 latency (ms) by input length (tokens):", ""]
            lines += _table(
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
        batches = sorted({b for c in cells for b in c.throughput})
        if batches:
            lines += ["", "Throughput (sequences/s, test utterances) by batch size:", ""]
            lines += _table(
                ("cell", *(f"batch {b}" for b in batches)),
                [
                    (
                        f"`{c.cell}`",
                        *(f"{c.throughput[b]:,.0f}" if b in c.throughput else "-" for b in batches),
                    )
                    for c in cells
                ],
            )
    text = "\n".join(lines)
    while "\n\n\n" in text:  # one blank line between blocks
        text = text.replace("\n\n\n", "\n\n")
    return text + "\n"


def write_report(run_json: Path, out: Path) -> list[Path]:
    """Write ``out/report.md`` and the plots from ``run_json``; return the files written."""
    run = read_run(run_json)
    if not run.cells:
        raise ReportError(f"{run_json}: field cells holds no measured cell to report")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    images: dict[str, list[str]] = {}
    for device in run.devices:
        cells = [c for c in run.cells if c.device == device]
        chart = out / f"accuracy-vs-latency-{device}.png"
        accuracy_chart(cells, chart, f"Accuracy against p50 latency ({device})")
        images.setdefault(device, []).append(chart.name)
        written.append(chart)
        if any(c.length_p50_ms for c in cells):
            sweep = out / f"latency-vs-length-{device}.png"
            length_chart(cells, sweep, f"p50 latency against input length ({device})")
            images[device].append(sweep.name)
            written.append(sweep)
    report = out / REPORT_NAME
    write_text_atomic(report, markdown(run, images))
    return [report, *written]
