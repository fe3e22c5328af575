"""The latency decision: bootstrap interval of the pooled speedup, and the rules on it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accel.gate.latency import (
    MAX_MARGIN,
    machine_slowdown,
    regression_rule,
    regression_threshold,
    regression_verdict,
    widened_margin,
)
from accel.measure.intervals import LEVEL, SpeedupInterval, pooled_speedup, speedup_interval

# A few hundred resamples keep the properties fast; the gate uses N_RESAMPLES.
FAST = 200
duration = st.floats(1e-4, 1e-1, allow_nan=False, allow_infinity=False)
margin = st.floats(0, 0.5, allow_nan=False)


@st.composite
def rounds(draw: st.DrawFn) -> tuple[list[list[float]], list[list[float]]]:
    """Reference and cell call durations: 2-12 rounds of 1-8 calls a block."""
    n = draw(st.integers(2, 12))
    ref_block = draw(st.integers(1, 8))
    cell_block = draw(st.integers(1, 8))
    block = st.lists(duration, min_size=ref_block, max_size=ref_block)
    ref = draw(st.lists(block, min_size=n, max_size=n))
    cell_blocks = st.lists(duration, min_size=cell_block, max_size=cell_block)
    cell = draw(st.lists(cell_blocks, min_size=n, max_size=n))
    return ref, cell


def _scaled(blocks: list[list[float]], factor: float) -> list[list[float]]:
    return [[t * factor for t in block] for block in blocks]


@settings(deadline=None, max_examples=60)
@given(rounds())
def test_interval_contains_the_pooled_speedup_within_the_data(
    data: tuple[list[list[float]], list[list[float]]],
) -> None:
    ref, cell = data
    interval = speedup_interval(ref, cell, n_resamples=FAST)
    assert interval.low <= interval.speedup <= interval.high
    assert interval.speedup == pytest.approx(pooled_speedup(ref, cell))
    # every resampled median ratio lies between the extreme ratios of the data
    lowest = min(map(min, ref)) / max(map(max, cell))
    highest = max(map(max, ref)) / min(map(min, cell))
    assert lowest * (1 - 1e-9) <= interval.low and interval.high <= highest * (1 + 1e-9)
    assert interval.rounds == len(ref) and interval.level == LEVEL


@settings(deadline=None, max_examples=40)
@given(rounds(), st.integers(0, 2**32 - 1))
def test_seeded_determinism(data: tuple[list[list[float]], list[list[float]]], seed: int) -> None:
    ref, cell = data
    first = speedup_interval(ref, cell, n_resamples=FAST, seed=seed)
    assert speedup_interval(ref, cell, n_resamples=FAST, seed=seed) == first


@settings(deadline=None, max_examples=40)
@given(rounds(), st.floats(0.2, 5, allow_nan=False))
def test_a_uniformly_slower_cell_scales_the_interval(
    data: tuple[list[list[float]], list[list[float]]], factor: float
) -> None:
    ref, cell = data
    base = speedup_interval(ref, cell, n_resamples=FAST)
    slowed = speedup_interval(ref, _scaled(cell, factor), n_resamples=FAST)
    assert slowed.speedup == pytest.approx(base.speedup / factor)
    assert slowed.low == pytest.approx(base.low / factor)
    assert slowed.high == pytest.approx(base.high / factor)


@settings(deadline=None, max_examples=60)
@given(rounds(), margin)
def test_a_run_never_fails_against_its_own_speedup(
    data: tuple[list[list[float]], list[list[float]]], m: float
) -> None:
    """Identical figures never fail: a baseline equal to the run's own speedup passes."""
    ref, cell = data
    interval = speedup_interval(ref, cell, n_resamples=FAST)
    assert regression_verdict(interval, interval.speedup, m) != "worse"


@settings(deadline=None, max_examples=60)
@given(rounds(), margin)
def test_identical_samples_never_fail(
    data: tuple[list[list[float]], list[list[float]]], m: float
) -> None:
    """The cell timed like the reference, against a baseline of 1x: an A/A run passes."""
    ref, _ = data
    interval = speedup_interval(ref, ref, n_resamples=FAST)
    assert interval.low == interval.speedup == interval.high == pytest.approx(1.0)
    assert regression_verdict(interval, 1.0, m) == "ok"


@settings(deadline=None, max_examples=60)
@given(rounds(), margin)
def test_a_large_shift_always_fails(
    data: tuple[list[list[float]], list[list[float]]], m: float
) -> None:
    """A slowdown that puts even the most favourable ratio of the data below the threshold."""
    ref, cell = data
    baseline = pooled_speedup(ref, cell)
    highest = max(map(max, ref)) / min(map(min, cell))
    factor = 1.01 * highest / regression_threshold(baseline, m)
    slowed = speedup_interval(ref, _scaled(cell, factor), n_resamples=FAST)
    assert regression_verdict(slowed, baseline, m) == "worse"
    assert "<" in regression_rule(slowed, baseline, m)


def test_verdicts_use_one_bound_each() -> None:
    noisy = SpeedupInterval(7.0, 6.5, 7.5)
    assert regression_verdict(noisy, 8.0, 0.10) == "ok"  # 7.0 < 7.2, but 7.5 >= 7.2
    assert regression_verdict(SpeedupInterval(7.0, 6.9, 7.1), 8.0, 0.10) == "worse"
    assert regression_verdict(SpeedupInterval(9.5, 9.0, 10.0), 8.0, 0.10) == "better"
    assert regression_verdict(SpeedupInterval(9.5, 8.5, 10.0), 8.0, 0.10) == "ok"


def test_the_rule_states_measurement_interval_baseline_and_threshold() -> None:
    text = regression_rule(SpeedupInterval(5.0, 4.8, 5.2, rounds=20), 8.0, 0.10)
    assert "speedup 5.00x (90% CI 4.80-5.20x, 20 rounds)" in text
    assert "baseline 8.00x" in text
    assert "(1 - 10%) x baseline = 7.20x; here 5.20x < 7.20x" in text


def test_a_slower_machine_widens_only_the_worse_side() -> None:
    """Measured (docs/latency-decision.md): on the same host 12-33% slower than at baseline
    time, int8 speedups were 4-27% lower, so the worse side widens by the slowdown; a faster
    machine, or an unknown baseline p50, widens nothing."""
    assert machine_slowdown(10.4, 8.2) == pytest.approx(10.4 / 8.2 - 1)
    assert machine_slowdown(7.0, 8.2) == 0.0 and machine_slowdown(9.0, None) == 0.0
    assert machine_slowdown(float("nan"), 8.2) == 0.0
    assert widened_margin(0.125, 0.27) == pytest.approx(0.395)
    assert widened_margin(0.125, -0.2) == 0.125 and widened_margin(0.5, 0.9) == MAX_MARGIN
    fell = SpeedupInterval(6.0, 5.7, 6.36)  # CI's ort-int8 against 7.31x after the unit tests
    assert regression_verdict(fell, 7.31, 0.125) == "worse"
    assert regression_verdict(fell, 7.31, 0.125, slowdown=0.20) == "ok"
    assert regression_verdict(SpeedupInterval(3.0, 2.9, 3.1), 7.31, 0.125, 0.20) == "worse"
    up = SpeedupInterval(8.5, 8.3, 8.7)  # better: the margin on that side is not widened
    assert regression_verdict(up, 7.31, 0.125, slowdown=0.20) == "better"
    text = regression_rule(fell, 7.31, 0.125, slowdown=0.20)
    assert "(1 - 32.5%: 12.5% + the machine's slowdown 20.0%) x baseline = 4.93x" in text


def test_bad_inputs_name_the_field() -> None:
    with pytest.raises(ValueError, match="`reference_rounds`"):
        speedup_interval([], [[1.0]])
    with pytest.raises(ValueError, match="`cell_rounds` must hold rounds of equal length"):
        speedup_interval([[1.0], [1.0]], [[1.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match="`cell_rounds` must hold finite durations > 0"):
        speedup_interval([[1.0], [1.0]], [[1.0], [0.0]])
    with pytest.raises(ValueError, match=">= 2 rounds"):
        speedup_interval([[1.0]], [[1.0]])
    with pytest.raises(ValueError, match="as many rounds"):
        speedup_interval([[1.0], [1.0]], [[1.0], [1.0], [1.0]])
    with pytest.raises(ValueError, match="`level`"):
        speedup_interval([[1.0], [1.0]], [[1.0], [1.0]], level=1.0)
    with pytest.raises(ValueError, match="`speedup` must lie in"):
        SpeedupInterval(3.0, 1.0, 2.0)
    with pytest.raises(ValueError, match="`margin`"):
        regression_threshold(2.0, 1.0)
    with pytest.raises(ValueError, match="`baseline`"):
        regression_threshold(0.0, 0.1)
