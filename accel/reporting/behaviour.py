"""The report's behaviour section: agreement against speedup, the classes that lose most, and
a table of every cell's behaviour figures (from the run JSON's ``behaviour`` objects)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from accel.reporting.plotting import pyplot, save
from accel.reporting.schema import CellRecord
from accel.reporting.table import markdown_grid
from accel.techniques import REFERENCE

DROP_CELLS = 4  # the cells whose worst class drops most, in the per-class chart


def compared(cells: Sequence[CellRecord]) -> list[CellRecord]:
    """The measured cells with behaviour figures, the reference (agreement 1, no flips) aside."""
    return [
        c
        for c in cells
        if c.measured
        and c.behaviour
        and c.behaviour.get("flips_to_wrong") is not None
        and c.technique != REFERENCE
    ]


def agreement_chart(cells: Sequence[CellRecord], path: Path, title: str) -> None:
    """Top-1 agreement with the reference against speedup, one labelled point per cell."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    for c in cells:
        agreement = float((c.behaviour or {})["agreement"])
        ax.scatter(c.speedup, agreement, s=40, zorder=3)
        ax.annotate(
            c.technique,
            (c.speedup, agreement),
            textcoords="offset points",
            xytext=(5, 4),
            fontsize=8,
        )
    ax.set_xscale("log")
    ax.set_xlabel("speedup over the reference (log scale)")
    ax.set_ylabel("top-1 agreement with the reference")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    save(fig, path)


def class_drop_chart(cells: Sequence[CellRecord], path: Path, title: str) -> None:
    """The worst classes of the ``DROP_CELLS`` cells whose worst class drops most: each
    class's accuracy drop against the reference, in points."""
    worst = sorted(cells, key=lambda c: -float((c.behaviour or {}).get("worst_class_drop") or 0))
    worst = worst[:DROP_CELLS]
    plt = pyplot()
    fig, axes = plt.subplots(1, len(worst), figsize=(4 * len(worst), 4.5), dpi=120, squeeze=False)
    for ax, c in zip(axes[0], worst, strict=True):
        classes = (c.behaviour or {}).get("worst_classes", [])
        names = [k["name"] for k in classes][::-1]
        drops = [(k["reference"] - k["accuracy"]) * 100 for k in classes][::-1]
        ax.barh(names, drops, color="tab:red")
        ax.set_title(c.technique, fontsize=9)
        ax.set_xlabel("accuracy drop vs reference (points)")
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle(title)
    fig.tight_layout()
    save(fig, path)


def _figure(value: object, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, (int, float)) else "-"


def behaviour_table(cells: Sequence[CellRecord]) -> list[str]:
    """Markdown: each cell's agreement, flips, KL, ECE, worst class and accuracy change."""
    rows = []
    for c in cells:
        b = c.behaviour or {}
        low, high = b["accuracy_change_ci"]
        worst = (b.get("worst_classes") or [{}])[0]
        rows.append(
            (
                f"`{c.cell}`",
                _figure(b["agreement"], ".4f"),
                f"{b['flips_to_wrong']} / {b['flips_to_right']}",
                _figure(b.get("kl_mean"), ".4f"),
                _figure(b.get("ece"), ".4f"),
                f"{worst.get('name', '-')} {_figure(b.get('worst_class_drop'), '+.3f')}",
                f"{b['accuracy_change'] * 100:+.2f} [{low * 100:+.2f}, {high * 100:+.2f}]",
                f"{b['mcnemar_p']:.2g}",
            )
        )
    header = (
        "cell",
        "agreement",
        "flips right->wrong / wrong->right",
        "KL (nats)",
        "ECE",
        "worst class, drop",
        "accuracy change, pt [90% CI]",
        "McNemar p",
    )
    return markdown_grid(header, rows)
