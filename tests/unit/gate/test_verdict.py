"""How a cell's two checks merge into its status and the table's verdict text."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from accel.gate.baselines import read_baseline, render_baseline, write_baseline
from accel.gate.contracts import Contract
from accel.gate.verdict import CellVerdict, Check, Status, errored, judge, raised, skipped
from accel.measure.machine import latency_incomparable, same_machine
from tests.unit.reporting.fakes import cell_result

PASS = Check(Status.PASS, "pass")
UNDECIDED = Check(Status.PASS, "pass (undecided: within noise)", warning="undecided")
BETTER = Check(Status.BETTER, "pass (better: speedup)")
WRITTEN = Check(Status.WRITTEN, "baseline written")
BROKEN = Check(Status.FAIL, "FAIL contract", "broken", ("speedup 1.5x < 2x",))
WORSE = Check(Status.FAIL, "FAIL accuracy", "regressed", ("accuracy",))
ERROR = Check(Status.ERROR, "ERROR", "boom", ("RuntimeError: boom",))


@pytest.mark.parametrize(
    ("contract", "baseline", "status", "summary"),
    [
        (PASS, PASS, Status.PASS, "pass"),
        (PASS, BETTER, Status.BETTER, "pass (better: speedup)"),
        (UNDECIDED, PASS, Status.PASS, "pass; contract pass (undecided: within noise)"),
        (UNDECIDED, BETTER, Status.BETTER,
         "pass (better: speedup); contract pass (undecided: within noise)"),
        (PASS, WRITTEN, Status.WRITTEN, "baseline written"),
        (UNDECIDED, WRITTEN, Status.WRITTEN,
         "baseline written; contract pass (undecided: within noise)"),
        (BROKEN, PASS, Status.FAIL, "FAIL contract"),
        (BROKEN, BETTER, Status.FAIL, "FAIL contract"),
        (BROKEN, WRITTEN, Status.FAIL, "FAIL contract"),
        (PASS, WORSE, Status.FAIL, "FAIL accuracy"),
        (UNDECIDED, WORSE, Status.FAIL, "FAIL accuracy"),
        (BROKEN, WORSE, Status.FAIL, "FAIL contract; FAIL accuracy"),
        (ERROR, PASS, Status.ERROR, "ERROR"),
        (PASS, ERROR, Status.ERROR, "ERROR"),
        (ERROR, BETTER, Status.ERROR, "ERROR"),
        (BROKEN, ERROR, Status.ERROR, "FAIL contract; ERROR"),
        (ERROR, WORSE, Status.ERROR, "ERROR; FAIL accuracy"),
        (ERROR, ERROR, Status.ERROR, "ERROR"),
    ],
)
def test_status_and_summary(
    contract: Check, baseline: Check, status: Status, summary: str
) -> None:
    made = CellVerdict("ort-int8/cpu", contract, baseline)
    assert made.status is status
    assert made.summary == summary
    assert made.status.failed == (status in (Status.FAIL, Status.ERROR))
    assert set(made.reasons) == set(contract.reasons + baseline.reasons)


def test_skipped_and_errored_cells() -> None:
    made = skipped("bf16/cpu", "no bf16 instructions")
    assert made.status is Status.SKIPPED and not made.status.failed
    assert made.summary == "skipped: no bf16 instructions"
    assert made.reasons == ("no bf16 instructions",)
    made = errored("ort-int8/cpu", RuntimeError("no graph"))
    assert made.status is Status.ERROR and made.summary == "ERROR"
    assert made.reasons == ("RuntimeError: no graph",)  # once, not once per check


def test_a_check_that_raised_is_error_whatever_the_other_said() -> None:
    traceback = "Traceback ...\n  ...\nE   RuntimeError: same_machine broke\n"
    made = raised(CellVerdict("fp32/cpu", PASS, BETTER), "fp32/cpu", "baseline", traceback)
    assert made.status is Status.ERROR and made.summary == "ERROR"
    assert made.contract is PASS and made.baseline.status is Status.ERROR
    assert made.baseline.message == traceback
    assert made.reasons == ("E   RuntimeError: same_machine broke",)
    made = raised(CellVerdict("fp32/cpu", PASS, WRITTEN), "fp32/cpu", "contract", traceback)
    assert made.status is Status.ERROR and made.baseline is WRITTEN
    # nothing recorded yet: both checks are ERROR
    made = raised(None, "fp32/cpu", "contract", traceback)
    assert made.contract.status is made.baseline.status is Status.ERROR
    # a check that already failed keeps its own verdict (its test failed because it failed)
    failing = CellVerdict("fp32/cpu", PASS, WORSE)
    assert raised(failing, "fp32/cpu", "baseline", traceback) is failing


def _on_machine(tmp_path: Path, isa: list[str], contract: Contract) -> CellVerdict:
    """ort-int8 at 8x judged against its baseline, the run's machine having ``isa``."""
    result = cell_result("ort-int8/cpu")
    path = tmp_path / "cpu" / "ort-int8.json"
    base_machine = result.machine | {"isa": ["avx2", "avx512_vnni"]}
    write_baseline(path, render_baseline(
        "ort-int8/cpu", result.metrics(), result.timing.cell.as_dict(), result.provenance(),
        base_machine, created="2026-12-01T00:00:00+00:00", accel_version="0",
    ))  # fmt: skip
    result = replace(result, machine=result.machine | {"isa": isa})
    return judge(
        result, contract, read_baseline(path), path,
        same_machine=same_machine, latency_incomparable=latency_incomparable,
    )  # fmt: skip


def test_a_speed_floor_broken_on_other_instruction_sets_warns(tmp_path: Path) -> None:
    """Speed floors are promises on the baseline's kernels; the other promises stay gated."""
    floor = Contract(min_speedup=10.0)
    same = _on_machine(tmp_path, ["avx2", "avx512_vnni"], floor).contract
    assert (same.status, same.summary) == (Status.FAIL, "FAIL contract")
    other = _on_machine(tmp_path, ["avx2", "avx512_vnni", "amx_int8"], floor).contract
    assert other.status is Status.PASS
    assert other.summary == "pass (warn: speedup floor on other instruction sets)"
    assert "speedup" in other.warning and "the speed floor only warns" in other.warning
    both = _on_machine(tmp_path, ["amx_int8"], replace(floor, max_size_ratio=0.1)).contract
    assert both.status is Status.FAIL and "size" in both.message
    assert "the speed floor only warns" in both.message
    met = _on_machine(tmp_path, ["amx_int8"], Contract(min_speedup=2.0)).contract
    assert (met.status, met.summary) == (Status.PASS, "pass")
