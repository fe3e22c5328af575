"""The fidelity benchmark's test-only slowdown and its bookkeeping (not its timing)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from accel.measure import timing as bench
from accel.measure.predictors import Predictor

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import gate_fidelity
from slowdown import SlowedPredictor


class Ticking:
    """A clock that advances by ``step`` at every read."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class Costly:
    name = "costly"

    def __init__(self, clock: Ticking, cost: float) -> None:
        self.clock, self.cost = clock, cost

    def predict(self, texts: Sequence[str]) -> list[str]:
        self.clock.now += self.cost
        return ["oos"] * len(texts)

    def size_bytes(self) -> int:
        return 7


@pytest.mark.parametrize("slowdown", [0.0, 0.1, 0.25, 0.5])
def test_slowdown_busy_waits_its_share_of_each_call(slowdown: float) -> None:
    clock = Ticking(step=1e-6)
    slowed = SlowedPredictor(Costly(clock, cost=0.01), slowdown, timer=clock)
    start = clock.now
    assert slowed.predict(["a", "b"]) == ["oos", "oos"]
    assert clock.now - start == pytest.approx(0.01 * (1 + slowdown), abs=1e-5)
    assert slowed.size_bytes() == 7


def test_slowdown_is_validated() -> None:
    with pytest.raises(ValueError, match="`slowdown`"):
        SlowedPredictor(Costly(Ticking(0), 0), -0.1)


def _run(speedup: float, low: float, high: float, load: str = "idle") -> dict[str, object]:
    return {"speedup": speedup, "low": low, "high": high, "load": load}


def test_rates_count_worse_verdicts_per_condition_and_load() -> None:
    runs = {
        "clean-idle": [_run(8.0, 7.8, 8.2), _run(7.0, 6.9, 7.1)],  # the second: a false alarm
        "clean-busy": [_run(7.5, 7.3, 7.7, "busy"), _run(7.9, 7.5, 8.3, "busy")],
        "slowdown-0.25": [_run(6.4, 6.3, 6.5), _run(7.1, 6.9, 7.3, "busy")],
    }
    summary = gate_fidelity.summarize(runs, [0.25], baseline=8.0, margin=0.1)
    assert summary["false_alarm"]["rate"] == 0.25 and summary["false_alarm"]["runs"] == 4
    assert summary["false_alarm_by_load"]["idle"]["worse"] == 1
    assert summary["false_alarm_by_load"]["busy"]["worse"] == 0
    assert summary["detection"]["0.25"]["rate"] == 0.5
    assert summary["detection_by_load"]["0.25"]["idle"]["rate"] == 1.0
    assert summary["detection_by_load"]["0.25"]["busy"]["rate"] == 0.0


def test_rejudge_changes_the_headline_not_the_runs(tmp_path: Path) -> None:
    runs = {
        "clean-idle": [_run(8.0, 7.8, 8.2)],
        "clean-busy": [_run(7.5, 7.3, 7.7, "busy")],
        "slowdown-0.25": [_run(6.4, 6.3, 6.5), _run(7.1, 6.9, 7.1, "busy")],
    }
    path = tmp_path / "fidelity.json"
    doc = {
        "command": "python benchmarks/gate_fidelity.py",
        "settings": {"margin": 0.1, "slowdowns": [0.25]},
        "baseline": {"speedup": 8.0},
        "conditions": runs,
    } | gate_fidelity.judge(runs, [0.25], 8.0, 0.1)
    path.write_text(gate_fidelity.json.dumps(doc))
    assert doc["detection_rate"] == {"0.25": 1.0}  # 7.1 < 0.9 x 8 = 7.2
    rejudged = gate_fidelity.rejudge(path, 0.15, "python benchmarks/gate_fidelity.py --rejudge")
    assert rejudged["detection_rate"] == {"0.25": 0.5}  # 7.1 >= 0.85 x 8 = 6.8
    assert rejudged["settings"]["margin"] == 0.15 and rejudged["conditions"] == runs
    assert rejudged["rejudged"]["before"]["margin"] == 0.1
    path.write_text("{}")
    with pytest.raises(SystemExit, match="not a complete gate_fidelity"):
        gate_fidelity.rejudge(path, 0.15, "")


def test_wilson_interval() -> None:
    low, high = gate_fidelity.wilson(0, 80)
    assert low == 0 and 0.04 < high < 0.05
    low, high = gate_fidelity.wilson(38, 40)
    assert low < 0.95 < high <= 1


def test_phases_alternate_loads_and_name_their_cells() -> None:
    assert [gate_fidelity.load_of(p) for p in range(4)] == ["idle", "busy", "idle", "busy"]
    assert gate_fidelity.condition_name(0) == "clean"
    assert gate_fidelity.condition_name(0.25) == "slowdown-0.25"


def test_a_phase_records_every_cell_with_the_phase_cpu_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Ticking(0.0)
    monkeypatch.setattr(bench, "default_timer", clock)
    ref = Costly(clock, 0.008)
    cells: dict[str, Predictor] = {
        "clean": Costly(clock, 0.002),
        "slowdown-0.5": Costly(clock, 0.003),
    }
    plan = gate_fidelity.TimingPlan(warmup=0, rounds=2, block=1)
    runs = gate_fidelity.measure_phase(ref, cells, ["q"], plan, threads=1)
    assert sorted(runs) == ["clean", "slowdown-0.5"]
    assert runs["clean"]["speedup"] == pytest.approx(4.0)
    assert runs["slowdown-0.5"]["speedup"] == pytest.approx(8 / 3)
    assert runs["clean"]["phase_seconds"] == runs["slowdown-0.5"]["phase_seconds"]


def test_every_option_has_help() -> None:
    parser = gate_fidelity.build_parser()
    for action in parser._actions:
        assert action.help, action.dest
    with pytest.raises(SystemExit):
        parser.parse_args(["--slowdowns", "a,b"])


def test_idle_check_compares_cpu_use_with_this_process_alone() -> None:
    cpus = gate_fidelity.os.cpu_count() or 1
    alone = [{"cpu_busy_fraction": 1 / cpus}] * 3
    assert gate_fidelity.idle_check(alone, threads=1)["idle"]
    if cpus > 1:
        crowded = [{"cpu_busy_fraction": 1.0}] * 3
        check = gate_fidelity.idle_check(crowded, threads=1)
        assert not check["idle"] and "another process was running" in check["note"]
    assert gate_fidelity.idle_check([{"cpu_busy_fraction": None}], 1)["idle"]


def test_interval_coverage_counts_intervals_holding_the_median() -> None:
    import interval_coverage

    runs = [
        {"speedup": 6.0, "low": 5.9, "high": 6.1},  # holds the median 6.0
        {"speedup": 5.0, "low": 4.9, "high": 5.1},  # misses it
        {"speedup": 7.0, "low": 5.5, "high": 7.5},  # holds it
    ]
    c = interval_coverage.coverage(runs)
    assert c["median_speedup"] == 6.0
    assert c["covers_median"] == pytest.approx(2 / 3)
    assert c["between_run_cv"] == pytest.approx(1.0 / 6.0)
    assert c["mean_half_width"] == pytest.approx((0.1 / 6 + 0.1 / 5 + 1.0 / 7) / 3)
