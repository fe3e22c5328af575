from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from accel.measure import timing as bench
from accel.measure.accuracy import predict_all, score
from accel.measure.records import Latency
from accel.measure.timing import (
    ThroughputPlan,
    TimingPlan,
    measure_speedup,
    measure_speedups,
    measure_throughput,
)


class FakeClock:
    """A timer that advances only when a fake predictor 'works'."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class CostPredictor:
    def __init__(self, name: str, cost: float, clock: FakeClock, log: list[str]) -> None:
        self.name, self.cost, self.clock, self.log = name, cost, clock, log

    def predict(self, texts: Sequence[str]) -> list[str]:
        self.clock.now += self.cost
        self.log.append(self.name)
        return ["oos"] * len(texts)

    def size_bytes(self) -> int:
        return 1


def test_speedup_is_ratio_of_medians_in_abba_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, log = FakeClock(), []
    monkeypatch.setattr(bench, "default_timer", clock)
    ref = CostPredictor("ref", 0.008, clock, log)
    cell = CostPredictor("cell", 0.001, clock, log)
    plan = TimingPlan(warmup=3, rounds=4, block=5)
    result = measure_speedup(ref, cell, ["q1", "q2"], plan)
    assert result.speedup == pytest.approx(8.0)
    assert result.cell.count == result.reference.count == 20
    assert result.cell.p50 == pytest.approx(1.0) and result.reference.p50 == pytest.approx(8.0)
    assert result.round_speedups == pytest.approx((8.0,) * 4) and result.cv == pytest.approx(0)
    timed = log[6:]  # after warm-up
    blocks = [timed[i][0] for i in range(0, len(timed), 5)]
    assert blocks == ["r", "c", "c", "r", "r", "c", "c", "r"]  # ABBA: order effects cancel
    assert result.reference_rounds == ((pytest.approx(0.008),) * 5,) * 4
    assert len(result.cell_rounds) == 4 and all(len(r) == 5 for r in result.cell_rounds)
    assert result.interval.speedup == pytest.approx(8.0)
    assert result.interval.low == pytest.approx(8.0) == result.interval.high


def test_the_interval_brackets_the_gated_speedup(monkeypatch: pytest.MonkeyPatch) -> None:
    """The interval is of the same statistic as ``speedup``: the pooled ratio of p50s."""
    clock, log = FakeClock(), []
    monkeypatch.setattr(bench, "default_timer", clock)
    costs = iter([0.008, 0.009, 0.0085, 0.011] * 1000)

    class Jittery(CostPredictor):
        def predict(self, texts: Sequence[str]) -> list[str]:
            self.cost = next(costs) / (8 if self.name == "cell" else 1)
            return super().predict(texts)

    result = measure_speedup(
        Jittery("ref", 0, clock, log),
        Jittery("cell", 0, clock, log),
        ["q"],
        TimingPlan(warmup=2, rounds=10, block=7),
    )
    assert result.interval.speedup == pytest.approx(result.speedup)
    assert result.interval.low <= result.speedup <= result.interval.high
    assert result.interval.rounds == 10


def test_cells_take_turns_round_robin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each round times every cell beside the reference; the cells' order rotates by round."""
    clock, log = FakeClock(), list[str]()
    monkeypatch.setattr(bench, "default_timer", clock)
    ref = CostPredictor("ref", 0.008, clock, log)
    cells = {
        "a": CostPredictor("a", 0.001, clock, log),
        "b": CostPredictor("b", 0.002, clock, log),
        "c": CostPredictor("c", 0.004, clock, log),
    }
    plan = TimingPlan(warmup=1, rounds=4, block=2)
    result = measure_speedups(ref, cells, ["q"], plan, progress=False)
    assert {k: v.speedup for k, v in result.items()} == pytest.approx({"a": 8, "b": 4, "c": 2})
    assert all(len(v.cell_rounds) == 4 == len(v.reference_rounds) for v in result.values())
    timed = log[4:]  # after one warm-up call each
    blocks = "".join(timed[i][0] for i in range(0, len(timed), 2))
    rounds = [blocks[i : i + 6] for i in range(0, len(blocks), 6)]
    # ABBA per pair (the reference first in even rounds); the order of the cells rotates
    assert rounds == ["rarbrc", "brcrar", "rcrarb", "arbrcr"]


def test_one_cell_is_timed_like_many(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, log = FakeClock(), list[str]()
    monkeypatch.setattr(bench, "default_timer", clock)
    ref, cell = CostPredictor("ref", 0.008, clock, log), CostPredictor("c", 0.002, clock, log)
    plan = TimingPlan(warmup=1, rounds=2, block=1)
    alone = measure_speedup(ref, cell, ["q"], plan)
    clock.now = 0.0  # the same float durations again
    together = measure_speedups(ref, {"c": cell}, ["q"], plan, progress=False)["c"]
    assert alone == together


def test_speedups_need_cells_and_queries() -> None:
    ref = CostPredictor("ref", 0.0, FakeClock(), [])
    with pytest.raises(ValueError, match="cells"):
        measure_speedups(ref, {}, ["q"], TimingPlan(), progress=False)
    with pytest.raises(ValueError, match="queries"):
        measure_speedups(ref, {"r": ref}, [], TimingPlan(), progress=False)


@given(st.lists(st.floats(1e-6, 10, allow_nan=False), min_size=1, max_size=200))
def test_latency_statistics(values: list[float]) -> None:
    lat = Latency.from_values(values)
    arr = np.asarray(values) * 1e3
    assert lat.count == len(values)
    assert lat.p50 == pytest.approx(np.median(arr))
    assert lat.p90 == pytest.approx(np.percentile(arr, 90))
    assert lat.mean == pytest.approx(arr.mean())
    assert lat.p50 <= lat.p90 * (1 + 1e-9) <= lat.p99 * (1 + 1e-9) + 1e-9


def test_latency_needs_values() -> None:
    with pytest.raises(ValueError, match="seconds"):
        Latency.from_values([])


def test_timing_plan_validates() -> None:
    with pytest.raises(ValueError, match="`rounds` must be >= 2"):
        TimingPlan(rounds=1)
    with pytest.raises(ValueError, match="`block` must be >= 1"):
        TimingPlan(block=0)


def test_score_splits_in_scope_and_oos() -> None:
    refs = ["a", "a", "b", "oos", "oos"]
    preds = ["a", "b", "b", "oos", "a"]
    acc = score(preds, refs)
    assert acc.accuracy == pytest.approx(3 / 5)
    assert acc.accuracy_in_scope == pytest.approx(2 / 3)
    assert acc.oos_recall == pytest.approx(1 / 2)
    assert acc.n == 5


def test_predict_all_scores_every_example_in_order() -> None:
    class Echo:
        name = "echo"

        def __init__(self) -> None:
            self.calls: list[int] = []

        def predict(self, texts: Sequence[str]) -> list[str]:
            self.calls.append(len(texts))
            return [t.upper() for t in texts]

        def size_bytes(self) -> int:
            return 0

    texts = [f"text {'x' * (i % 7)} {i}" for i in range(103)]
    echo = Echo()
    assert predict_all(echo, texts, batch_size=10) == [t.upper() for t in texts]
    assert sum(echo.calls) == 103 and max(echo.calls) == 10


def test_gc_is_paused_while_timing_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    clock, log = FakeClock(), []
    monkeypatch.setattr(bench, "default_timer", clock)
    seen = []

    class Probe(CostPredictor):
        def predict(self, texts: Sequence[str]) -> list[str]:
            seen.append(gc.isenabled())
            return super().predict(texts)

    assert gc.isenabled()
    measure_speedup(
        Probe("r", 2.0, clock, log),
        Probe("c", 1.0, clock, log),
        ["q"],
        TimingPlan(warmup=1, rounds=2, block=2),
    )
    assert seen and not any(seen)
    assert gc.isenabled()


class BatchCostPredictor:
    """Costs ``fixed + per_text * len(texts)`` seconds of a fake clock; records batch sizes."""

    name = "batchy"

    def __init__(self, clock: FakeClock, fixed: float, per_text: float) -> None:
        self.clock, self.fixed, self.per_text = clock, fixed, per_text
        self.batches: list[list[str]] = []

    def predict(self, texts: Sequence[str]) -> list[str]:
        self.clock.now += self.fixed + self.per_text * len(texts)
        self.batches.append(list(texts))
        return ["oos"] * len(texts)

    def size_bytes(self) -> int:
        return 1


def test_throughput_is_sequences_per_second_at_each_batch_size() -> None:
    clock = FakeClock()
    predictor = BatchCostPredictor(clock, fixed=0.01, per_text=0.001)
    plan = ThroughputPlan(batch_sizes=(1, 8, 32, 128), warmup=2, min_batches=3, min_seconds=0.5)
    rates = measure_throughput(predictor, ["a", "b", "c"], plan, timer=clock)
    assert list(rates) == [1, 8, 32, 128]
    for size, rate in rates.items():
        assert rate == pytest.approx(size / (0.01 + 0.001 * size))
    assert {len(b) for b in predictor.batches} == {1, 8, 32, 128}
    first_of_8 = next(b for b in predictor.batches if len(b) == 8)
    assert first_of_8 == ["a", "b", "c", "a", "b", "c", "a", "b"]  # consecutive texts, cycled


def test_throughput_runs_min_batches_and_min_seconds() -> None:
    clock = FakeClock()
    predictor = BatchCostPredictor(clock, fixed=0.25, per_text=0.0)
    plan = ThroughputPlan(batch_sizes=(4,), warmup=1, min_batches=3, min_seconds=1.0)
    measure_throughput(predictor, ["a"], plan, timer=clock)
    assert len(predictor.batches) == 1 + 4  # warm-up, then batches until 1 s of work
    predictor.batches.clear()
    measure_throughput(predictor, ["a"], ThroughputPlan((4,), 0, 3, 0.0), timer=clock)
    assert len(predictor.batches) == 3


def test_throughput_plan_validates() -> None:
    with pytest.raises(ValueError, match="`batch_sizes`"):
        ThroughputPlan(batch_sizes=(0, 8))
    with pytest.raises(ValueError, match="`min_batches`"):
        ThroughputPlan(min_batches=0)
    with pytest.raises(ValueError, match="`texts`"):
        measure_throughput(BatchCostPredictor(FakeClock(), 0, 0), [], ThroughputPlan())
