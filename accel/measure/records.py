"""Measurement records: accuracy, latency, speedup, and one cell's result (no torch)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from pytest_benchmark.stats import Stats

from accel.measure.behaviour import Behaviour
from accel.measure.intervals import SpeedupInterval, speedup_interval
from accel.measure.scenario_records import CellScenarios

# Keys of the scaling figures in a cell's ``reported`` mapping (and the run JSON).
LENGTH_PREFIX = "latency_p50_ms.tokens"  # + input length in tokens: p50 latency, ms
THROUGHPUT_PREFIX = "throughput_seq_per_s.b"  # + batch size: sequences per second
SECONDS_KEY = "scaling_seconds"  # what the sweep and the throughput took, together


# The scores beyond accuracy, each present only where the data has it (macro-F1 always; the
# other two with a reject label): Accuracy's optional fields, in the table's order.
SCORES = ("macro_f1", "accuracy_in_scope", "oos_recall")


@dataclass(frozen=True)
class Accuracy:
    """Accuracy on a labelled split: overall and macro-F1; in-scope accuracy and out-of-scope
    recall only for data with a reject label (None otherwise)."""

    accuracy: float
    accuracy_in_scope: float | None
    oos_recall: float | None
    n: int
    macro_f1: float | None = None
    # Whether each utterance was right, in split order: what paired tests resample.
    correct: tuple[bool, ...] = field(default=(), repr=False, compare=False)


@dataclass(frozen=True)
class Latency:
    """Statistics of per-call latencies, in milliseconds."""

    count: int
    mean: float
    std: float
    p50: float
    p90: float
    p99: float

    @classmethod
    def from_values(cls, seconds: Sequence[float]) -> Latency:
        """Summarize per-call durations given in seconds."""
        if not seconds:
            raise ValueError("`seconds` must not be empty")
        stats = Stats()
        for value in seconds:
            stats.update(value)
        p90, p99 = np.percentile(np.asarray(seconds), [90, 99])
        return cls(
            count=stats.rounds,
            mean=stats.mean * 1e3,
            std=stats.stddev * 1e3,
            p50=stats.median * 1e3,
            p90=float(p90) * 1e3,
            p99=float(p99) * 1e3,
        )

    def as_dict(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if k != "count"}


@dataclass(frozen=True)
class Speedup:
    """A cell's latency beside the reference's, timed interleaved in one process.

    ``reference_rounds[i]`` and ``cell_rounds[i]`` are the call durations (seconds) of round
    ``i``'s two blocks: what the confidence interval of the speedup resamples.
    """

    cell: Latency
    reference: Latency
    speedup: float
    round_speedups: tuple[float, ...]
    reference_rounds: tuple[tuple[float, ...], ...] = ()
    cell_rounds: tuple[tuple[float, ...], ...] = ()

    @property
    def cv(self) -> float:
        """Coefficient of variation of the per-round speedups."""
        if len(self.round_speedups) < 2:
            return 0.0
        return statistics.stdev(self.round_speedups) / statistics.mean(self.round_speedups)

    @cached_property
    def interval(self) -> SpeedupInterval:
        """The speedup's bootstrap confidence interval over the rounds (seeded)."""
        return speedup_interval(self.reference_rounds, self.cell_rounds)


@dataclass(frozen=True)
class Cell:
    """One technique on one device."""

    technique: str
    device: str

    @property
    def id(self) -> str:
        return f"{self.technique}/{self.device}"


@dataclass(frozen=True)
class CellResult:
    """Everything measured for one cell, beside the reference on the same device."""

    cell: Cell
    accuracy: Accuracy
    size_mb: float
    timing: Speedup
    build_seconds: float
    reference_accuracy: Accuracy
    reference_size_mb: float
    machine: dict[str, Any]
    model: dict[str, str]
    # The cached artifacts it was measured on, each {kind, key, definition} (the provenance).
    artifacts: tuple[dict[str, str], ...] = ()
    # Ungated figures, reported as measured: compile_seconds, throughput_seq_per_s.b<N>, ...
    reported: dict[str, float] = field(default_factory=dict)
    # Gated figures a technique adds (sparsity, compressed_size_mb, ...) and the behaviour's.
    extra_metrics: dict[str, float] = field(default_factory=dict)
    # Behaviour against the reference on the test split (None: not compared).
    behaviour: Behaviour | None = None
    # LoadGen's SingleStream, Server and Offline scenarios (--accel-scenarios), else None.
    scenarios: CellScenarios | None = None

    def provenance(self) -> dict[str, Any]:
        """What the cell was measured on, as results and baselines record it: ``model`` with
        its ``artifacts``."""
        return dict(self.model) | {"artifacts": [dict(a) for a in self.artifacts]}

    @property
    def speedup_interval(self) -> SpeedupInterval:
        """The speedup with its bootstrap confidence interval (:mod:`accel.measure.intervals`)."""
        return self.timing.interval

    def metrics(self) -> dict[str, float]:
        """Gated metrics, flat (``latency_ms.p50`` style keys)."""
        scores = {
            name: value
            for name in SCORES
            if (value := getattr(self.accuracy, name)) is not None
        }
        return self.extra_metrics | scores | {
            "accuracy": self.accuracy.accuracy,
            "size_mb": self.size_mb,
            "speedup": self.timing.speedup,
            "latency_ms.p50": self.timing.cell.p50,
        }
