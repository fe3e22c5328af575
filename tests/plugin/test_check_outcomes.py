"""A check whose test raises before it records an outcome leaves no "pass" behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.plugin.test_plugin import ARGS, INNER_CONFTEST

pytest_plugins = ["pytester"]


def _cell(path: Path) -> dict[str, object]:
    (cell,) = json.loads(path.read_text())["cells"]
    return dict(cell)


def test_judging_the_baseline_raises_after_the_contract_passed(inner: pytest.Pytester) -> None:
    """A policy hook that calls pytest.fail() while the baseline is judged (the contract is
    judged first, and passes): both checks fail, and the cell is ERROR in the table and the
    JSON, not missing and not "pass"."""
    # With the reference's baseline: the hook is asked whether its machine is this one.
    with_reference = ("--accel-techniques=fp32,ort-int8", *ARGS[1:], "--accel-update-baselines")
    inner.runpytest(*with_reference).assert_outcomes(passed=4)
    inner.makeconftest(
        INNER_CONFTEST
        + """

def pytest_accel_same_machine(obtained, baseline):
    pytest.fail("cannot tell whether this is the baseline's machine")
"""
    )
    out = inner.path / "out.json"
    result = inner.runpytest(*ARGS, f"--accel-json={out}")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*ort-int8/cpu*ERROR*"])
    cell = _cell(out)
    assert cell["status"] == "error" and cell["verdict"] == "ERROR"
    assert "cannot tell whether this is the baseline's machine" in str(cell["reasons"])


def test_a_check_that_raises_while_reporting_is_error(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under -W error a check's warning raises in the test: the test fails, and the verdict
    must say so (it said "pass (warn: ...)")."""
    monkeypatch.setenv("FAKE_GPU", "NVIDIA A100-SXM4-40GB")
    inner.runpytest(*ARGS, "--accel-update-baselines").assert_outcomes(passed=2)
    monkeypatch.setenv("FAKE_GPU", "NVIDIA L4")
    monkeypatch.setenv("FAKE_SPEEDUP", "4.0")
    out = inner.path / "out.json"
    result = inner.runpytest(*ARGS, "-W", "error::UserWarning", f"--accel-json={out}")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*ort-int8/cpu*ERROR*"])
    cell = _cell(out)
    assert cell["status"] == "error"
    assert "UserWarning" in str(cell["reasons"])
