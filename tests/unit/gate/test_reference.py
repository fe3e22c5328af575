"""The reference-slowdown rule (accel.gate.reference) on hand-made verdicts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from accel.gate.baselines import Baseline
from accel.gate.compare import Row, RowVerdict
from accel.gate.metrics import Tolerance
from accel.gate.reference import MIN_CELLS, REFERENCE_SLOWDOWN, judge_reference, reference_drift
from accel.gate.verdict import CellVerdict, Check, Status
from tests.unit.reporting.fakes import cell_result

PASS = Check(Status.PASS, "pass")
MACHINE = {"cpu": "fake", "threads": 1, "device": "cpu", "gpu": None}


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return a.get("cpu") == b.get("cpu")


def _cell(cell: str, verdict: RowVerdict, note: str = "") -> CellVerdict:
    row = Row("speedup", 10.0, 8.0, Tolerance(rel=0.125), verdict, note)
    status = Status.BETTER if verdict == "better" else Status.PASS
    return CellVerdict(cell, PASS, Check(status, "pass", rows=(row,)))


def _reference(base_p50: float, cpu: str = "fake") -> CellVerdict:
    """fp32/cpu measured at 8 ms a call, against a baseline of ``base_p50`` ms."""
    against = Baseline(
        "fp32/cpu", {}, {"p50": base_p50}, {}, {}, MACHINE | {"cpu": cpu}, raw={}
    )
    return CellVerdict("fp32/cpu", PASS, PASS, cell_result("fp32/cpu", 1.0), against)


OTHERS = [_cell("ort-int8/cpu", "better"), _cell("ort-fp32/cpu", "better"),
          _cell("torch-int8/cpu", "ok")]


def test_a_slower_reference_and_most_cells_better_fail_the_reference() -> None:
    made = judge_reference(_reference(8.0 / 1.2), OTHERS, _same)  # reference 20% slower
    assert made.status is Status.FAIL and made.summary == "FAIL reference slowdown"
    assert "fp32/cpu's p50 is +20%" in made.baseline.message
    assert "2 of 3 latency-gated cells on cpu" in made.baseline.message
    assert made.contract is PASS


@pytest.mark.parametrize(
    ("reference", "others"),
    [
        (_reference(8.0 / (1 + REFERENCE_SLOWDOWN - 0.01)), OTHERS),  # within the threshold
        (_reference(8.0 / 1.2, cpu="other"), OTHERS),  # another machine: ms not comparable
        (_reference(8.0 / 1.2), OTHERS[1:]),  # 1 of 2 better: not most
        (_reference(8.0 / 1.2), OTHERS[:1]),  # one cell alone is not enough
        (_reference(8.0 / 1.2), [_cell("ort-int8/cpu", "better", "other GPU, not gated"),
                                 _cell("ort-fp32/cpu", "better", "other GPU, not gated")]),
        (_reference(8.0 / 1.2), [_cell("ort-int8/cuda", "better"),
                                 _cell("ort-fp32/cuda", "better")]),  # another device
    ],
)
def test_without_both_observations_the_reference_passes(
    reference: CellVerdict, others: list[CellVerdict]
) -> None:
    assert judge_reference(reference, others, _same) is reference
    assert MIN_CELLS == 2


def test_most_cells_better_alone_is_a_warning() -> None:
    (drift,) = reference_drift([_reference(8.0), *OTHERS], "fp32", _same)
    assert not drift.strong and drift.ratio == pytest.approx(1.0)
    assert drift.message().startswith("possible reference slowdown: 2 of 3 latency-gated cells")
    (drift,) = reference_drift(OTHERS, "fp32", _same)  # no reference cell in the run
    assert drift.ratio is None and "cannot be compared here" in drift.message()
    assert reference_drift(OTHERS[1:], "fp32", _same) == []


def test_a_failed_or_written_reference_is_left_as_it_is() -> None:
    failed = CellVerdict("fp32/cpu", PASS, Check(Status.FAIL, "FAIL size_mb"))
    assert judge_reference(failed, OTHERS, _same) is failed
