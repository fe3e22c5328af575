"""The project's configuration reaches the gate: [tool.accel] in the inner project's
pyproject.toml (through pytester, with the synthetic measurements of test_plugin)."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

BASE = ("-p", "no:cacheprovider")


def _config(inner: pytest.Pytester, body: str) -> None:
    inner.makepyprojecttoml("[tool.accel]\n" + body)


def test_the_config_selects_cells_and_writes_where_it_says(inner: pytest.Pytester) -> None:
    _config(inner, 'techniques = ["ort-int8"]\ndevices = ["cpu"]\nbaselines = "perf/baselines"\n')
    inner.runpytest(*BASE, "--accel-update-baselines").assert_outcomes(passed=2)
    assert (inner.path / "perf" / "baselines" / "cpu" / "ort-int8.json").is_file()
    assert not (inner.path / "baselines").exists()


def test_a_contract_override_is_the_promise_the_cell_is_held_to(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fake ort-int8 runs at 8x: a team's 9x promise breaks, its 3x promise holds."""
    body = 'techniques = ["ort-int8"]\ndevices = ["cpu"]\n[tool.accel.contracts.ort-int8]\n'
    _config(inner, body + "min_speedup = 9.0\n")
    result = inner.runpytest(*BASE, "--accel-update-baselines")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*speedup >= 9x*"])
    _config(inner, body + "min_speedup = 3.0\n")
    inner.runpytest(*BASE, "--accel-update-baselines").assert_outcomes(passed=2)


def test_options_override_the_file_and_tolerances_reach_new_baselines(
    inner: pytest.Pytester,
) -> None:
    _config(
        inner,
        'techniques = ["fp32"]\ndevices = ["cpu"]\n'
        "[tool.accel.tolerances]\nspeedup = { rel = 0.2 }\n",
    )
    args = (*BASE, "--accel-techniques=ort-int8", "--accel-update-baselines")
    inner.runpytest(*args).assert_outcomes(passed=2)
    doc = json.loads((inner.path / "baselines" / "cpu" / "ort-int8.json").read_text())
    assert doc["tolerances"]["speedup"] == {"rel": 0.2}


def test_a_bad_value_is_a_usage_error_naming_the_file_and_key(inner: pytest.Pytester) -> None:
    _config(inner, "threads = 0\n")
    result = inner.runpytest(*BASE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*pyproject.toml [[]tool.accel[]]: key threads = 0: must be*"])


def test_an_unknown_technique_in_the_config_names_the_file(inner: pytest.Pytester) -> None:
    _config(inner, 'techniques = ["ort-int9"]\n')
    result = inner.runpytest(*BASE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*pyproject.toml [[]tool.accel[]]: key techniques*ort-int9*"])
