"""Figures a run could not measure (NaN) and the real baseline-update path, through pytester
with the synthetic measurements of test_plugin."""

from __future__ import annotations

import json

import pytest

from tests.plugin.test_plugin import ARGS, BEHAVIOUR

pytest_plugins = ["pytester"]


def test_a_nan_required_metric_fails_and_is_never_written(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A required figure the run could not measure (NaN): the cell fails, in update mode
    too, and no baseline records the NaN (to be ignored by every later run)."""
    monkeypatch.setenv("FAKE_ACCURACY", "nan")
    path = inner.path / "baselines" / "cpu" / "ort-int8.json"
    result = inner.runpytest(*ARGS, "--accel-update-baselines")
    result.assert_outcomes(failed=2)  # the contract's accuracy floor too
    result.stdout.fnmatch_lines(
        ["*required metric(s) accuracy were not measured*", "*ort-int8/cpu*FAIL not measured*"]
    )
    assert not path.exists()


def test_a_nan_out_of_scope_recall_is_left_out_and_fails_against_a_baseline_with_it(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OOS recall on test data without out-of-scope rows is NaN: a new baseline leaves it out
    (data without a reject label has none), a baseline that has it fails the run."""
    path = inner.path / "baselines" / "cpu" / "ort-int8.json"
    monkeypatch.setenv("FAKE_OOS", "nan")
    inner.runpytest(*ARGS, "--accel-update-baselines").assert_outcomes(passed=2)
    assert "oos_recall" not in json.loads(path.read_text())["metrics"]
    monkeypatch.setenv("FAKE_OOS", "0.5")
    inner.runpytest(*ARGS, "--accel-update-baselines").assert_outcomes(passed=2)
    monkeypatch.setenv("FAKE_OOS", "nan")
    result = inner.runpytest(*ARGS)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*ort-int8/cpu*FAIL*oos_recall*"])


def test_a_nan_optional_metric_is_not_written_and_shows_not_measured(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_EXTRA", '{"sparsity": NaN, "compressed_size_mb": 15.0}')
    result = inner.runpytest(*ARGS, "--accel-update-baselines")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*ort-int8/cpu: *sparsity not measured, compressed_size_mb 15.0*"])
    doc = json.loads((inner.path / "baselines" / "cpu" / "ort-int8.json").read_text())
    assert "sparsity" not in doc["metrics"] and doc["metrics"]["compressed_size_mb"] == 15.0
    inner.runpytest(*ARGS).assert_outcomes(passed=2)


def test_update_writes_what_was_measured_and_the_next_run_passes_against_it(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real update path: run the suite with --accel-update-baselines, read the file back,
    then judge an unchanged run against it, and a regressed one."""
    monkeypatch.setenv("FAKE_ACCURACY", "0.8654")
    monkeypatch.setenv("FAKE_SPEEDUP", "6.25")
    monkeypatch.setenv("FAKE_OOS", "0.4321")
    monkeypatch.setenv("FAKE_TRAINED", "sha256:student")
    result = inner.runpytest(*ARGS, "--accel-update-baselines", "--accel-rounds=7")
    result.assert_outcomes(passed=2)
    path = inner.path / "baselines" / "cpu" / "ort-int8.json"
    doc = json.loads(path.read_text())
    assert doc["cell"] == "ort-int8/cpu" and doc["schema_version"] == 1
    assert doc["metrics"] == {
        "accuracy": 0.8654,
        "accuracy_in_scope": 0.8654,
        "oos_recall": 0.4321,
        "size_mb": 20.0,
        "speedup": 6.25,
        "latency_ms": {"mean": 1.28, "p50": 1.28, "p90": 1.28, "p99": 1.28, "std": 0.0},
    } | BEHAVIOUR
    assert doc["model"] == {
        "checkpoint": "fake",
        "fingerprint": "sha256:fake",
        "trained": "sha256:student",
        "definition": "def-1",
        "artifacts": [{"kind": "onnx", "key": "k1", "definition": "def-1"}],
    }
    assert doc["machine"] == {"cpu": "fake", "threads": 1, "device": "cpu", "gpu": None}
    assert doc["tolerances"]["speedup"] == {"rel": 0.125}
    assert doc["tolerances"]["accuracy"] == {"abs": 0.005}
    # reviewed tolerances survive a rewrite
    doc["tolerances"]["accuracy"] = {"abs": 0.02}
    path.write_text(json.dumps(doc))
    inner.runpytest(*ARGS, "--accel-update-baselines").assert_outcomes(passed=2)
    assert json.loads(path.read_text())["tolerances"]["accuracy"] == {"abs": 0.02}
    # a second run without the flag passes against it, and rewrites nothing
    before = path.read_text()
    result = inner.runpytest(*ARGS)
    result.assert_outcomes(passed=2)
    result.stdout.re_match_lines(
        [r".*ort-int8/cpu +0\.8654 \(\+0\.0000\).*6\.25 \[6\.25-6\.25\] \(\+0\.0%\) +pass\s*$"]
    )
    assert path.read_text() == before
    # and it is a real gate: 0.03 less accuracy is beyond the reviewed ±0.02
    monkeypatch.setenv("FAKE_ACCURACY", "0.8354")
    inner.runpytest(*ARGS, "-k", "baseline").assert_outcomes(failed=1)


def test_a_nan_in_a_baseline_file_is_a_bad_baseline_not_a_pass(inner: pytest.Pytester) -> None:
    inner.runpytest(*ARGS, "--accel-update-baselines").assert_outcomes(passed=2)
    path = inner.path / "baselines" / "cpu" / "ort-int8.json"
    doc = json.loads(path.read_text())
    doc["metrics"]["speedup"] = float("nan")
    path.write_text(json.dumps(doc))
    result = inner.runpytest(*ARGS)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*{path}: field metrics.speedup is nan; speedup must be a finite number > 0. Fix "
            "the file or regenerate it with `pytest --accel-update-baselines`.",
            "*ort-int8/cpu*FAIL bad baseline*",
        ]
    )
