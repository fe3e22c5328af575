"""The comparison table's behaviour lines: the accuracy change with its interval and
McNemar's verdict, the flips each way, the worst class, what a cell lacks."""

from __future__ import annotations

from accel.gate.verdict import CellVerdict, Check, Status
from accel.reporting.table import markdown_table, terminal_table
from tests.unit.reporting.fakes import cell_result


def _verdict(cell: str, lost: int | None) -> CellVerdict:
    passed = Check(Status.PASS, "pass")
    return CellVerdict(cell, passed, passed, cell_result(cell, lost=lost))


def test_each_compared_cell_gets_a_behaviour_line() -> None:
    verdicts = [_verdict("fp32/cpu", 0), _verdict("ort-int8/cpu", 1), _verdict("distilled/cpu", 12)]
    text = terminal_table(verdicts, "title")
    assert "behaviour against the reference (same test utterances):" in text
    lines = [line.strip() for line in text.splitlines()]
    int8 = next(line for line in lines if line.startswith("ort-int8/cpu: accuracy "))
    assert "accuracy 0.9833 [0.9" in int8 and "], -1.67 pt vs reference" in int8
    assert "(within noise)" in int8
    assert "flips 1 right->wrong, 0 wrong->right" in int8
    assert "worst class a 0.967 vs 1.000 (n=30)" in int8
    assert "lacks kl_mean: the predictor gives no class probabilities" in int8
    distilled = next(line for line in lines if line.startswith("distilled/cpu: accuracy "))
    assert "(a real change)" in distilled
    assert not any(line.startswith("fp32/cpu: accuracy ") for line in lines)
    assert "-20.00 pt vs reference" in markdown_table(verdicts, "title")


def test_cells_without_behaviour_get_no_line() -> None:
    assert "behaviour against" not in terminal_table([_verdict("ort-int8/cpu", None)], "title")
