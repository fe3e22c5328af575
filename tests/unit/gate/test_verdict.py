"""How a cell's two checks merge into its status and the table's verdict text."""

from __future__ import annotations

import pytest

from accel.gate.verdict import CellVerdict, Check, Status, errored, raised, skipped

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
