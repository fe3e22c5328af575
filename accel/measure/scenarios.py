"""MLPerf LoadGen's SingleStream, Server and Offline scenarios on one cell's predictor.

PerformanceOnly runs, short settings (:class:`ScenarioSettings`, docs/scenarios.md). LoadGen
issues queries on its own threads; the SUT answers SingleStream queries inline (one at a
time, as the scenario asks) and Server and Offline queries from one worker thread (one model
call at a time, up to ``batch`` samples a call), so that LoadGen's issue thread never waits
on the model. LoadGen's logs go to one folder per scenario; the figures come from its summary
log (:func:`accel.measure.scenario_records.parse_summary`).

Server: a bisection on ``server_target_qps`` for the highest Poisson arrival rate whose run
LoadGen marks VALID with ``server_target_latency_ns`` = the bound. A Ctrl-C stops the current
run as fast as LoadGen allows (the SUT answers without the model), is recorded as
``interrupted`` and raised again once LoadGen has returned.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accel.measure.records import Cell
from accel.measure.scenario_records import (
    ERROR,
    INTERRUPTED,
    INVALID,
    OFFLINE,
    OK,
    SERVER,
    SINGLE_STREAM,
    CellScenarios,
    LogError,
    Outcome,
    ScenarioSettings,
    gated_ratios,
    ratios,
    read_summary,
)

if TYPE_CHECKING:
    from accel.measure.predictors import Predictor


class _SUT:
    """The system under test: texts by QSL index, answered through ``predict``."""

    def __init__(self, predictor: Predictor, texts: Sequence[str], batch: int) -> None:
        self.predictor, self.texts, self.batch = predictor, texts, batch
        self.stop = threading.Event()  # set on Ctrl-C: answer at once, without the model
        self.failure: BaseException | None = None
        self._queue: queue.Queue[list[Any] | None] = queue.Queue()
        self._worker: threading.Thread | None = None

    def _answer(self, samples: Sequence[Any]) -> None:
        import mlperf_loadgen as lg

        if not self.stop.is_set():
            try:
                self.predictor.predict([self.texts[s.index] for s in samples])
            except Exception as exc:  # reported after the run; LoadGen still gets answers
                self.failure = self.failure or exc
                self.stop.set()
        lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, 0, 0) for s in samples])

    def issue_inline(self, samples: list[Any]) -> None:
        self._answer(samples)

    def issue_queued(self, samples: list[Any]) -> None:
        for start in range(0, len(samples), self.batch):
            self._queue.put(samples[start : start + self.batch])

    def _drain(self) -> None:
        while (item := self._queue.get()) is not None:
            pending = list(item)
            while len(pending) < self.batch:  # coalesce what queued up meanwhile
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                pending += more
            self._answer(pending)

    def __enter__(self) -> _SUT:
        self._worker = threading.Thread(target=self._drain, name="accel-sut", daemon=True)
        self._worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._queue.put(None)
        if self._worker is not None:
            self._worker.join(timeout=60)


def _run(
    sut: _SUT,
    scenario: str,
    settings: ScenarioSettings,
    folder: Path,
    tune: Callable[[Any], None],
) -> Outcome:
    """One LoadGen run of ``scenario``, its logs in ``folder``, its outcome from them."""
    import mlperf_loadgen as lg

    folder.mkdir(parents=True, exist_ok=True)
    test = lg.TestSettings()
    test.scenario = getattr(lg.TestScenario, scenario)
    test.mode = lg.TestMode.PerformanceOnly
    test.max_duration_ms = settings.max_ms
    test.qsl_rng_seed += settings.seed
    test.sample_index_rng_seed += settings.seed
    test.schedule_rng_seed += settings.seed
    tune(test)
    output = lg.LogOutputSettings()
    output.outdir = str(folder)
    output.copy_summary_to_stdout = False
    log = lg.LogSettings()
    log.log_output = output
    log.enable_trace = False
    issue = sut.issue_inline if scenario == SINGLE_STREAM else sut.issue_queued
    handle = lg.ConstructSUT(issue, lambda: None)
    count = min(settings.samples, len(sut.texts))
    qsl = lg.ConstructQSL(count, count, lambda _: None, lambda _: None)
    done = threading.Event()  # not Thread.join: a Ctrl-C inside join() can leave the thread
    # marked as finished while LoadGen still runs, and destroying its SUT then crashes it.

    def start() -> None:
        try:
            lg.StartTestWithLogSettings(handle, qsl, test, log)
        finally:
            done.set()

    threading.Thread(target=start, name="accel-loadgen", daemon=True).start()
    interrupted = False
    while not done.is_set():  # the main thread stays free to take a Ctrl-C
        try:
            done.wait(timeout=0.2)
        except KeyboardInterrupt:  # answer without the model until LoadGen returns, then raise
            interrupted = True
            sut.stop.set()
    lg.DestroyQSL(qsl)
    lg.DestroySUT(handle)
    if interrupted:
        raise KeyboardInterrupt
    if sut.failure is not None:
        raise RuntimeError(f"{scenario}: the predictor raised: {sut.failure!r}") from sut.failure
    return read_summary(folder)


def _estimate_rate(predictor: Predictor, texts: Sequence[str], batch: int) -> float:
    """Samples per second in calls of ``batch`` texts, over about half a second: what LoadGen
    is told to expect (``offline_expected_qps``; one sample a call: the SingleStream
    latency), so that it generates enough queries for the minimum duration."""
    predictor.predict(list(texts[:batch]))  # warm-up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.5:
        predictor.predict([texts[(done + i) % len(texts)] for i in range(batch)])
        done += batch
    return done / (time.perf_counter() - start)


def _scenarios(
    predictor: Predictor, texts: Sequence[str], s: ScenarioSettings, root: Path
) -> tuple[dict[str, Outcome], list[dict[str, Any]]]:
    outcomes: dict[str, Outcome] = {}
    steps: list[dict[str, Any]] = []
    with _SUT(predictor, texts, s.batch) as sut:
        # Told half the measured latency, LoadGen generates queries enough for the minimum.
        latency_ns = int(0.5e9 / _estimate_rate(predictor, texts, 1))

        def single(t: Any) -> None:
            t.min_duration_ms = s.single_stream_min_ms
            t.min_query_count = s.single_stream_min_queries
            t.single_stream_expected_latency_ns = max(latency_ns, 1000)

        outcomes[SINGLE_STREAM] = _run(sut, SINGLE_STREAM, s, root / SINGLE_STREAM, single)
        expected = _estimate_rate(predictor, texts, s.batch)

        def offline(t: Any) -> None:
            # Twice the estimate: LoadGen sizes its one query for the minimum duration at the
            # expected rate, and a query done sooner (the estimate taken while the machine was
            # busier) is INVALID; a larger one only takes longer.
            t.min_duration_ms, t.offline_expected_qps = s.offline_min_ms, 2 * expected

        outcomes[OFFLINE] = _run(sut, OFFLINE, s, root / OFFLINE, offline)
        # The upper bound: a quarter above the faster of the Offline rate and one-at-a-time
        # calls (some cells, like ORT int8, are faster a sample at a time than in batches).
        single_rate = 1e3 / outcomes[SINGLE_STREAM].figures.get("p50_ms", 1e3 / expected)
        high = 1.25 * max(outcomes[OFFLINE].figures.get("samples_per_s", expected), single_rate)
        upper = high
        low, best = 0.0, None
        for step in range(s.server_steps):
            target = round((low + high) / 2, 2)

            def server(t: Any, target: float = target) -> None:
                t.min_duration_ms, t.min_query_count = s.server_min_ms, s.server_min_queries
                t.server_target_qps = target
                t.server_target_latency_ns = int(s.server_latency_ms * 1e6)
                t.server_target_latency_percentile = s.server_percentile

            outcome = _run(sut, SERVER, s, root / SERVER / f"step{step}", server)
            steps.append({"target_qps": target} | outcome.to_dict())
            if outcome.valid:
                low, best = target, outcome
            else:
                high = target
        outcomes[SERVER] = best or Outcome(
            SERVER,
            INVALID,
            f"no VALID run in {len(steps)} steps down to {steps[-1]['target_qps']} qps; the "
            "last: " + str(steps[-1].get("reason", "")),
        )
        if best is not None:
            figures = dict(best.figures) | {"target_qps": low, "search_upper_qps": upper}
            outcomes[SERVER] = Outcome(SERVER, best.result, figures=figures)
    return outcomes, steps


def run_scenarios(
    predictor: Predictor, texts: Sequence[str], settings: ScenarioSettings, root: Path
) -> CellScenarios:
    """The three scenarios of one cell, logs under ``root``. A failure is recorded as
    ``error`` with its message; a Ctrl-C is raised again as :class:`ScenariosInterrupted`,
    carrying the ``interrupted`` record."""
    start = time.perf_counter()

    def record(
        status: str,
        message: str = "",
        outcomes: dict[str, Outcome] | None = None,
        steps: Sequence[dict[str, Any]] = (),
    ) -> CellScenarios:
        took = time.perf_counter() - start
        return CellScenarios(
            status, settings, outcomes or {}, tuple(steps), message, str(root), took
        )

    try:
        outcomes, steps = _scenarios(predictor, texts, settings, root)
    except KeyboardInterrupt:
        message = "interrupted (Ctrl-C) while LoadGen ran; this cell's scenarios were not finished"
        raise ScenariosInterrupted(record(INTERRUPTED, message)) from None
    except (Exception, LogError) as exc:
        return record(ERROR, f"LoadGen run failed: {exc}")
    return record(OK, "", outcomes, steps)


class ScenariosInterrupted(KeyboardInterrupt):
    """A Ctrl-C during a cell's scenarios, with the record that says so."""

    def __init__(self, record: CellScenarios) -> None:
        super().__init__(record.message)
        self.record = record


class ScenarioRuns:
    """A run's scenarios, cell by cell: the reference's once per device (its ratios' base),
    logs under ``root/<technique>-<device>/``; the gated ratios a cell's metrics get are
    :func:`~accel.measure.scenario_records.gated_ratios`."""

    def __init__(self, root: str | Path, settings: ScenarioSettings | None = None) -> None:
        self.root, self.settings = Path(root), settings or ScenarioSettings()
        self._records: dict[str, CellScenarios] = {}
        # After a Ctrl-C nothing more runs: every cell not done is this record.
        self.interrupted: CellScenarios | None = None

    def _record(self, cell_id: str, predictor: Predictor, texts: Sequence[str]) -> CellScenarios:
        if cell_id not in self._records:
            if self.interrupted is not None:
                return self.interrupted
            folder = self.root / cell_id.replace("/", "-")
            try:
                self._records[cell_id] = run_scenarios(predictor, texts, self.settings, folder)
            except ScenariosInterrupted as exc:  # the plugin raises it again, once recorded
                self.interrupted = exc.record
                return exc.record
        return self._records[cell_id]

    def run(
        self,
        cell: Cell,
        reference_technique: str,
        predictor_of: Callable[[Cell], Predictor],
        texts: Sequence[str],
    ) -> tuple[CellScenarios, dict[str, float]]:
        """``cell``'s record and gated ratios (its device's reference runs first, once)."""
        reference = Cell(reference_technique, cell.device)
        base = self._record(reference.id, predictor_of(reference), texts)
        if base.status == INTERRUPTED or cell == reference:  # the reference: no ratio to itself
            return base, {}
        record = self._record(cell.id, predictor_of(cell), texts)
        record = replace(record, ratios=ratios(record, base))
        return record, gated_ratios(record, base)
