"""Cells this machine cannot run: listed everywhere with their reason, failed when required,
and an error (not a skip) when detecting it raises."""

from __future__ import annotations

import json

import pytest

from tests.plugin.test_plugin import INNER_CONFTEST, INNER_TEST

pytest_plugins = ["pytester"]

# bf16/cpu cannot run: the CPU has no bfloat16 flag (detection patched; no hardware needed).
NO_BF16 = """
from accel.measure import capabilities

_real_flags = capabilities.cpu_flags


def pytest_configure(config):
    capabilities.cpu_flags = lambda: frozenset({"avx2"})


def pytest_unconfigure(config):
    capabilities.cpu_flags = _real_flags
"""
BF16 = ("--accel-techniques=bf16", "--accel-device=cpu", "-p", "no:cacheprovider")
REASON = "needs a CPU with native bfloat16 instructions"


@pytest.fixture()
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("ACCEL_REQUIRE", raising=False)
    pytester.makeconftest(INNER_CONFTEST + NO_BF16)
    pytester.makepyfile(test_gate=INNER_TEST)
    return pytester


def test_a_skipped_cell_is_in_the_table_the_summary_and_the_json(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even when every selected cell is skipped (a GPU job on a machine without one)."""
    summary, out = inner.path / "summary.md", inner.path / "out.json"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = inner.runpytest(*BF16, f"--accel-json={out}")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*accel comparison table*", f"*bf16/cpu*skipped: {REASON}*"])
    assert f"| bf16/cpu | - | - | - | - | skipped: {REASON}" in summary.read_text()
    (cell,) = json.loads(out.read_text())["cells"]
    assert cell["status"] == "skipped" and cell["skip_reason"].startswith(REASON)
    assert cell["verdict"].startswith(f"skipped: {REASON}")


def test_a_deselected_skipped_cell_is_left_out(inner: pytest.Pytester) -> None:
    out = inner.path / "out.json"
    args = ("--accel-techniques=bf16,ort-int8", "--accel-device=cpu", f"--accel-json={out}")
    inner.runpytest(*args, "-k", "not bf16", "--accel-update-baselines").assert_outcomes(passed=2)
    assert [c["cell"] for c in json.loads(out.read_text())["cells"]] == ["ort-int8/cpu"]


@pytest.mark.parametrize(
    "require",
    [("--accel-require=bf16/cpu",), ("--accel-require=bf16",), ("--accel-require=fp32,all",)],
)
def test_a_required_cell_that_cannot_run_fails(
    inner: pytest.Pytester, require: tuple[str, ...]
) -> None:
    out = inner.path / "out.json"
    result = inner.runpytest(*BF16, *require, f"--accel-json={out}")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            f"bf16/cpu is required (--accel-require / $ACCEL_REQUIRE) but cannot run on this "
            f"machine: {REASON}*",
            "Fix: run the gate on a machine that provides what is missing, or remove bf16/cpu*",
            f"*bf16/cpu*FAIL required, cannot run here: {REASON}*",
        ]
    )
    (cell,) = json.loads(out.read_text())["cells"]
    assert cell["status"] == "fail" and cell["reasons"][0].startswith("required, cannot run")


def test_the_environment_variable_requires_too(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCEL_REQUIRE", "bf16/cpu")
    inner.runpytest(*BF16).assert_outcomes(failed=2)
    monkeypatch.setenv("ACCEL_REQUIRE", "ort-int8")  # another cell: bf16/cpu skips as before
    inner.runpytest(*BF16).assert_outcomes(skipped=2)


def test_a_required_cell_that_can_run_is_judged_as_usual(inner: pytest.Pytester) -> None:
    args = ("--accel-techniques=ort-int8", "--accel-device=cpu", "--accel-require=ort-int8/cpu")
    inner.runpytest(*args, "--accel-update-baselines").assert_outcomes(passed=2)
    inner.runpytest(*args).assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("value", "source"),
    [("--accel-require=bf17", "--accel-require"), ("--accel-require=torch-int8/cuda", None)],
)
def test_an_unknown_required_name_is_a_usage_error(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str, source: str | None
) -> None:
    if source is None:  # through the environment
        monkeypatch.setenv("ACCEL_REQUIRE", value.split("=")[1])
        value, source = "--accel-require=fp32", "$ACCEL_REQUIRE"
    result = inner.runpytest(*BF16, value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"*{source}: unknown cell or technique*valid: all, *ort-int8/cpu*"]
    )


def test_a_capability_check_that_raises_is_the_cells_error_not_a_skip(
    inner: pytest.Pytester,
) -> None:
    """A detection bug (here: reading the CPU flags raises) must not become a permanent skip,
    nor stop the whole session: the cell errors with the traceback, the others run."""
    broken = 'def broken():\n    raise KeyError("flags")\n\n\ndef pytest_configure'
    conftest = NO_BF16.replace('lambda: frozenset({"avx2"})', "broken", 1)
    inner.makeconftest(INNER_CONFTEST + conftest.replace("def pytest_configure", broken, 1))
    out = inner.path / "out.json"
    args = ("--accel-techniques=bf16,ort-int8", "--accel-device=cpu", f"--accel-json={out}")
    result = inner.runpytest(*args, "--accel-update-baselines")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*KeyError: 'flags'*", "*bf16/cpu*ERROR*"])
    status = {c["cell"]: c["status"] for c in json.loads(out.read_text())["cells"]}
    assert status == {"bf16/cpu": "error", "ort-int8/cpu": "written"}


def test_a_cell_the_model_family_cannot_run_is_skipped_naming_the_family(
    inner: pytest.Pytester,
) -> None:
    """Decided from the checkpoint's config alone, before any model is loaded."""
    model = inner.path / "distil"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "distilbert"}))
    out = inner.path / "out.json"
    args = ("--accel-techniques=pruned-structured", "--accel-device=cpu", f"--accel-model={model}")
    result = inner.runpytest(*args, f"--accel-json={out}", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=2)
    reason = "pruned-structured does not support the distilbert family: structured pruning"
    result.stdout.fnmatch_lines(["*pruned-structured/cpu*skipped: pruned-structured does not*"])
    (cell,) = json.loads(out.read_text())["cells"]
    assert cell["status"] == "skipped" and cell["skip_reason"].startswith(reason)
