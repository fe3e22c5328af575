"""The measured parts of a cell's record in the run JSON: metrics, latency, interval, reference.

Each reads itself from its JSON object (:class:`~accel.reporting.fields.Fields`, so errors
name the file and the field) and writes the same keys back. No torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

from accel.measure.records import SCORES
from accel.reporting.fields import Fields

if TYPE_CHECKING:
    from accel.measure.intervals import SpeedupInterval
    from accel.measure.records import Latency


@dataclass(frozen=True)
class LatencyMs:
    """Per-call latency statistics in milliseconds (a ``latency_ms`` object)."""

    mean: float
    std: float
    p50: float
    p90: float
    p99: float

    @classmethod
    def of(cls, latency: Latency) -> LatencyMs:
        return cls(latency.mean, latency.std, latency.p50, latency.p90, latency.p99)

    @classmethod
    def read(cls, r: Fields) -> LatencyMs:
        return cls(*(r.number(f.name) for f in fields(cls)))

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Interval:
    """The speedup's confidence interval (``speedup_ci``), ``level`` two-sided."""

    low: float
    high: float
    level: float

    @classmethod
    def of(cls, interval: SpeedupInterval) -> Interval:
        return cls(interval.low, interval.high, interval.level)

    @classmethod
    def read(cls, r: Fields) -> Interval:
        return cls(r.number("low"), r.number("high"), r.number("level"))

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Metrics:
    """A cell's gated metrics (``metrics``); ``extra`` holds those a technique adds
    (``sparsity``, ``compressed_size_mb``, ...)."""

    accuracy: float
    accuracy_in_scope: float | None  # None: the data has no reject label
    oos_recall: float | None
    size_mb: float
    speedup: float
    latency_ms: LatencyMs
    extra: dict[str, float] = field(default_factory=dict)
    macro_f1: float | None = None  # None: a run JSON older than the figure

    NAMED: ClassVar[tuple[str, ...]] = ("accuracy", *SCORES, "size_mb", "speedup")
    # Written from latency_ms, not kept: the flat ``latency_ms.p50`` repeats its p50.
    DERIVED: ClassVar[tuple[str, ...]] = ("latency_ms", "latency_ms.p50")

    @classmethod
    def read(cls, r: Fields) -> Metrics:
        optional = {k: r.number(k) if k in r.data else None for k in SCORES}
        return cls(
            accuracy=r.number("accuracy"),
            size_mb=r.number("size_mb"),
            speedup=r.number("speedup"),
            latency_ms=LatencyMs.read(r.obj("latency_ms")),
            extra={k: r.number(k) for k in r.data if k not in cls.NAMED + cls.DERIVED},
            **optional,
        )

    def to_dict(self) -> dict[str, Any]:
        # An extra metric not measured (NaN: a LoadGen figure marked INVALID) is left out; the
        # verdict says so. So is a score the data does not have (None).
        extra = {k: v for k, v in self.extra.items() if math.isfinite(v)}
        named = {name: getattr(self, name) for name in self.NAMED}
        return (
            extra
            | {name: value for name, value in named.items() if value is not None}
            | {"latency_ms.p50": self.latency_ms.p50, "latency_ms": self.latency_ms.to_dict()}
        )


@dataclass(frozen=True)
class Reference:
    """The reference on the same device, measured beside the cell (``reference``)."""

    accuracy: float
    size_mb: float
    latency_ms: LatencyMs

    @classmethod
    def read(cls, r: Fields) -> Reference:
        return cls(r.number("accuracy"), r.number("size_mb"), LatencyMs.read(r.obj("latency_ms")))

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "size_mb": self.size_mb,
            "latency_ms": self.latency_ms.to_dict(),
        }
