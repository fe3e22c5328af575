"""The technique x device matrix, independent of pytest: build, measure, cache results.

Heavy imports (torch, transformers, datasets) happen inside the methods that need them, so
that importing this module (the pytest plugin does) stays cheap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from accel.artifacts.data import columns, intent_names
from accel.artifacts.models import EMBEDDED, model_record
from accel.artifacts.sources import DataSpec, load_data, reject_label
from accel.artifacts.store import record_use
from accel.measure.accuracy import score, size_mb
from accel.measure.behaviour import Outputs, compare_outputs
from accel.measure.machine import execution_provider, machine_record
from accel.measure.records import Accuracy, Cell, CellResult, Speedup
from accel.measure.reuse import accuracy_pass
from accel.measure.scaling import SweepPlan, length_inputs, scaling_figures
from accel.measure.scenarios import ScenarioRuns
from accel.measure.serving_run import ServingRun
from accel.measure.timing import TimingPlan, measure_speedups
from accel.techniques import REFERENCE, BuildContext, Registry
from accel.validation import check_at_least

if TYPE_CHECKING:
    import datasets

    from accel.artifacts.models import Classifier
    from accel.artifacts.provenance import Artifact
    from accel.measure.predictors import Predictor

# Extra gated figures of a built cell (the pytest_accel_cell_metrics hook), merged in.
CellMetrics = Callable[[Cell, "Predictor"], Mapping[str, float]]

LATENCY_QUERIES = 25  # fixed sample of test utterances cycled through by the latency blocks


@dataclass(frozen=True)
class RunConfig:
    """What a matrix run measures, and how."""

    model: str = EMBEDDED
    data: DataSpec = field(default_factory=DataSpec)  # default: CLINC150
    threads: int = 1
    plan: TimingPlan = field(default_factory=TimingPlan)
    batch_size: int = 64
    scaling: bool = True  # the length sweep and throughput of every cell (ungated: the report)
    sweep: SweepPlan = field(default_factory=SweepPlan)
    # Peak memory and load time of every cell, each in a fresh process (accel.measure.serving_run).
    serving: bool = True
    # Techniques whose cached artifacts are rebuilt (once each); "all": every technique's.
    rebuild: frozenset[str] = frozenset()
    scenarios: bool = False  # LoadGen's scenarios per cell, logs under scenario_logs
    scenario_logs: str = "reports/loadgen"
    # Read an unchanged cell's accuracy-pass outputs from the cache (accel.measure.reuse).
    reuse: bool = True

    def rebuilds(self, technique: str) -> bool:
        """Whether this run rebuilds ``technique``'s artifacts."""
        return technique in self.rebuild or "all" in self.rebuild

    def __post_init__(self) -> None:
        check_at_least(self, "threads", 1)
        check_at_least(self, "batch_size", 1)


def all_cells(registry: Registry, techniques: list[str], devices: list[str]) -> list[Cell]:
    """Every (technique, device) pair the registry supports, by device, in registry order."""
    return [
        Cell(name, device)
        for device in devices
        for name in techniques
        if device in registry[name].devices
    ]


class Matrix:
    """Lazily loads the data and the reference, then measures cells once each.

    Cells declared with :meth:`time_together` are timed in one round-robin phase per device,
    started by the first measurement on that device: each cell's rounds then span the whole
    phase (see :func:`accel.measure.timing.measure_speedups`). Any other cell is timed alone.
    """

    def __init__(
        self,
        config: RunConfig,
        registry: Registry,
        cell_metrics: CellMetrics | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self._cell_metrics = cell_metrics
        self._predictors: dict[str, Predictor] = {}
        self._build_seconds: dict[str, float] = {}
        self._artifacts: dict[str, tuple[Artifact, ...]] = {}
        self._rebuilt: set[str] = set()
        self._scores: dict[str, tuple[Accuracy, float]] = {}
        self._outputs: dict[str, Outputs] = {}
        self._accuracy_pass: dict[str, dict[str, float]] = {}  # reused, or its seconds
        self._results: dict[str, CellResult | BaseException] = {}
        self._timings: dict[str, Speedup] = {}
        self._together: list[Cell] = []
        self.scenario_runs = ScenarioRuns(config.scenario_logs)  # runs nothing until asked

    def time_together(self, cells: Iterable[Cell]) -> None:
        """Declare the cells this run will measure, so that they are timed together."""
        self._together = list(dict.fromkeys(cells))

    @property
    def together(self) -> tuple[Cell, ...]:
        """The cells declared with :meth:`time_together`, in order."""
        return tuple(self._together)

    @cached_property
    def data(self) -> datasets.DatasetDict:
        return load_data(self.config.data)

    @cached_property
    def reference(self) -> Classifier:
        import torch

        from accel.training.teacher import load_classifier

        torch.set_num_threads(self.config.threads)
        return load_classifier(self.config.model, self.data, self.config.rebuilds(REFERENCE))

    @cached_property
    def test_texts(self) -> list[str]:
        return columns(self.data["test"])[0]

    @cached_property
    def test_references(self) -> list[str]:
        names = intent_names(self.data)
        return [names[i] for i in columns(self.data["test"])[1]]

    @cached_property
    def latency_queries(self) -> list[str]:
        step = max(1, len(self.test_texts) // LATENCY_QUERIES)
        return self.test_texts[::step][:LATENCY_QUERIES]

    def predictor(self, cell: Cell) -> Predictor:
        if cell.id not in self._predictors:
            import torch

            ctx = BuildContext(
                self.reference,
                self.data,
                cell.device,
                self.config.threads,
                rebuild=self.config.rebuilds(cell.technique),
                rebuilt=self._rebuilt,
            )
            torch.set_num_threads(self.config.threads)
            start = time.perf_counter()
            self._predictors[cell.id] = self.registry[cell.technique].builder()(ctx)
            self._build_seconds[cell.id] = time.perf_counter() - start
            used = {a.key: a for a in (*self.reference.artifacts, *ctx.used)}
            self._artifacts[cell.id] = tuple(used.values())
        return self._predictors[cell.id]

    def score(self, cell: Cell) -> tuple[Accuracy, float]:
        """Test-set accuracy and size in MB of ``cell`` (computed once)."""
        if cell.id not in self._scores:
            predictor = self.predictor(cell)
            outputs = self._classify(cell, predictor)
            self._outputs[cell.id] = outputs
            accuracy = score(outputs.labels, self.test_references, reject_label(self.config.data))
            self._scores[cell.id] = (accuracy, size_mb(predictor))
        return self._scores[cell.id]

    def _classify(self, cell: Cell, predictor: Predictor) -> Outputs:
        """The accuracy pass: ``cell``'s test-set outputs, read from the cache when nothing
        they depend on changed (:mod:`accel.measure.reuse`)."""
        done = accuracy_pass(
            predictor,
            self.test_texts,
            build=self.registry[cell.technique].builder(),
            artifacts=self._artifacts[cell.id],
            reference=self.reference,
            batch_size=self.config.batch_size,
            device=cell.device,
            threads=self.config.threads,
            fresh=not self.config.reuse or self.config.rebuilds(cell.technique),
        )
        # So that `accel cache prune` keeps what the cell's latest run used.
        record_use(cell.id, [*(f"{a.kind}/{a.key}" for a in self._artifacts[cell.id]), done.entry])
        self._accuracy_pass[cell.id] = done.figures
        return done.outputs

    def outputs(self, cell: Cell) -> Outputs:
        """``cell``'s labels (and probabilities) on the test split, from its accuracy pass."""
        self.score(cell)
        return self._outputs[cell.id]

    def measure(self, cell: Cell) -> CellResult:
        """Measure ``cell`` (once; later calls return the same result or raise the same error)."""
        if cell.id not in self._results:
            try:
                self._results[cell.id] = self._measure(cell)
            except BaseException as exc:
                if not isinstance(exc, Exception):
                    raise
                self._results[cell.id] = exc
        outcome = self._results[cell.id]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def _measure(self, cell: Cell) -> CellResult:
        reference_cell = Cell(REFERENCE, cell.device)
        ref_accuracy, ref_size = self.score(reference_cell)
        accuracy, size = self.score(cell)
        timing = self.timing(cell)
        predictor, threads = self.predictor(cell), self.config.threads
        reported = dict(getattr(predictor, "reported", {})) | self._accuracy_pass.get(cell.id, {})
        if self.config.scaling:
            reported |= scaling_figures(
                predictor, cell.device, self.length_inputs, self.test_texts, self.config.sweep
            )
        behaviour = compare_outputs(
            self.outputs(cell), self.outputs(reference_cell), self.test_references
        )
        served, ratios = self.serving.figures(cell.id, cell.device, predictor)  # fresh processes
        scenarios, loaded = (  # LoadGen's scenarios (accel.measure.scenarios), if asked for
            self.scenario_runs.run(cell, REFERENCE, self.predictor, self.test_texts)
            if self.config.scenarios
            else (None, {})
        )
        return CellResult(
            cell=cell,
            accuracy=accuracy,
            size_mb=size,
            timing=timing,
            build_seconds=self._build_seconds[cell.id],
            reference_accuracy=ref_accuracy,
            reference_size_mb=ref_size,
            machine=machine_record(cell.device, threads) | execution_provider(predictor),
            model=model_record(
                self.config.model,
                self.reference,
                self._artifacts[cell.id],
                getattr(predictor, "trained_fingerprint", None),
            ),
            artifacts=tuple(a.record() for a in self._artifacts[cell.id]),
            reported=reported | served,
            extra_metrics=dict(getattr(predictor, "extra_metrics", {}))
            | ratios
            | loaded
            | dict(self._cell_metrics(cell, predictor) if self._cell_metrics else {})
            | behaviour.gated(),
            behaviour=behaviour,
            scenarios=scenarios,
        )

    def timing(self, cell: Cell) -> Speedup:
        """``cell``'s speedup over the reference, timed with every declared cell of its device
        not timed yet (each built and scored first; one that fails there is left out, and its
        error is what measuring it raises)."""
        if cell.id not in self._timings:
            done = self._timings.keys() | self._results.keys()
            group = [c for c in self._together if c.device == cell.device and c.id not in done]
            ready: dict[str, Predictor] = {}
            for member in [cell, *[c for c in group if c != cell]]:
                try:
                    self.score(member)
                except Exception as exc:
                    if member == cell:
                        raise
                    self._results[member.id] = exc
                    continue
                ready[member.id] = self.predictor(member)
            reference, queries = self.reference_predictor(cell.device), self.latency_queries
            self._timings |= measure_speedups(reference, ready, queries, self.config.plan)
            self.serving.prefetch(cell.device, ready)  # after the timing phase, never during it
        return self._timings[cell.id]

    def reference_predictor(self, device: str) -> Predictor:
        """The reference's predictor on ``device``: what every cell there is measured beside."""
        return self.predictor(Cell(REFERENCE, device))

    @cached_property
    def serving(self) -> ServingRun:
        run = self.config
        return ServingRun(self.latency_queries, run.threads, self.reference_predictor, run.serving)

    @cached_property
    def length_inputs(self) -> dict[int, str]:
        """One test-word text of each sweep length (tokens, by the reference's tokenizer)."""
        return length_inputs(self.reference.tokenizer, self.test_texts, self.config.sweep.lengths)

    def results(self) -> list[CellResult]:
        """The cells measured so far, successfully."""
        return [r for r in self._results.values() if isinstance(r, CellResult)]
