"""The frontier: each cell as ratios to the reference timed beside it, the Pareto fronts
(accuracy change against speedup, and against size ratio), the issue's 20x target and the
book's published points, as ratios to the book's own baseline only.

Pure functions and the report's "Frontier" table; the charts are in
:mod:`accel.reporting.frontier_chart`. Raw milliseconds never cross machines: every figure
here is a ratio to a reference measured on the same machine (the book's, to its own BERT-base).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from accel.reporting.schema import CellRecord
from accel.reporting.table import markdown_grid
from accel.techniques import REFERENCE

KEPT = ("pass", "better", "written")  # statuses on the frontier: fail, error, skipped left out
AXES = {"speedup": ("speedup", False), "size": ("size_ratio", True)}  # attribute, lower better

# The target, against the reference measured beside each cell.
TARGET_SPEEDUP = 20.0
TARGET_SIZE_RATIO = 1 / 6
TARGET_ACCURACY_CHANGE = -0.5  # points


@dataclass(frozen=True)
class FrontierPoint:
    """A cell (or a published model) as ratios to its reference."""

    cell: str  # technique/device, or a published model's name
    speedup: float  # the reference's latency over this one's
    size_ratio: float  # this size over the reference's
    accuracy_change: float  # this accuracy minus the reference's, in points

    @property
    def name(self) -> str:
        """The technique (the cell without its device)."""
        return self.cell.split("/")[0]


@dataclass(frozen=True)
class PublishedModel:
    """A model's figures as published, on the publisher's machine: only ratios leave it."""

    name: str
    accuracy: float
    latency_ms: float
    size_mb: float

    def against(self, baseline: PublishedModel) -> FrontierPoint:
        return FrontierPoint(
            self.name,
            baseline.latency_ms / self.latency_ms,
            self.size_mb / baseline.size_mb,
            (self.accuracy - baseline.accuracy) * 100,
        )


# Tunstall, von Werra and Wolf, "Natural Language Processing with Transformers" (O'Reilly,
# 2022), chapter 8, "Making Transformers Efficient in Production": BERT-base fine-tuned on
# CLINC150, and the distilled student quantized with ONNX Runtime, on the authors' hardware.
BOOK_BASELINE = PublishedModel("BERT-base", accuracy=0.867, latency_ms=54.2, size_mb=418.0)
BOOK_BEST = PublishedModel("distilled + ORT int8", accuracy=0.877, latency_ms=9.24, size_mb=64.2)
BOOK_LABEL = "book (NLP with Transformers, ch. 8), another machine: ratios to its BERT-base"


def book_points() -> list[FrontierPoint]:
    """The book's baseline (1x, 1x, 0 points) and its best model, as ratios to the baseline."""
    return [BOOK_BASELINE.against(BOOK_BASELINE), BOOK_BEST.against(BOOK_BASELINE)]


def _better(p: FrontierPoint, axis: str) -> float:
    """``p``'s value on ``axis``, signed so that larger is better."""
    attr, lower = AXES[axis]
    value: float = getattr(p, attr)
    return -value if lower else value


def dominates(a: FrontierPoint, b: FrontierPoint, axis: str) -> bool:
    """Whether ``a`` is at least as good as ``b`` on ``axis`` and accuracy, better on one."""
    ax, bx = _better(a, axis), _better(b, axis)
    ay, by = a.accuracy_change, b.accuracy_change
    return ax >= bx and ay >= by and (ax > bx or ay > by)


def pareto_front(points: Sequence[FrontierPoint], axis: str = "speedup") -> list[FrontierPoint]:
    """The points no other point dominates on ``axis`` (``speedup``: faster is better;
    ``size``: smaller is better) and accuracy change, ordered by the axis's value, smallest
    first. Equal points do not dominate each other: both stay."""
    if axis not in AXES:
        raise ValueError(f"axis must be one of {', '.join(AXES)}, got {axis!r}")
    front = [p for p in points if not any(dominates(q, p, axis) for q in points)]
    return sorted(front, key=lambda p: getattr(p, AXES[axis][0]))


def kept(c: CellRecord) -> bool:
    """Whether a cell goes on the frontier: measured, not failed nor skipped, positive ratios."""
    if not c.measured or c.status not in KEPT or c.reference is None:
        return False
    figures = (c.speedup, c.size_mb, c.reference.size_mb)
    return all(math.isfinite(v) and v > 0 for v in figures)


def reference_point(device: str) -> FrontierPoint:
    """The reference itself: 1x speed, 1x size, 0 points."""
    return FrontierPoint(f"{REFERENCE}/{device}", 1.0, 1.0, 0.0)


def cell_points(cells: Sequence[CellRecord], device: str) -> list[FrontierPoint]:
    """The reference, then every kept cell of ``device`` but the reference's own row (its A/A
    timing is noise around 1x), each against the reference measured beside it."""
    out = [reference_point(device)]
    for c in cells:
        if c.device == device and c.technique != REFERENCE and kept(c) and c.reference:
            change = (c.accuracy - c.reference.accuracy) * 100
            out.append(FrontierPoint(c.cell, c.speedup, c.size_mb / c.reference.size_mb, change))
    return out


def frontier_devices(cells: Sequence[CellRecord]) -> list[str]:
    """The devices with a kept cell besides the reference's row: those that have a frontier."""
    return list(dict.fromkeys(c.device for c in cells if c.technique != REFERENCE and kept(c)))


def target_misses(p: FrontierPoint) -> list[str]:
    """The parts of the issue's target ``p`` misses (empty: it meets it)."""
    misses = []
    if p.speedup < TARGET_SPEEDUP:
        misses.append(f"speedup {p.speedup:.2f}x < {TARGET_SPEEDUP:g}x")
    if p.size_ratio > TARGET_SIZE_RATIO:
        misses.append(f"size {p.size_ratio:.3f}x > 1/6")
    if p.accuracy_change < TARGET_ACCURACY_CHANGE:
        misses.append(f"accuracy {p.accuracy_change:+.2f} pt < {TARGET_ACCURACY_CHANGE:+g} pt")
    return misses


def target_text(p: FrontierPoint) -> str:
    """``yes``, or ``no: `` and the parts it misses."""
    misses = target_misses(p)
    return "yes" if not misses else "no: " + "; ".join(misses)


def frontier_markdown(cells: Sequence[CellRecord], images: Mapping[str, list[str]]) -> list[str]:
    """The report's "Frontier" section: a row per cell on a front, the charts, what is left out
    and the book's point; empty when no device has a cell to compare."""
    if not frontier_devices(cells):
        return []
    rows = []
    for device in frontier_devices(cells):
        pts = cell_points(cells, device)
        fronts = {axis: pareto_front(pts, axis) for axis in AXES}
        for p in pts:
            on = [axis for axis, front in fronts.items() if p in front]
            if on:
                label = f"`{p.cell}`" + (" (reference)" if p == pts[0] else "")
                rows.append(
                    (
                        label,
                        f"{p.speedup:.2f}x",
                        f"{p.size_ratio:.3f}x",
                        f"{p.accuracy_change:+.2f}",
                        ", ".join(on),
                        target_text(p),
                    )
                )
    header = ("cell", "speedup", "size ratio", "accuracy change, pt", "front", "20x target")
    lines = ["## Frontier", ""]
    lines += [
        "The cells on a Pareto front (no other cell of the device both more accurate and "
        "faster, or smaller), as ratios to the reference timed beside each; the target: "
        f">= {TARGET_SPEEDUP:g}x speedup, <= 1/6 size, >= {TARGET_ACCURACY_CHANGE:+g} points.",
        "",
        *markdown_grid(header, rows),
        "",
    ]
    for device in frontier_devices(cells):
        for name in images.get(device, []):
            lines += [f"![{name}]({name})", ""]
    left = [f"`{c.cell}` ({c.status})" for c in cells if not kept(c)]
    if left:
        lines += [f"Left out: {', '.join(left)}.", ""]
    best = book_points()[1]
    lines.append(
        f"For orientation only, {BOOK_LABEL}: {best.cell} at {best.speedup:.2f}x speedup, "
        f"{best.size_ratio:.3f}x size, {best.accuracy_change:+.1f} points."
    )
    return lines
