"""A reference that slows down makes every other speedup look better: the gate says so, and
fails the reference cell when its own latency agrees."""

from __future__ import annotations

import json

import pytest

from tests.plugin.test_plugin import INNER_CONFTEST, INNER_TEST

pytest_plugins = ["pytester"]

ARGS = (
    "--accel-techniques=fp32,ort-int8,ort-fp32,torch-int8",
    "--accel-device=cpu",
    "-p",
    "no:cacheprovider",
)
SPEEDUPS = {"fp32": 1.0, "ort-int8": 8.0, "ort-fp32": 2.5, "torch-int8": 2.5}


@pytest.fixture()
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(test_gate=INNER_TEST)
    monkeypatch.setenv("FAKE_SPEEDUPS", json.dumps(SPEEDUPS))
    pytester.runpytest(*ARGS, "--accel-update-baselines").assert_outcomes(passed=8)
    return pytester


def _slower_reference(monkeypatch: pytest.MonkeyPatch, ms: float) -> None:
    """The reference's calls take ``ms`` instead of 8 ms; the other cells are unchanged, so
    their speedups grow by the same factor."""
    factor = ms / 8.0
    speedups = {k: (v if k == "fp32" else v * factor) for k, v in SPEEDUPS.items()}
    monkeypatch.setenv("FAKE_REF_S", str(ms / 1000))
    monkeypatch.setenv("FAKE_SPEEDUPS", json.dumps(speedups))


def test_a_slower_reference_fails_the_reference_cell(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """25% slower: within fp32's own ±50% on p50, and every other cell "better"; that passed."""
    _slower_reference(monkeypatch, 10.0)
    out, summary = inner.path / "out.json", inner.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = inner.runpytest(*ARGS, f"--accel-json={out}")
    result.assert_outcomes(passed=7, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_baseline?fp32/cpu?*",
            "reference slowdown: fp32/cpu's p50 is +25% against its baseline on the same machine*",
            "*fp32/cpu*FAIL reference slowdown*",
            "*ort-int8/cpu*pass (better: speedup)*",
            "  WARNING reference slowdown: fp32/cpu's p50 is +25%*3 of 3 latency-gated cells on "
            "cpu beat their baselines' speedup at once (ort-int8/cpu, ort-fp32/cpu, "
            "torch-int8/cpu)*",
        ]
    )
    run = json.loads(out.read_text())
    assert run["warnings"][0].startswith("reference slowdown: fp32/cpu")
    status = {c["cell"]: c["status"] for c in run["cells"]}
    assert status == {
        "fp32/cpu": "fail", "ort-int8/cpu": "better", "ort-fp32/cpu": "better",
        "torch-int8/cpu": "better",
    }
    assert "**Warning:** reference slowdown: fp32/cpu" in summary.read_text()


def test_cells_all_better_with_a_steady_reference_only_warn(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    speedups = {k: (v if k == "fp32" else v * 1.25) for k, v in SPEEDUPS.items()}
    monkeypatch.setenv("FAKE_SPEEDUPS", json.dumps(speedups))
    out = inner.path / "out.json"
    result = inner.runpytest(*ARGS, f"--accel-json={out}")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(
        ["  WARNING possible reference slowdown: 3 of 3 latency-gated cells on cpu*"
         "its own p50 is +0% against its baseline*"]
    )
    assert json.loads(out.read_text())["warnings"][0].startswith("possible reference slowdown")


def test_a_slower_machine_is_not_a_reference_slowdown(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Everything 25% slower: the speedups do not move; no reference slowdown, only the note
    that the machine is slower (and the speedup margins wider)."""
    monkeypatch.setenv("FAKE_REF_S", "0.010")
    out = inner.path / "out.json"
    result = inner.runpytest(*ARGS, f"--accel-json={out}")
    result.assert_outcomes(passed=8)
    assert "reference slowdown" not in result.stdout.str()
    (warning,) = json.loads(out.read_text())["warnings"]
    assert warning.startswith("slower machine: fp32/cpu's p50 is +25% against its baseline")


@pytest.mark.parametrize(
    ("ref_ms", "int8_speedup", "failed"),
    [
        (8.0, 6.2, 1),  # -22.5% on the baseline's machine speed: beyond 12.5%, fails
        (10.0, 6.2, 0),  # the same on a machine 25% slower (as measured): margin 37.5%, passes
        (10.0, 4.0, 1),  # a collapse (-50%) still fails on the slower machine
    ],
)
def test_a_slower_machine_widens_the_speedup_margin(
    inner: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    ref_ms: float,
    int8_speedup: float,
    failed: int,
) -> None:
    """On a machine slower than at baseline time, int8 speedups fall about as much (measured:
    docs/latency-decision.md): the worse side of the speedup's margin widens by the slowdown."""
    monkeypatch.setenv("FAKE_REF_S", str(ref_ms / 1000))
    monkeypatch.setenv("FAKE_SPEEDUPS", json.dumps(SPEEDUPS | {"ort-int8": int8_speedup}))
    result = inner.runpytest(*ARGS)
    result.assert_outcomes(passed=8 - failed, failed=failed)
    if ref_ms > 8.0 and not failed:
        result.stdout.fnmatch_lines(["*ort-int8/cpu*pass*"])
    if failed:
        result.stdout.fnmatch_lines(["*ort-int8/cpu*FAIL speedup*"])
