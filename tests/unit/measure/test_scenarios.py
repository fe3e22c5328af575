"""LoadGen's scenarios: the summary-log parser on committed LoadGen logs, a short run of the
three scenarios on a fake predictor, the record through the run JSON, the table's line, an
interrupted or failing run, and the gated ratios' treatment of a run without scenarios."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import replace as dataclasses_replace
from pathlib import Path

import pytest

from accel.gate.baselines import read_baseline
from accel.gate.compare import compare
from accel.gate.metrics import METRICS
from accel.measure.records import Cell
from accel.measure.scenario_records import (
    ERROR,
    INTERRUPTED,
    INVALID,
    OFFLINE,
    OK,
    SCENARIOS,
    SERVER,
    SINGLE_STREAM,
    VALID,
    CellScenarios,
    LogError,
    Outcome,
    ScenarioSettings,
    gated_ratios,
    parse_summary,
    ratios,
)
from accel.measure.scenarios import ScenarioRuns, ScenariosInterrupted, run_scenarios
from accel.reporting.fields import Fields
from accel.reporting.scenario_fields import read_scenarios
from accel.reporting.scenario_report import scenario_text
from tests.unit.gate.test_baselines import METRICS as BASELINE_METRICS
from tests.unit.gate.test_baselines import _write as write_baseline_file

DATA = Path(__file__).parent / "data"
# Seconds, not minutes: every run a fraction of a second, three Server steps.
TINY = ScenarioSettings(
    samples=64,
    single_stream_min_ms=300,
    single_stream_min_queries=100,
    server_min_ms=300,
    server_min_queries=100,
    server_steps=3,
    offline_min_ms=300,
    max_ms=3000,
)


class FakePredictor:
    """About 0.2 ms a call, whatever the batch."""

    name = "fake"

    def __init__(self, fail: BaseException | None = None) -> None:
        self.fail = fail
        self.calls = 0

    def predict(self, texts: Sequence[str]) -> list[str]:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        time.sleep(0.0002)
        return ["oos"] * len(texts)

    def size_bytes(self) -> int:
        return 1


TEXTS = [f"utterance {i}" for i in range(100)]


def test_a_valid_summary_gives_its_figures_in_ms() -> None:
    outcome = parse_summary((DATA / "loadgen-summary-valid.txt").read_text())
    assert outcome.scenario == SINGLE_STREAM and outcome.valid
    f = outcome.figures
    assert math.isclose(f["p90_ms"], 1.07937)
    assert math.isclose(f["early_stop_p90_ms"], 1.096135)
    assert math.isclose(f["early_stop_p99_ms"], 3.345099)
    assert f["p99_ms"] > f["p90_ms"] > f["p50_ms"] > 0


def test_an_invalid_summary_gives_its_reason_and_no_number() -> None:
    outcome = parse_summary((DATA / "loadgen-summary-invalid.txt").read_text())
    assert outcome.scenario == SERVER and outcome.result == INVALID
    assert outcome.figures == {}
    assert "performance constraints satisfied: no" in outcome.reason
    assert "Reduce target QPS" in outcome.reason
    written = outcome.to_dict()
    assert written == {"result": INVALID, "reason": outcome.reason}
    text = scenario_text({"status": OK, "settings": {}, SERVER: written})
    assert text.startswith("Server INVALID (performance constraints")
    assert not any(ch.isdigit() for ch in text.split("(")[0])


def test_a_log_without_a_result_is_an_error() -> None:
    with pytest.raises(LogError, match="Result is"):
        parse_summary("Scenario : Server\nnothing else\n")


def test_a_valid_summary_with_errors_is_invalid() -> None:
    text = (DATA / "loadgen-summary-valid.txt").read_text()
    outcome = parse_summary(text, detail_errors=["error_runtime: ran out of queries"])
    assert outcome.result == INVALID and "ran out of queries" in outcome.reason


def test_three_scenarios_on_a_fake_predictor(tmp_path: Path) -> None:
    record = run_scenarios(FakePredictor(), TEXTS, TINY, tmp_path)
    assert record.status == OK, record.message
    assert set(record.outcomes) == set(SCENARIOS)
    for name, outcome in record.outcomes.items():
        assert (tmp_path / name).is_dir()
        if outcome.valid:
            assert outcome.figures and all(v > 0 for v in outcome.figures.values())
        else:
            assert outcome.reason and not outcome.figures
    assert len(record.server_steps) == TINY.server_steps
    assert (tmp_path / SERVER / "step0" / "mlperf_log_summary.txt").is_file()
    # Through the run JSON and back, validated.
    written = json.loads(json.dumps(record.to_dict()))
    assert read_scenarios(Fields(Path("run.json"), written)) == written
    assert all(name in scenario_text(written) for name in SCENARIOS)


def test_ratios_only_between_valid_figures() -> None:
    settings = ScenarioSettings()
    base = CellScenarios(
        OK,
        settings,
        {
            OFFLINE: Outcome(OFFLINE, VALID, figures={"samples_per_s": 200.0}),
            SERVER: Outcome(SERVER, VALID, figures={"qps": 80.0}),
            SINGLE_STREAM: Outcome(SINGLE_STREAM, VALID, figures={"p90_ms": 8.0}),
        },
    )
    cell = CellScenarios(
        OK,
        settings,
        {
            OFFLINE: Outcome(OFFLINE, VALID, figures={"samples_per_s": 600.0}),
            SERVER: Outcome(SERVER, INVALID, "no VALID run"),
            SINGLE_STREAM: Outcome(SINGLE_STREAM, VALID, figures={"p90_ms": 2.0}),
        },
    )
    assert ratios(cell, base) == {"offline_throughput_ratio": 3.0, "singlestream_p90_ratio": 0.25}
    shown = scenario_text(dataclasses_replace(cell, ratios=ratios(cell, base)).to_dict())
    assert shown.endswith("x reference: SingleStream p90 0.25, Offline samples/s 3")


def test_an_invalid_figure_fails_its_gated_ratio_unless_the_reference_is_invalid() -> None:
    settings = ScenarioSettings()
    valid = {
        OFFLINE: Outcome(OFFLINE, VALID, figures={"samples_per_s": 200.0}),
        SERVER: Outcome(SERVER, VALID, figures={"qps": 80.0}),
        SINGLE_STREAM: Outcome(SINGLE_STREAM, INVALID, "min queries satisfied: no"),
    }
    base = CellScenarios(OK, settings, valid)
    cell = CellScenarios(OK, settings, valid | {SERVER: Outcome(SERVER, INVALID, "no VALID run")})
    gated = gated_ratios(cell, base)
    assert gated["offline_throughput_ratio"] == 1.0
    assert math.isnan(gated["server_qps_ratio"])  # not measured: fails against a baseline
    assert "singlestream_p90_ratio" not in gated  # the reference's INVALID: nothing to judge
    failed = CellScenarios(ERROR, settings, message="boom")
    assert all(math.isnan(v) for v in gated_ratios(failed, base).values())
    assert gated_ratios(CellScenarios(INTERRUPTED, settings), base) == {}


def test_a_not_measured_ratio_fails_the_baseline_and_stays_out_of_the_json(
    tmp_path: Path,
) -> None:
    import dataclasses

    from accel.reporting.schema import CellRecord, RunRecord
    from tests.unit.reporting.fakes import cell_result

    result = dataclasses.replace(
        cell_result("ort-int8/cpu"), extra_metrics={"server_qps_ratio": math.nan}
    )
    record = CellRecord.from_result(result, "fail", "FAIL server_qps_ratio")
    path = tmp_path / "run.json"
    path.write_text(RunRecord({}, (record,)).to_json(), encoding="utf-8")
    assert "server_qps_ratio" not in RunRecord.read(path).cells[0].to_dict()["metrics"]


def test_a_failing_predictor_is_an_error_record(tmp_path: Path) -> None:
    record = run_scenarios(FakePredictor(RuntimeError("boom")), TEXTS, TINY, tmp_path)
    assert record.status == ERROR and "boom" in record.message
    assert not record.outcomes


def test_an_interrupt_is_recorded_then_raised(tmp_path: Path) -> None:
    with pytest.raises(ScenariosInterrupted) as caught:
        run_scenarios(FakePredictor(KeyboardInterrupt()), TEXTS, TINY, tmp_path)
    assert caught.value.record.status == INTERRUPTED
    assert isinstance(caught.value, KeyboardInterrupt)
    runs = ScenarioRuns(tmp_path)
    record, gated = runs.run(
        Cell("ort-int8", "cpu"), "fp32", lambda c: FakePredictor(KeyboardInterrupt()), TEXTS
    )
    assert record.interrupted and gated == {}
    assert "interrupted" in scenario_text(record.to_dict())


def test_scenario_ratios_do_not_fail_a_run_without_scenarios(tmp_path: Path) -> None:
    """A gated ratio is declared skippable: once in a baseline, a run without the scenarios
    shows it as a skipped row, and a run with them is held to it."""
    assert METRICS["server_qps_ratio"].skippable
    metrics = BASELINE_METRICS | {"server_qps_ratio": 6.0}
    path = write_baseline_file(tmp_path, metrics)
    baseline = read_baseline(path)
    assert baseline.metrics["server_qps_ratio"] == 6.0
    without = {k: v for k, v in metrics.items() if k != "server_qps_ratio"}
    skipped = {r.metric: r for r in compare(without, baseline)}["server_qps_ratio"]
    assert (skipped.verdict, skipped.note) == ("skipped", "not tried in this run")
    rows = {r.metric: r for r in compare(metrics | {"server_qps_ratio": 2.0}, baseline)}
    assert rows["server_qps_ratio"].verdict == "worse"
    invalid = {
        r.metric: r for r in compare(metrics | {"server_qps_ratio": math.nan}, baseline)
    }
    assert invalid["server_qps_ratio"].verdict == "worse"
    assert invalid["server_qps_ratio"].note == "not measured"


def test_the_option_reaches_pytest() -> None:
    from accel.cli import build_parser
    from accel.plugin.options import forward

    args = build_parser().parse_args(["run", "--scenarios"])
    assert forward(vars(args)) == ["--accel-scenarios"]


def _record(server_valid: bool = True) -> CellScenarios:
    server = (
        Outcome(SERVER, VALID, figures={"qps": 79.5, "p99_ms": 27.0, "target_qps": 80.0})
        if server_valid
        else Outcome(SERVER, INVALID, "no VALID run in 5 steps down to 10 qps")
    )
    steps = (
        {"target_qps": 160.0, "result": INVALID, "reason": "performance constraints: no"},
        {"target_qps": 80.0, "result": VALID, "figures": {"qps": 79.5, "p99_ms": 27.0}},
    )
    return CellScenarios(
        OK,
        ScenarioSettings(),
        {
            SINGLE_STREAM: Outcome(
                SINGLE_STREAM,
                VALID,
                figures={"p90_ms": 8.3, "p99_ms": 10.4, "early_stop_p90_ms": 8.5},
            ),
            SERVER: server,
            OFFLINE: Outcome(OFFLINE, VALID, figures={"samples_per_s": 219.1}),
        },
        steps,
        log_dir="reports/loadgen/fp32-cpu",
    )


def test_the_table_the_json_and_the_report_show_the_scenarios(tmp_path: Path) -> None:
    import dataclasses

    from accel.gate.verdict import CellVerdict, Check, Status
    from accel.reporting.report import write_report
    from accel.reporting.schema import CellRecord, RunRecord
    from accel.reporting.table import markdown_table, terminal_table
    from tests.unit.reporting.fakes import cell_result

    results = [
        dataclasses.replace(cell_result("fp32/cpu", 1.0), scenarios=_record()),
        dataclasses.replace(cell_result("ort-int8/cpu"), scenarios=_record(server_valid=False)),
    ]
    passed = Check(Status.PASS, "pass")
    verdicts = [CellVerdict(r.cell.id, passed, passed, r) for r in results]
    table = terminal_table(verdicts, "title")
    assert "LoadGen scenarios (PerformanceOnly" in table
    assert "fp32/cpu: SingleStream p90 8.3 ms (early-stop 8.5), p99 10.4 ms" in table
    assert "Server 80 qps (p99 27 ms <= 100 ms)" in table and "Offline 219 samples/s" in table
    assert "Server INVALID (no VALID run in 5 steps" in table
    assert "Server INVALID" in markdown_table(verdicts, "title")
    records = [CellRecord.from_result(r, "pass", "pass") for r in results]
    path = tmp_path / "run.json"
    path.write_text(RunRecord({"model": "embedded"}, tuple(records)).to_json(), encoding="utf-8")
    again = RunRecord.read(path)
    assert [c.scenarios for c in again.cells] == [
        r.scenarios.to_dict() for r in results if r.scenarios
    ]
    written = write_report(path, tmp_path / "report")
    assert (tmp_path / "report" / "server-qps-vs-p99-cpu.png") in written
    text = (tmp_path / "report" / "report.md").read_text()
    assert "LoadGen scenarios" in text and "INVALID (no VALID run" in text
    assert "p99 <= 100 ms" in text  # the bound, with the settings


def test_an_invalid_figure_in_the_json_is_refused(tmp_path: Path) -> None:
    from accel.reporting.fields import ReportError

    bad = _record().to_dict()
    bad[SERVER] = {"result": INVALID, "reason": "x", "figures": {"qps": 1.0}}
    with pytest.raises(ReportError, match=r"Server\.figures must be absent"):
        read_scenarios(Fields(Path("run.json"), bad))


def test_a_ctrl_c_during_a_loadgen_run_stops_it_cleanly(tmp_path: Path) -> None:
    """The main thread takes the Ctrl-C while LoadGen runs the Server scenario on its own
    threads: the SUT answers without the model until LoadGen returns, LoadGen's objects are
    destroyed only then (earlier, it crashes), and the interrupt is recorded, then raised."""
    import _thread
    import signal
    import threading

    # A process started in the background by a non-interactive shell ignores SIGINT, and
    # then interrupt_main does nothing: make Ctrl-C deliverable, as in a terminal.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    settings = dataclasses_replace(TINY, server_min_ms=5000, max_ms=20000)
    timer = threading.Timer(2.5, _thread.interrupt_main)  # SingleStream, Offline: about 1 s
    timer.start()
    start = time.perf_counter()
    try:
        ended = run_scenarios(FakePredictor(), TEXTS, settings, tmp_path)
    except ScenariosInterrupted as exc:
        record = exc.record
    else:  # say how the run ended without the Ctrl-C, not just that nothing was raised
        took = time.perf_counter() - start
        pytest.fail(f"no Ctrl-C after {took:.1f} s: {ended.status}, {ended.message}")
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert record.status == INTERRUPTED
    assert time.perf_counter() - start < 15
    assert "Ctrl-C" in record.message


def test_the_reference_runs_once_a_device_and_has_no_ratio_to_itself(tmp_path: Path) -> None:
    predictors = {"fp32/cpu": FakePredictor(), "ort-int8/cpu": FakePredictor()}
    runs = ScenarioRuns(tmp_path, TINY)
    record, gated = runs.run(Cell("ort-int8", "cpu"), "fp32", lambda c: predictors[c.id], TEXTS)
    assert record.status == OK
    assert gated == record.ratios  # every ratio is gated (where both figures are VALID)
    assert set(gated) <= {"offline_throughput_ratio", "server_qps_ratio", "singlestream_p90_ratio"}
    calls = predictors["fp32/cpu"].calls
    reference, _ = runs.run(Cell("fp32", "cpu"), "fp32", lambda c: predictors[c.id], TEXTS)
    assert predictors["fp32/cpu"].calls == calls  # cached: not run again
    assert reference.ratios == {} and (tmp_path / "fp32-cpu" / SINGLE_STREAM).is_dir()
