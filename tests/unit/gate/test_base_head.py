"""Base against head: the three answers, and the sequential phases that pool rounds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accel.gate.base_head import AB_MARGIN, AB_PLAN, Answer, BaseHead, answer, decide, fails
from accel.gate.baselines import read_baseline, render_baseline, write_baseline
from accel.gate.contracts import Contract
from accel.gate.verdict import CellVerdict, Status, judge
from accel.measure.intervals import SpeedupInterval
from accel.measure.machine import Incomparable, latency_incomparable, same_machine
from accel.measure.records import Latency, Speedup
from tests.unit.reporting.fakes import cell_result


def _phase(
    ratio: float, noise: float, seed: int, rounds: int = AB_PLAN.rounds, block: int = AB_PLAN.block
) -> Speedup:
    """A timed phase whose head is ``1 / ratio`` times the base's duration, with noise."""
    rng = np.random.default_rng(seed)
    base = 1e-3 * np.exp(noise * rng.standard_normal((rounds, block)))
    head = 1e-3 / ratio * np.exp(noise * rng.standard_normal((rounds, block)))
    base_rounds = tuple(tuple(map(float, r)) for r in base)
    head_rounds = tuple(tuple(map(float, r)) for r in head)
    return Speedup(
        cell=Latency.from_values(head.ravel().tolist()),
        reference=Latency.from_values(base.ravel().tolist()),
        speedup=float(np.median(base) / np.median(head)),
        round_speedups=tuple(
            float(np.median(b) / np.median(h)) for b, h in zip(base, head, strict=True)
        ),
        reference_rounds=base_rounds,
        cell_rounds=head_rounds,
    )


def _straddling_phase() -> Speedup:
    """Rounds alternately 10% slower and as fast: the pooled interval spans 0.90-1.00."""
    fast, slow = _phase(1.0, 0.001, 5), _phase(1 / 1.1, 0.001, 6)
    pick = [fast if i % 2 else slow for i in range(10)]
    return Speedup(
        cell=fast.cell,
        reference=fast.reference,
        speedup=0.95,
        round_speedups=fast.round_speedups,
        reference_rounds=tuple(p.reference_rounds[i] for i, p in enumerate(pick)),
        cell_rounds=tuple(p.cell_rounds[i] for i, p in enumerate(pick)),
    )


def _interval(low: float, high: float) -> SpeedupInterval:
    return SpeedupInterval((low + high) / 2, low, high)


def test_three_answers_at_the_threshold() -> None:
    assert answer(_interval(0.96, 1.02), 0.05) == "same"
    assert answer(_interval(0.95, 1.02), 0.05) == "same"  # the lower bound reaches it
    assert answer(_interval(0.88, 0.94), 0.05) == "slower"
    assert answer(_interval(0.93, 0.97), 0.05) == "undecided"
    outcomes = [BaseHead(a, _interval(0.93, 0.97), 3, 0.05, "x") for a in ("same", "slower")]
    assert [fails(o) for o in outcomes] == [False, True]
    # Undecided after the last phase: the pooled point decides (0.95 is the threshold).
    assert fails(BaseHead("undecided", SpeedupInterval(0.949, 0.93, 0.97), 3, 0.05, "x"))
    assert not fails(BaseHead("undecided", SpeedupInterval(0.95, 0.93, 0.97), 3, 0.05, "x"))


@pytest.mark.parametrize("margin", [0, 1, -0.1, 1.5])
def test_margin_out_of_range_is_an_error(margin: float) -> None:
    with pytest.raises(ValueError, match="margin"):
        answer(_interval(0.9, 1.0), margin)


@settings(deadline=None, max_examples=40)
@given(st.floats(0.5, 1.5), st.floats(0.001, 0.2), st.floats(0.01, 0.3))
def test_answer_is_monotone_in_the_interval(centre: float, half: float, margin: float) -> None:
    """Moving the whole interval up never makes the answer worse."""
    order = {"slower": 0, "undecided": 1, "same": 2}
    low = max(1e-3, centre - half)
    down = answer(_interval(low, centre + half), margin)
    up = answer(_interval(low * 1.1, (centre + half) * 1.1), margin)
    assert order[up] >= order[down]


def test_a_clean_head_is_same_in_one_phase() -> None:
    outcome = decide(lambda: _phase(1.0, 0.01, 1), "onnx/abc")
    assert (outcome.answer, outcome.phases) == ("same", 1)
    assert outcome.interval.rounds == AB_PLAN.rounds
    assert not fails(outcome)


def test_a_ten_percent_slowdown_is_slower() -> None:
    outcome = decide(lambda: _phase(1 / 1.1, 0.01, 2), "onnx/abc")
    assert outcome.answer == "slower"
    assert "slower: 0.9" in outcome.describe()


def test_undecided_phases_are_pooled_until_the_budget() -> None:
    """A head right at the threshold stays undecided; every phase's rounds are pooled."""
    outcome = decide(_straddling_phase, "onnx/abc", max_phases=3)
    assert outcome.answer == "undecided" and outcome.phases == 3
    assert outcome.interval.rounds == 30


def test_more_phases_narrow_the_interval() -> None:
    """Pooling rounds of further phases narrows the interval (what re-measuring buys)."""
    seeds = iter(range(300, 400))
    one = decide(lambda: _phase(1 - AB_MARGIN, 0.5, 7), "x", max_phases=1).interval
    three = decide(lambda: _phase(1 - AB_MARGIN, 0.5, next(seeds)), "x", max_phases=3).interval
    assert (one.rounds, three.rounds) == (AB_PLAN.rounds, 3 * AB_PLAN.rounds)
    assert three.high - three.low < one.high - one.low
    with pytest.raises(ValueError, match="max_phases"):
        decide(lambda: _phase(1.0, 0.01, 1), "x", max_phases=0)


def test_record_holds_the_decision() -> None:
    outcome = BaseHead("same", _interval(0.98, 1.02), 1, 0.05, "onnx/abc")
    record = outcome.as_dict()
    assert record["answer"] == "same" and record["margin"] == 0.05 and record["base"] == "onnx/abc"
    assert "fails below 0.95x" in outcome.describe()


def _judged(tmp_path: Path, against: BaseHead | str | None, update: bool = False) -> CellVerdict:
    """ort-int8 judged against a baseline of another definition (its model changed)."""
    result = cell_result("ort-int8/cpu")
    result = replace(result, artifacts=({"kind": "onnx", "key": "new", "definition": "d2"},))
    old = result.provenance() | {
        "definition": "d1",
        "artifacts": [{"kind": "onnx", "key": "old", "definition": "d1"}],
    }
    path = tmp_path / "cpu" / "ort-int8.json"
    write_baseline(
        path,
        render_baseline(
            "ort-int8/cpu", result.metrics(), result.timing.cell.as_dict(), old,
            result.machine, created="2026-12-01T00:00:00+00:00", accel_version="0",
        ),
    )
    return judge(
        result, Contract(), read_baseline(path), path, update=update,
        same_machine=same_machine, latency_incomparable=latency_incomparable,
        against_base=against,
    )


def test_a_changed_cell_says_what_its_old_artifact_measured(tmp_path: Path) -> None:
    slower = BaseHead("slower", _interval(0.86, 0.90), 1, 0.05, "onnx/old")
    made = _judged(tmp_path, slower).baseline
    assert made.status is Status.FAIL
    assert made.summary == "FAIL model changed (vs its old artifact: slower)"
    assert "speed against the baseline's own artifact, timed side by side: slower: 0.880x" in (
        made.message
    )
    row = {r.metric: r for r in made.rows}["speedup"]
    assert (row.verdict, row.note) == ("worse", "vs baseline's artifact: slower")


def test_a_changed_cell_without_its_old_artifact_says_why(tmp_path: Path) -> None:
    made = _judged(tmp_path, "the baseline's artifact onnx/old: not in the cache").baseline
    assert made.summary == "FAIL model changed"
    assert "speed judged against the reference: the baseline's artifact onnx/old" in made.message
    assert {r.metric: r for r in made.rows}["speedup"].note == "vs reference"


def test_an_update_shows_the_speed_it_accepts(tmp_path: Path) -> None:
    same = BaseHead("same", _interval(0.98, 1.02), 2, 0.05, "onnx/old")
    made = _judged(tmp_path, same, update=True).baseline
    assert made.status is Status.WRITTEN
    assert made.summary == "baseline written (vs its old artifact: same)"
    assert "same: 1.000x the speed of the baseline's artifact [0.980-1.020], 2 phases" in (
        made.message
    )


def test_an_update_over_a_slower_model_warns(tmp_path: Path) -> None:
    slower = BaseHead("undecided", SpeedupInterval(0.94, 0.93, 0.97), 3, 0.05, "onnx/old")
    made = _judged(tmp_path, slower, update=True).baseline
    assert made.summary == "baseline written (vs its old artifact: undecided)"
    assert made.warning.startswith("the new baseline accepts a model that may be slower")
    assert not _judged(tmp_path, None, update=True).baseline.warning


def _unchanged(
    tmp_path: Path, against: BaseHead | str | None, incomparable: Any = latency_incomparable
) -> CellVerdict:
    """ort-int8 judged against a baseline of its own model (only the code may have changed)."""
    result = cell_result("ort-int8/cpu")
    result = replace(result, model=dict(result.model) | {"definition": "d1"})
    path = tmp_path / "cpu" / "ort-int8.json"
    write_baseline(
        path,
        render_baseline(
            "ort-int8/cpu", result.metrics(), result.timing.cell.as_dict(), result.provenance(),
            result.machine, created="2026-12-01T00:00:00+00:00", accel_version="0",
        ),
    )
    return judge(
        result, Contract(), read_baseline(path), path,
        same_machine=same_machine, latency_incomparable=incomparable,
        against_base=against,
    )


def _code(answer_: Answer, low: float, high: float) -> BaseHead:
    point = (low + high) / 2
    return BaseHead(answer_, SpeedupInterval(point, low, high), 3, 0.05, "main", "code")


def test_the_base_code_decides_an_unchanged_cells_speed(tmp_path: Path) -> None:
    made = _unchanged(tmp_path, _code("slower", 0.86, 0.90)).baseline
    assert made.status is Status.FAIL
    assert made.summary == "FAIL speedup (vs the base code: slower)"
    assert "speed against the base code's build of the cell, timed side by side: slower: " \
           "0.880x the speed of the code at main" in made.message
    row = {r.metric: r for r in made.rows}["speedup"]
    assert (row.verdict, row.note) == ("worse", "vs base code: slower")
    same = _unchanged(tmp_path, _code("same", 0.97, 1.01)).baseline
    assert (same.status, same.summary, same.warning) == (
        Status.PASS, "pass (vs the base code: same)", "")


def test_the_base_code_decides_on_a_machine_the_baseline_cannot_be_compared_with(
    tmp_path: Path,
) -> None:
    """Other instruction sets than the baseline's: the speedup over the reference only warns,
    but base and head were both timed here, so their answer still fails the cell."""
    def other_isa(obtained: Any, baseline: Any) -> Incomparable:
        return Incomparable("other instruction sets", "other instruction sets", "no AVX-512")

    made = _unchanged(tmp_path, _code("slower", 0.86, 0.90), other_isa).baseline
    assert (made.status, made.summary) == (Status.FAIL, "FAIL speedup (vs the base code: slower)")
    assert {r.metric: r for r in made.rows}["speedup"].verdict == "worse"


def test_undecided_against_the_base_code_passes_with_a_warning(tmp_path: Path) -> None:
    """Unlike an old artifact's (below), whose pooled point below 0.95 fails the cell."""
    undecided = _code("undecided", 0.90, 0.98)  # point 0.94
    assert not fails(undecided) and fails(replace(undecided, against="artifact"))
    made = _unchanged(tmp_path, undecided).baseline
    assert (made.status, made.summary) == (Status.PASS, "pass (vs the base code: undecided)")
    assert made.warning.startswith("ort-int8/cpu: speed against the base code's build")
    assert "undecided: 0.940x" in made.warning


def test_a_base_that_could_not_be_timed_is_a_warning_on_a_pass(tmp_path: Path) -> None:
    why = "the code at main: CacheMiss: onnx/abc is not in the cache"
    made = _unchanged(tmp_path, why).baseline
    assert (made.status, made.summary) == (Status.PASS, "pass")
    assert made.warning == (
        "ort-int8/cpu: speed judged against the reference: the code at main: CacheMiss: "
        "onnx/abc is not in the cache"
    )
    assert {r.metric: r for r in made.rows}["speedup"].note == "vs reference"
