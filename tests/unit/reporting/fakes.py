"""Synthetic run records for the reporting tests: exact figures, no model, no timing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from accel.measure.behaviour import Behaviour, Outputs, compare_outputs
from accel.measure.records import Accuracy, Cell, CellResult, Latency, Speedup
from accel.reporting.measurements import Interval, LatencyMs, Metrics, Reference
from accel.reporting.schema import CellRecord, RunRecord

SETTINGS: dict[str, Any] = {
    "model": "embedded",
    "threads": 1,
    "rounds": 20,
    "speedup_ci_level": 0.9,
}


def latency(p50: float) -> LatencyMs:
    return LatencyMs(mean=p50 * 1.02, std=p50 * 0.05, p50=p50, p90=p50 * 1.2, p99=p50 * 1.5)


def scaling(p50: float) -> dict[str, float]:
    """A length sweep, throughputs and a compile time, as a cell's ``reported`` figures."""
    sweep = {f"latency_p50_ms.tokens{n}": p50 * (1 + n / 64) for n in (16, 32, 64, 128, 256, 512)}
    rates = {f"throughput_seq_per_s.b{b}": 1000 / p50 * b**0.5 for b in (1, 8, 32)}
    return sweep | rates | {"compile_seconds": 3.0}


def cell_record(
    name: str,
    accuracy: float,
    size: float,
    p50: float,
    speedup: float,
    *,
    status: str = "pass",
    verdict: str = "pass",
    extra: dict[str, float] | None = None,
    behaviour: Behaviour | None = None,
) -> CellRecord:
    """A measured cell with exact figures (a 3% speedup interval either side)."""
    return CellRecord(
        cell=name,
        status=status,
        verdict=verdict,
        reasons=("speedup below the baseline",) if status == "fail" else (),
        metrics=Metrics(accuracy, accuracy + 0.09, 0.41, size, speedup, latency(p50), extra or {}),
        speedup_cv=0.01,
        speedup_ci=Interval(speedup * 0.97, speedup * 1.03, 0.9),
        round_speedups=(speedup * 0.99, speedup, speedup * 1.01),
        reference=Reference(0.8647, 91.1, latency(p50 * speedup)),
        build_seconds=1.5,
        reported=scaling(p50),
        machine={"cpu": "Synthetic CPU", "threads": 1, "device": name.split("/")[1], "gpu": None},
        model={"checkpoint": "embedded", "fingerprint": "sha256:0123"},
        behaviour=behaviour.to_dict() if behaviour else None,
    )


def behaviour(lost: int) -> Behaviour:
    """A cell that gets ``lost`` of class a's 30 utterances wrong where the reference (right on
    every utterance of classes a and b) does not, against the label-only reference."""
    truth = ["a"] * 30 + ["b"] * 30
    cell = ["b"] * lost + ["a"] * (30 - lost) + ["b"] * 30
    return compare_outputs(Outputs(tuple(cell)), Outputs(tuple(truth)), truth)


def write_run(path: Path, cells: list[CellRecord], settings: dict[str, Any] | None = None) -> Path:
    path.write_text(RunRecord(settings or SETTINGS, tuple(cells)).to_json(), encoding="utf-8")
    return path


def cell_result(
    cell: str, speedup: float = 8.0, rounds: int = 10, lost: int | None = None
) -> CellResult:
    """A measured CellResult, as the matrix returns it: constant durations, so the speedup's
    interval is the speedup itself; with :func:`behaviour` when ``lost`` is given."""
    technique, device = cell.split("/")
    ref = Latency.from_values([0.008] * 10)
    lat = Latency.from_values([0.008 / speedup] * 10)
    timing = Speedup(
        lat,
        ref,
        speedup,
        (speedup,) * rounds,
        reference_rounds=((0.008,) * 5,) * rounds,
        cell_rounds=((0.008 / speedup,) * 5,) * rounds,
    )
    return CellResult(
        cell=Cell(technique, device),
        accuracy=Accuracy(0.86, 0.95, 0.5, 5500),
        size_mb=20.0,
        timing=timing,
        build_seconds=0.1,
        reference_accuracy=Accuracy(0.87, 0.96, 0.5, 5500),
        reference_size_mb=90.0,
        machine={"cpu": "fake", "threads": 1, "device": device, "gpu": None},
        model={"checkpoint": "fake", "fingerprint": "sha256:fake"},
        reported={"compile_seconds": 12.5, "throughput_seq_per_s.b8": 1234.0},
        extra_metrics={"sparsity": 0.5, "compressed_size_mb": 14.0},
        behaviour=None if lost is None else behaviour(lost),
    )
