"""The frontier: Pareto fronts on both axes, the issue's target, the book's points as ratios,
and the report's frontier charts and table (single and merged runs)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from accel.cli import main
from accel.reporting.frontier import (
    FrontierPoint,
    book_points,
    cell_points,
    frontier_markdown,
    pareto_front,
    target_text,
)
from accel.reporting.measurements import Reference
from accel.reporting.report import write_report
from accel.reporting.schema import CellRecord
from tests.unit.reporting.fakes import SETTINGS, cell_record, latency, write_run

PNG = b"\x89PNG\r\n\x1a\n"


def _p(cell: str, speedup: float, size: float, change: float) -> FrontierPoint:
    return FrontierPoint(cell, speedup, size, change)


def _names(points: list[FrontierPoint]) -> list[str]:
    return [p.cell for p in points]


def test_a_single_point_is_its_own_front() -> None:
    only = _p("a", 2.0, 0.5, -0.1)
    assert pareto_front([only], "speedup") == [only]
    assert pareto_front([only], "size") == [only]
    assert pareto_front([]) == []


def test_dominated_points_leave_the_front_in_the_axis_order() -> None:
    points = [
        _p("ref", 1.0, 1.0, 0.0),
        _p("fast", 10.0, 0.8, -1.0),
        _p("slow-worse", 2.0, 0.9, -0.5),  # dominated by "mid" on both axes
        _p("mid", 4.0, 0.3, -0.2),
        _p("small", 3.0, 0.1, -2.0),
    ]
    assert _names(pareto_front(points, "speedup")) == ["ref", "mid", "fast"]
    assert _names(pareto_front(points, "size")) == ["small", "mid", "ref"]


def test_the_axes_differ_faster_is_better_and_smaller_is_better() -> None:
    big_fast = _p("big-fast", 8.0, 2.0, 0.0)
    small_slow = _p("small-slow", 0.5, 0.2, 0.0)
    assert pareto_front([big_fast, small_slow], "speedup") == [big_fast]
    assert pareto_front([big_fast, small_slow], "size") == [small_slow]


def test_ties() -> None:
    a, twin = _p("a", 4.0, 0.5, -0.3), _p("twin", 4.0, 0.5, -0.3)
    assert _names(pareto_front([a, twin])) == ["a", "twin"]  # equal points: both stay
    same_x_worse = _p("same-x-worse", 4.0, 0.5, -0.4)
    assert pareto_front([a, same_x_worse], "speedup") == [a]
    assert pareto_front([a, same_x_worse], "size") == [a]
    same_y_slower = _p("same-y-slower", 3.0, 0.6, -0.3)
    assert pareto_front([same_y_slower, a], "speedup") == [a]
    assert pareto_front([same_y_slower, a], "size") == [a]


def test_an_unknown_axis_is_an_error() -> None:
    with pytest.raises(ValueError, match="axis must be one of speedup, size"):
        pareto_front([], "latency")


def test_the_book_points_are_ratios_to_its_bert_base() -> None:
    base, best = book_points()
    assert (base.speedup, base.size_ratio, base.accuracy_change) == (1.0, 1.0, 0.0)
    assert best.cell == "distilled + ORT int8"
    assert best.speedup == pytest.approx(54.2 / 9.24) == pytest.approx(5.866, abs=1e-3)
    assert best.size_ratio == pytest.approx(64.2 / 418) == pytest.approx(0.1536, abs=1e-4)
    assert best.accuracy_change == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("point", "text"),
    [
        (_p("a", 20.0, 1 / 6, -0.5), "yes"),
        (_p("a", 25.0, 0.1, 0.3), "yes"),
        (_p("a", 6.5, 0.251, -0.27), "no: speedup 6.50x < 20x; size 0.251x > 1/6"),
        (_p("a", 22.0, 0.132, -0.87), "no: accuracy -0.87 pt < -0.5 pt"),
        (_p("a", 1.0, 1.0, -1.0), "no: speedup 1.00x < 20x; size 1.000x > 1/6; accuracy -1.00"),
    ],
)
def test_the_target_says_which_part_misses(point: FrontierPoint, text: str) -> None:
    assert target_text(point).startswith(text)


def _cells() -> list[CellRecord]:
    return [
        cell_record("fp32/cpu", 0.8647, 91.1, 11.0, 1.02),  # the A/A row: not a point
        cell_record("torch-int8/cpu", 0.8611, 58.7, 4.5, 2.6),
        cell_record("ort-int8/cpu", 0.862, 22.9, 1.7, 6.5),
        cell_record("tiny/cpu", 0.856, 12.0, 0.5, 22.0),
        cell_record("fast-bad/cpu", 0.7, 10.0, 0.4, 30.0, status="fail", verdict="FAIL contract"),
        CellRecord.unmeasured("bf16/cpu", "skipped", "skipped: no bf16", skip_reason="no bf16"),
        CellRecord.unmeasured("torch-compile/cpu", "error", "ERROR", ["boom"]),
        cell_record("ort-int8/cuda", 0.862, 22.9, 0.5, 4.0),
    ]


def test_cell_points_are_ratios_to_each_cells_own_reference() -> None:
    cells = _cells()
    # a cell from another shard: its own reference, measured beside it
    other = Reference(0.8700, 100.0, latency(10.0))
    cells[2] = dataclasses.replace(cells[2], reference=other)
    pts = cell_points(cells, "cpu")
    assert pts[0] == _p("fp32/cpu", 1.0, 1.0, 0.0)
    assert _names(pts) == ["fp32/cpu", "torch-int8/cpu", "ort-int8/cpu", "tiny/cpu"]
    ort = pts[2]
    assert ort.speedup == 6.5
    assert ort.size_ratio == pytest.approx(22.9 / 100.0)
    assert ort.accuracy_change == pytest.approx(-0.8)
    assert _names(cell_points(cells, "cuda")) == ["fp32/cuda", "ort-int8/cuda"]


def test_the_frontier_table() -> None:
    lines = frontier_markdown(_cells(), {"cpu": ["frontier-speedup-cpu.png"]})
    text = "\n".join(lines)
    assert lines[0] == "## Frontier"
    header = "| cell | speedup | size ratio | accuracy change, pt | front | 20x target |"
    assert header in text
    assert "| `fp32/cpu` (reference) | 1.00x | 1.000x | +0.00 | speedup, size | no: " in text
    assert (
        "| `ort-int8/cpu` | 6.50x | 0.251x | -0.27 | speedup, size | "
        "no: speedup 6.50x < 20x; size 0.251x > 1/6 |"
    ) in text
    assert "| `tiny/cpu` | 22.00x | 0.132x | -0.87 | speedup, size | no: accuracy" in text
    assert "torch-int8/cpu`" not in text.split("Left out")[0]  # dominated: not a row
    assert "| `ort-int8/cuda` | 4.00x | 0.251x | -0.27 | speedup, size |" in text
    left = "Left out: `fast-bad/cpu` (fail), `bf16/cpu` (skipped), `torch-compile/cpu` (error)."
    assert left in text
    assert "![frontier-speedup-cpu.png](frontier-speedup-cpu.png)" in text
    assert "another machine: ratios to its BERT-base" in text
    assert "5.87x speedup, 0.154x size, +1.0 points" in text
    assert " ms" not in text  # no raw milliseconds, the book's or ours


def test_the_report_writes_the_frontier_charts_and_table(tmp_path: Path) -> None:
    written = {p.name: p for p in write_report(write_run(tmp_path / "r.json", _cells()), tmp_path)}
    for device in ("cpu", "cuda"):
        for axis in ("speedup", "size"):
            chart = written[f"frontier-{axis}-{device}.png"]
            assert chart.read_bytes().startswith(PNG) and chart.stat().st_size > 10_000
    text = (tmp_path / "report.md").read_text()
    assert "## Frontier" in text and "| `tiny/cpu` | 22.00x | 0.132x | -0.87 |" in text
    assert "![frontier-size-cuda.png](frontier-size-cuda.png)" in text
    assert text.index("## Frontier") < text.index("## cpu")


def test_a_run_of_the_reference_alone_has_no_frontier(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r.json", [cell_record("fp32/cpu", 0.8647, 91.1, 11.0, 1.0)])
    names = {p.name for p in write_report(run, tmp_path / "out")}
    assert not any(n.startswith("frontier-") for n in names)
    assert "## Frontier" not in (tmp_path / "out" / "report.md").read_text()


def test_a_merged_run_has_its_frontier(tmp_path: Path) -> None:
    settings = SETTINGS | {"techniques": "fp32,ort-int8,tiny", "devices": "cpu"}
    one = [
        cell_record("fp32/cpu", 0.8647, 91.1, 11.0, 1.0),
        cell_record("tiny/cpu", 0.856, 12.0, 0.5, 22.0),
    ]
    two = [cell_record("ort-int8/cpu", 0.862, 22.9, 1.7, 6.5)]
    a = write_run(tmp_path / "shard-1.json", one, settings | {"shard": "1/2"})
    b = write_run(tmp_path / "shard-2.json", two, settings | {"shard": "2/2"})
    out = tmp_path / "out"
    assert main(["report", str(a), str(b), "--expect-shards", "2", "--out", str(out)]) == 0
    assert (out / "frontier-speedup-cpu.png").is_file() and (
        out / "frontier-size-cpu.png"
    ).is_file()
    text = (out / "report.md").read_text()
    assert "| `ort-int8/cpu` | 6.50x |" in text and "| `tiny/cpu` | 22.00x |" in text
