"""Margins per cell: the calibration's arithmetic, its place in the baseline file, its use."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from accel.gate.base_head import AB_MARGIN, AB_PLAN, decide
from accel.gate.baselines import BaselineError, read_baseline, with_calibration
from accel.gate.calibration import MIN_MARGIN, calibrate, margin_for, parse
from accel.measure.records import Latency, Speedup

ROOT = Path(__file__).resolve().parents[3]
MACHINE = {"cpu": "AMD EPYC", "threads": 1}
WHEN = "2026-12-01T09:00:00+00:00"


def _ratios(sd: float, mean: float = 0.0, n: int = 20) -> list[float]:
    """``n`` ratios whose logs have exactly this mean and sample SD (alternating +-)."""
    half = sd * math.sqrt((n - 1) / n)
    return [math.exp(mean + (half if i % 2 else -half)) for i in range(n)]


def test_the_margin_is_three_sigmas_of_the_spread_plus_the_bias() -> None:
    found = calibrate(_ratios(0.015, mean=0.005), "artifact", 10, MACHINE, WHEN)
    assert found.sd == pytest.approx(0.015)
    assert found.mean == pytest.approx(0.005)
    assert found.margin == pytest.approx(1 - math.exp(-(0.005 + 3 * 0.015)))
    caught = math.exp(0.005 + 1.6449 * 0.015) / (1 - found.margin) - 1
    assert found.detects == pytest.approx(caught, rel=1e-4)
    assert not found.blind_to_target and "cannot be told" not in found.describe()


def test_a_quiet_cell_gets_the_floor_and_a_noisy_one_says_it_is_blind() -> None:
    quiet = calibrate(_ratios(0.002), "artifact", 10, MACHINE, WHEN)
    assert quiet.margin == MIN_MARGIN
    assert quiet.detects < 0.05
    noisy = calibrate(_ratios(0.035), "code", 10, MACHINE, WHEN)
    assert noisy.margin > 0.09 and noisy.blind_to_target
    assert "a 10% slowdown cannot be told from this cell's noise" in noisy.describe()


@pytest.mark.parametrize(
    ("ratios", "message"),
    [([1.0] * 4, "at least 5 phases"), ([1.0] * 5 + [0.0], "positive and finite")],
)
def test_too_few_or_bad_phases_are_refused(ratios: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        calibrate(ratios, "artifact", 10, MACHINE, WHEN)


def test_the_field_round_trips_and_a_bad_one_is_named() -> None:
    found = calibrate(_ratios(0.01), "code", 10, MACHINE, WHEN)
    assert parse({"code": found.as_dict()}) == {"code": found}
    with pytest.raises(ValueError, match="keys"):
        parse({"elsewhere": found.as_dict()})
    with pytest.raises(ValueError, match=r"field calibration.code .*KeyError.*accel calibrate"):
        parse({"code": {"margin": 0.04}})
    with pytest.raises(ValueError, match=r"calibration.artifact.margin must be in \(0, 1\)"):
        parse({"artifact": found.as_dict() | {"margin": 1.5}})


def test_the_margin_applies_on_the_machine_it_was_measured_on_only() -> None:
    found = calibrate(_ratios(0.005), "artifact", AB_PLAN.rounds, MACHINE, WHEN)
    assert margin_for({"artifact": found}, "artifact", MACHINE) == (found.margin, found)
    # Phases of another plan (the 10 rounds of blocks of 25 calls of before) do not apply.
    old_plan = calibrate(_ratios(0.005), "artifact", 10, MACHINE, WHEN)
    assert margin_for({"artifact": old_plan}, "artifact", MACHINE) == (AB_MARGIN, None)
    assert margin_for({"artifact": found}, "code", MACHINE) == (AB_MARGIN, None)
    assert margin_for({"artifact": found}, "artifact", MACHINE | {"threads": 2}) == (
        AB_MARGIN,
        None,
    )
    assert margin_for({}, "artifact", MACHINE) == (AB_MARGIN, None)


def test_a_baseline_keeps_its_other_fields_when_calibrated(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "baselines", tmp_path / "b")
    path = tmp_path / "b" / "cpu" / "ort-int8.json"
    before = read_baseline(path)
    found = calibrate(_ratios(0.012), "artifact", 10, before.machine, WHEN)
    path.write_text(with_calibration(before, found))
    after = read_baseline(path)
    assert after.calibration["artifact"].margin == pytest.approx(found.margin, abs=1e-4)
    assert (after.metrics, after.tolerances, after.model) == (
        before.metrics,
        before.tolerances,
        before.model,
    )
    other = calibrate(_ratios(0.03), "code", 10, before.machine, WHEN)
    path.write_text(with_calibration(after, other))
    assert set(read_baseline(path).calibration) == {"artifact", "code"}


def test_a_bad_calibration_names_the_file_and_the_field(tmp_path: Path) -> None:
    raw: dict[str, Any] = json.loads((ROOT / "baselines/cpu/ort-int8.json").read_text())
    path = tmp_path / "cpu" / "ort-int8.json"
    path.parent.mkdir()
    path.write_text(json.dumps(raw | {"calibration": {"artifact": {"phases": "x"}}}))
    with pytest.raises(BaselineError, match=r"ort-int8.json: field calibration.artifact"):
        read_baseline(path)


def _phase(ratio: float) -> Speedup:
    base, head = [[1e-3 * ratio] * 5] * 10, [[1e-3] * 5] * 10
    latency = Latency(5, 1.0, 0.0, 1.0, 1.0, 1.0)
    rounds = tuple(tuple(r) for r in base), tuple(tuple(r) for r in head)
    return Speedup(latency, latency, ratio, (ratio,) * 10, *rounds)


def test_a_calibrated_margin_decides_a_slowdown_the_default_would_pass() -> None:
    """A steady 4% slowdown: same under the default 5%, slower under a quiet cell's 3%."""
    default = decide(lambda: _phase(0.96), "onnx/abc")
    tight = decide(lambda: _phase(0.96), "onnx/abc", MIN_MARGIN, calibrated=True)
    assert (default.answer, tight.answer) == ("same", "slower")
    assert "fails below 0.97x (the cell's calibrated margin)" in tight.describe()
    assert "calibrated" not in default.describe() and "fails below 0.95x" in default.describe()

