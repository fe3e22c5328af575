"""The matrix times its declared cells together, in one round-robin phase per device."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from accel import matrix as matrix_module
from accel.artifacts.models import Classifier
from accel.matrix import Matrix, RunConfig
from accel.measure import serving
from accel.measure.behaviour import Outputs
from accel.measure.machine import execution_provider
from accel.measure.predictors import Predictor
from accel.measure.records import Accuracy, Cell, Latency, Speedup
from accel.measure.timing import TimingPlan
from accel.techniques import builtin_registry

REF, A, B, BAD = (Cell(t, "cpu") for t in ("fp32", "ort-int8", "ort-fp32", "torch-int8"))
GPU = Cell("fp16", "cuda")


class Named:
    def __init__(self, name: str) -> None:
        self.name = name

    def predict(self, texts: Sequence[str]) -> list[str]:
        return ["oos"] * len(texts)

    def size_bytes(self) -> int:
        return 1


def _speedup() -> Speedup:
    lat = Latency.from_values([0.001, 0.002])
    return Speedup(lat, lat, 1.0, (1.0, 1.0), ((0.001,), (0.002,)), ((0.001,), (0.002,)))


@pytest.fixture()
def phases(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The cells of each timing phase, recorded instead of timed."""
    recorded: list[list[str]] = []

    def fake(
        reference: Predictor, cells: Mapping[str, Predictor], queries: Any, plan: Any
    ) -> dict[str, Speedup]:
        assert reference.name == f"fp32/{next(iter(cells)).split('/')[1]}"
        recorded.append(list(cells))
        return {name: _speedup() for name in cells}

    monkeypatch.setattr(matrix_module, "measure_speedups", fake)
    return recorded


def _matrix(monkeypatch: pytest.MonkeyPatch) -> Matrix:
    m = Matrix(RunConfig(plan=TimingPlan(rounds=2), serving=False), builtin_registry())
    m.__dict__["latency_queries"] = ["q"]
    for cell in (REF, A, B, BAD, GPU, Cell("fp32", "cuda")):
        m._predictors[cell.id] = Named(cell.id)

    def score(self: Matrix, cell: Cell) -> tuple[Accuracy, float]:
        if cell == BAD:
            raise RuntimeError("the build of torch-int8 failed")
        return Accuracy(0.9, 0.9, 0.5, 10), 1.0

    monkeypatch.setattr(Matrix, "score", score)
    return m


def test_the_first_timing_times_every_declared_cell_of_its_device(
    monkeypatch: pytest.MonkeyPatch, phases: list[list[str]]
) -> None:
    m = _matrix(monkeypatch)
    m.time_together([REF, A, B, GPU, A])
    assert m.together == (REF, A, B, GPU)
    m.timing(B)
    assert phases == [[B.id, REF.id, A.id]]  # the asked cell first; the GPU cell not yet
    m.timing(A)
    m.timing(REF)
    assert len(phases) == 1  # timed once, in that phase
    m.timing(GPU)
    assert phases[1] == [GPU.id]


def test_a_member_that_fails_is_left_out_with_its_error(
    monkeypatch: pytest.MonkeyPatch, phases: list[list[str]]
) -> None:
    m = _matrix(monkeypatch)
    m.time_together([REF, BAD, A])
    m.timing(A)
    assert phases == [[A.id, REF.id]]
    with pytest.raises(RuntimeError, match="torch-int8"):
        m.measure(BAD)


def test_an_undeclared_cell_is_timed_alone(
    monkeypatch: pytest.MonkeyPatch, phases: list[list[str]]
) -> None:
    m = _matrix(monkeypatch)
    m.timing(A)
    assert phases == [[A.id]]
    with pytest.raises(RuntimeError, match="torch-int8"):
        m.timing(BAD)


def test_a_hooks_extra_figures_join_the_cells_gated_metrics(
    monkeypatch: pytest.MonkeyPatch, phases: list[list[str]]
) -> None:
    """What ``pytest_accel_cell_metrics`` returns for a built cell is gated like its others."""
    seen: list[str] = []

    def extra(cell: Cell, predictor: Predictor) -> dict[str, float]:
        seen.append(f"{cell.id}:{predictor.name}")
        return {"robustness": 0.97}

    config = RunConfig(plan=TimingPlan(rounds=2), scaling=False, serving=False)
    m = Matrix(config, builtin_registry(), extra)
    m.__dict__["latency_queries"] = ["q"]
    m.__dict__["reference"] = Classifier(None, None, (), "ref", "sha256:ref")
    for cell in (REF, A):
        m._predictors[cell.id] = Named(cell.id)
        m._build_seconds[cell.id] = 0.0
        m._artifacts[cell.id] = ()
        m._outputs[cell.id] = Outputs(("x",))  # what score() keeps
    m.__dict__["test_references"] = ["x"]
    monkeypatch.setattr(Matrix, "score", lambda self, cell: (Accuracy(0.9, 0.9, 0.5, 10), 1.0))
    result = m.measure(A)
    assert result.extra_metrics["robustness"] == 0.97
    assert result.metrics()["robustness"] == 0.97
    assert result.metrics()["agreement"] == 1.0  # the behaviour's, beside the hook's
    assert seen == [f"{A.id}:{A.id}"]


def test_an_onnx_cell_records_its_execution_provider() -> None:
    class Session:
        def get_providers(self) -> list[str]:
            return ["CPUExecutionProvider"]

    class Ort(Named):
        session = Session()

    ort = Ort("ort-int8/cpu")
    assert execution_provider(ort) == {"execution_provider": "CPUExecutionProvider"}
    assert execution_provider(Named("fp32/cpu")) == {}


def test_the_serving_figures_join_the_cell_after_its_timing(
    monkeypatch: pytest.MonkeyPatch, phases: list[list[str]]
) -> None:
    """Peak memory and load time, measured after the timing phase: raw figures reported,
    ratios to the reference gated (``accel.measure.serving``'s bundle and child, faked here)."""
    served: list[str] = []

    def serve(bundle: Path, queries: Sequence[str], threads: int, cell: str) -> Any:
        served.append(f"{cell} after {len(phases)} phase(s)")
        peak = 400.0 if cell.startswith("fp32") else 300.0
        load = 2.0 if cell.startswith("fp32") else 0.5
        return serving.Serving(200.0, peak, 3 * load, (), load_cpu_seconds=load)

    monkeypatch.setattr(serving, "save_bundle", lambda predictor, directory: None)
    monkeypatch.setattr(serving, "serve", serve)
    m = _matrix(monkeypatch)
    m.__dict__["reference"] = Classifier(None, None, (), "ref", "sha256:ref")
    m.config = RunConfig(plan=TimingPlan(rounds=2), scaling=False)
    for cell in (REF, A):
        m._build_seconds[cell.id] = 0.0
        m._artifacts[cell.id] = ()
        m._outputs[cell.id] = Outputs(("x",))  # what score() keeps
    m.__dict__["test_references"] = ["x"]
    result = m.measure(A)
    assert sorted(served) == ["fp32/cpu after 1 phase(s)", "ort-int8/cpu after 1 phase(s)"]
    assert {k: result.extra_metrics[k] for k in ("memory_ratio", "load_time_ratio")} == {
        "memory_ratio": 0.75,
        "load_time_ratio": 0.25,
    }
    assert result.metrics()["memory_ratio"] == 0.75
    assert result.reported["serving.peak_rss_mb"] == 300.0
    assert result.reported["serving.reference_peak_rss_mb"] == 400.0
