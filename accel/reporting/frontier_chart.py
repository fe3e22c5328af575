"""The frontier's charts: accuracy change against speedup, and against size ratio (log x), each
cell a labelled point, the Pareto front a step line, the issue's target shaded and the book's
points hollow (:mod:`accel.reporting.frontier`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from accel.reporting.frontier import (
    AXES,
    BOOK_LABEL,
    TARGET_ACCURACY_CHANGE,
    TARGET_SIZE_RATIO,
    TARGET_SPEEDUP,
    FrontierPoint,
    book_points,
    pareto_front,
)
from accel.reporting.plotting import pyplot, save

X_LABELS = {
    "speedup": "speedup over the reference (log scale; faster to the right)",
    "size": "size ratio to the reference (log scale; smaller to the left)",
}
TICKS = (0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200)


def _xy(points: list[FrontierPoint], axis: str) -> tuple[list[float], list[float]]:
    """The points' x (on ``axis``) and y (accuracy change) coordinates, for matplotlib."""
    return [_x(p, axis) for p in points], [p.accuracy_change for p in points]


def _x(p: FrontierPoint, axis: str) -> float:
    value: float = getattr(p, AXES[axis][0])
    return value


def frontier_chart(points: Sequence[FrontierPoint], axis: str, path: Path, title: str) -> None:
    """Accuracy change (points) against ``axis`` (``speedup`` or ``size``); ``points[0]`` is
    the reference, at (1x, 0 points)."""
    plt = pyplot()
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    fig, ax = plt.subplots(figsize=(10, 5.5), dpi=120)
    front = pareto_front(points, axis)
    book = book_points()
    target_x = TARGET_SPEEDUP if axis == "speedup" else TARGET_SIZE_RATIO
    xs = [_x(p, axis) for p in [*points, *book]] + [target_x]
    ys = [p.accuracy_change for p in [*points, *book]] + [TARGET_ACCURACY_CHANGE]
    lo, hi = min(xs) / 1.6, max(xs) * 1.6
    pad = max(0.5, (max(ys) - min(ys)) * 0.15)
    bottom, top = min(ys) - pad, max(ys) + pad

    ax.fill_between(
        [target_x, hi] if axis == "speedup" else [lo, target_x],
        TARGET_ACCURACY_CHANGE,
        top,
        color="tab:green",
        alpha=0.08,
        label=f"target: >= {TARGET_SPEEDUP:g}x speedup, <= 1/6 size,\n"
        f">= {TARGET_ACCURACY_CHANGE:+g} points",
        zorder=1,
    )
    ax.axhline(0, color="gray", linewidth=0.8, zorder=2)
    ax.axvline(1, color="gray", linewidth=0.8, zorder=2)
    ax.step(
        *_xy(front, axis),
        where="post" if AXES[axis][1] else "pre",
        color="tab:blue",
        linewidth=1.5,
        label="Pareto front (this run)",
        zorder=3,
    )
    others = [p for p in points[1:] if p not in front]
    ax.scatter(
        *_xy(others, axis),
        s=30,
        color="lightgray",
        edgecolors="gray",
        label="cell, dominated",
        zorder=4,
    )
    on = [p for p in points[1:] if p in front]
    ax.scatter(
        *_xy(on, axis),
        s=60,
        color="tab:blue",
        edgecolors="black",
        label="cell, on the front",
        zorder=5,
    )
    ref = points[0]
    ax.scatter(
        [_x(ref, axis)], [0.0], s=140, marker="*", color="black", label="reference", zorder=6
    )
    ax.plot(
        *_xy(book, axis),
        linestyle=":",
        marker="D",
        markersize=8,
        markerfacecolor="none",
        color="tab:red",
        label=BOOK_LABEL.replace(", another", ",\nanother"),
        zorder=5,
    )
    for p in points:
        text = f"{p.name} (reference)" if p is ref else p.name
        ax.annotate(
            text,
            (_x(p, axis), p.accuracy_change),
            textcoords="offset points",
            xytext=(5, 5),
            fontsize=8,
        )
    for p, offset, align in zip(book, ((-6, -12), (6, 4)), ("right", "left"), strict=True):
        ax.annotate(
            f"book: {p.cell}",
            (_x(p, axis), p.accuracy_change),
            ha=align,
            textcoords="offset points",
            xytext=offset,
            fontsize=8,
            color="tab:red",
        )
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(bottom, top)
    ax.xaxis.set_major_locator(FixedLocator([t for t in TICKS if lo <= t <= hi]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(X_LABELS[axis])
    ax.set_ylabel("accuracy change vs the reference (points)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    save(fig, path)


def frontier_charts(points: Sequence[FrontierPoint], out: Path, device: str) -> list[Path]:
    """``frontier-speedup-<device>.png`` and ``frontier-size-<device>.png`` under ``out``."""
    written = []
    for axis, what in (("speedup", "speedup"), ("size", "size ratio")):
        path = out / f"frontier-{axis}-{device}.png"
        frontier_chart(points, axis, path, f"Frontier: accuracy against {what} ({device})")
        written.append(path)
    return written
