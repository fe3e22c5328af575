"""The installed plugin costs nothing to a project that does not use it."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

HEAVY = ("torch", "transformers", "onnxruntime", "datasets")


@pytest.mark.parametrize(
    "module",
    ["accel.plugin.hooks", "accel.gate.verdict", "accel.reporting.schema", "accel.techniques"],
)
def test_importing_loads_no_heavy_library(module: str) -> None:
    code = (
        f"import sys, {module}; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules) or 'none')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "none", f"importing {module} imported {out}"


def test_a_project_without_the_gate_runs_as_if_accel_were_absent(
    pytester: pytest.Pytester,
) -> None:
    """Its tests pass, nothing heavy is imported, no table, no JSON, no registry loaded."""
    pytester.makepyfile(
        test_plain=f"""
import sys

def test_plain(request):
    assert request.config.pluginmanager.has_plugin("accel")  # installed, hence loaded
    assert not [m for m in {HEAVY!r} if m in sys.modules]
    state = request.config.pluginmanager.get_plugin("accel_state")
    assert "registry" not in vars(state) and "matrix" not in vars(state)
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "accel comparison table" not in result.stdout.str()
    assert "accel results written" not in result.stdout.str()
    assert not list(pytester.path.rglob("*.json"))


def test_the_same_machine_hook_decides_for_the_default_rule(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
def pytest_accel_same_machine(obtained, baseline):
    if obtained.get("cpu") == "pinned":
        return True
"""
    )
    pytester.makepyfile(
        test_policy="""
def test_policy(accel_state):
    assert accel_state.same_machine({"cpu": "pinned"}, {"cpu": "other"})  # the hook says so
    assert not accel_state.same_machine({"cpu": "a"}, {"cpu": "b"})  # the default rule
    assert accel_state.same_machine({"cpu": "a"}, {"cpu": "a"})
"""
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
