"""The run JSON (``pytest --accel-json``): one schema, written and read by these dataclasses.

Version 2 is version 1 (the unversioned file) plus a top-level ``schema_version`` and, per
cell, ``status`` (one of :data:`STATUSES`), ``reasons`` and, for a skipped cell,
``skip_reason``, and a top-level ``warnings`` list when the run has any (a reference slowdown);
every other key keeps version 1's name and meaning; a measured cell may add ``behaviour``
(:meth:`accel.measure.behaviour.Behaviour.to_dict`) and ``scenarios``. Version 1 files still
read: their cells' status comes from the verdict text
(:func:`~accel.reporting.fields.status_from_verdict`) and they have no reasons. A cell never
measured (a build error, a skipped cell) has no measurement keys and None for every
measurement field. No torch: ``accel report`` reads a run without the measurement stack.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accel.measure.records import LENGTH_PREFIX, THROUGHPUT_PREFIX
from accel.reporting.fields import Fields, ReportError, int_keyed, status_from_verdict
from accel.reporting.measurements import Interval, LatencyMs, Metrics, Reference
from accel.reporting.scenario_fields import read_scenarios

if TYPE_CHECKING:
    from accel.measure.records import CellResult

SCHEMA_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)
STATUSES = ("pass", "fail", "better", "written", "error", "skipped")
__all__ = ["CellRecord", "ReportError", "RunRecord"]


# CellRecord's fields that every measured cell has and no other (speedup_ci may be None).
MEASUREMENTS: tuple[str, ...] = ("metrics", "speedup_cv", "round_speedups", "reference")
MEASUREMENTS += ("build_seconds", "reported", "machine", "model")


@dataclass(frozen=True)
class CellRecord:
    """One cell of a run: its verdict and, when it was measured, its measurements."""

    cell: str  # technique/device
    status: str  # one of STATUSES
    verdict: str  # the table's text: "pass (better: speedup)", "FAIL speedup", "ERROR", ...
    reasons: tuple[str, ...] = ()
    skip_reason: str | None = None
    metrics: Metrics | None = None
    speedup_cv: float | None = None
    speedup_ci: Interval | None = None  # None where the rounds could not give one
    round_speedups: tuple[float, ...] | None = None
    reference: Reference | None = None
    build_seconds: float | None = None
    reported: dict[str, float] | None = None  # ungated: compile_seconds, throughput, sweep
    machine: dict[str, Any] | None = None
    model: dict[str, Any] | None = None
    behaviour: dict[str, Any] | None = None  # against the reference; absent in older files
    scenarios: dict[str, Any] | None = None  # LoadGen's (scenario_fields), when run

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"`status` must be one of {', '.join(STATUSES)}, got {self.status!r}")
        if self.skip_reason is not None and self.status != "skipped":
            raise ValueError(f"`skip_reason` is for skipped cells, got status {self.status!r}")
        absent = [n for n in MEASUREMENTS if getattr(self, n) is None]
        if absent and (len(absent) < len(MEASUREMENTS) or self.speedup_ci is not None):
            raise ValueError(f"a measured cell needs every measurement, missing {absent}")

    @classmethod
    def from_result(
        cls, result: CellResult, status: str, verdict: str, reasons: Sequence[str] = ()
    ) -> CellRecord:
        """The record of a measured cell."""
        try:
            interval: Interval | None = Interval.of(result.speedup_interval)
        except ValueError:  # fewer than two rounds: no interval
            interval = None
        timing = result.timing
        return cls(
            cell=result.cell.id,
            status=status,
            verdict=verdict,
            reasons=tuple(reasons),
            metrics=Metrics(
                accuracy=result.accuracy.accuracy,
                accuracy_in_scope=result.accuracy.accuracy_in_scope,
                oos_recall=result.accuracy.oos_recall,
                macro_f1=result.accuracy.macro_f1,
                size_mb=result.size_mb,
                speedup=timing.speedup,
                latency_ms=LatencyMs.of(timing.cell),
                extra={  # one not measured (NaN: a failed serving process) is left out
                    k: v
                    for k, v in result.extra_metrics.items()
                    if k not in Metrics.NAMED + Metrics.DERIVED and math.isfinite(v)
                },
            ),
            speedup_cv=timing.cv,
            speedup_ci=interval,
            round_speedups=tuple(timing.round_speedups),
            reference=Reference(
                result.reference_accuracy.accuracy,
                result.reference_size_mb,
                LatencyMs.of(timing.reference),
            ),
            build_seconds=result.build_seconds,
            reported=dict(result.reported),
            machine=dict(result.machine),
            model=result.provenance(),
            behaviour=result.behaviour.to_dict() if result.behaviour else None,
            scenarios=result.scenarios.to_dict() if result.scenarios else None,
        )

    @classmethod
    def unmeasured(
        cls,
        cell: str,
        status: str,
        verdict: str,
        reasons: Sequence[str] = (),
        skip_reason: str | None = None,
    ) -> CellRecord:
        """The record of a cell without measurements (a build error, a skipped cell)."""
        return cls(cell, status, verdict, tuple(reasons), skip_reason)

    @classmethod
    def read(cls, r: Fields, version: int) -> CellRecord:
        """A cell from its JSON object (``r``) in a file of schema ``version``."""
        name = r.text("cell")
        if "/" not in name:
            raise r.error("cell", "must be like 'ort-int8/cpu'")
        verdict = r.text("verdict")
        reasons: tuple[str, ...] = ()
        skip = None
        if version == 1:
            status = status_from_verdict(verdict)
        else:
            status, reasons = r.text("status"), r.texts("reasons")
            if status not in STATUSES:
                raise r.error("status", f"must be one of {', '.join(STATUSES)}, got {status!r}")
            skip = r.text("skip_reason") if r.has("skip_reason") else None
            if skip is not None and status != "skipped":
                raise r.error("skip_reason", f"is for skipped cells, got status {status!r}")
        if not r.has("metrics"):
            return cls.unmeasured(name, status, verdict, reasons, skip)
        ci = r.get("speedup_ci")
        return cls(
            name,
            status,
            verdict,
            reasons,
            skip,
            metrics=Metrics.read(r.obj("metrics")),
            speedup_cv=r.number("speedup_cv"),
            speedup_ci=None if ci is None else Interval.read(r.obj("speedup_ci")),
            round_speedups=r.numbers("round_speedups"),
            reference=Reference.read(r.obj("reference")),
            build_seconds=r.number("build_seconds"),
            reported=r.number_map("reported"),
            machine=r.mapping("machine"),
            model=r.mapping("model"),
            behaviour=r.mapping("behaviour") if r.has("behaviour") else None,
            scenarios=read_scenarios(r.obj("scenarios")) if r.has("scenarios") else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The cell's JSON object: version 1's keys, then status, reasons, skip_reason."""
        out: dict[str, Any] = {"cell": self.cell, "verdict": self.verdict, "status": self.status}
        out["reasons"] = list(self.reasons)
        if self.skip_reason is not None:
            out["skip_reason"] = self.skip_reason
        if self.metrics is None or self.reference is None:
            return out
        out |= {"scenarios": self.scenarios} if self.scenarios else {}
        return out | {
            "metrics": self.metrics.to_dict(),
            "speedup_cv": self.speedup_cv,
            "speedup_ci": self.speedup_ci and self.speedup_ci.to_dict(),
            "round_speedups": list(self.round_speedups or ()),
            "reference": self.reference.to_dict(),
            "build_seconds": self.build_seconds,
            "reported": dict(self.reported or {}),
            "machine": dict(self.machine or {}),
            "model": dict(self.model or {}),
        } | ({"behaviour": dict(self.behaviour)} if self.behaviour is not None else {})

    @property
    def measured(self) -> bool:
        """Whether the cell has measurements (not an error, not skipped)."""
        return self.metrics is not None

    @property
    def technique(self) -> str:
        return self.cell.split("/")[0]

    @property
    def device(self) -> str:
        return self.cell.split("/")[-1]

    def _measured(self) -> tuple[Metrics, Reference]:
        if self.metrics is None or self.reference is None:
            raise ValueError(f"cell {self.cell} was not measured ({self.verdict})")
        return self.metrics, self.reference

    # A measured cell's figures; each is a ValueError for a cell without measurements.
    @property
    def accuracy(self) -> float:
        return self._measured()[0].accuracy

    @property
    def size_mb(self) -> float:
        return self._measured()[0].size_mb

    @property
    def speedup(self) -> float:
        return self._measured()[0].speedup

    @property
    def p50_ms(self) -> float:
        return self._measured()[0].latency_ms.p50

    @property
    def reference_accuracy(self) -> float:
        return self._measured()[1].accuracy

    @property
    def compressed_size_mb(self) -> float | None:
        """The sparse cells' compressed artifact size, None for the others."""
        return self._measured()[0].extra.get("compressed_size_mb")

    @property
    def length_p50_ms(self) -> dict[int, float]:
        """p50 latency (ms) by input length (tokens), from ``reported``, shortest first."""
        return int_keyed(self.reported or {}, LENGTH_PREFIX)

    @property
    def throughput(self) -> dict[int, float]:
        """Throughput (sequences/s) by batch size, from ``reported``, smallest first."""
        return int_keyed(self.reported or {}, THROUGHPUT_PREFIX)


@dataclass(frozen=True)
class RunRecord:
    """A run: its settings (JSON key ``run``) and its cells, from a file of ``schema_version``
    (a new record is :data:`SCHEMA_VERSION`, and so is every file this writes)."""

    settings: dict[str, Any]
    cells: tuple[CellRecord, ...]
    schema_version: int = SCHEMA_VERSION
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The file's content, at :data:`SCHEMA_VERSION` whatever version it was read from."""
        return {
            "schema_version": SCHEMA_VERSION,
            "run": dict(self.settings),
            "cells": [c.to_dict() for c in self.cells],
        } | ({"warnings": list(self.warnings)} if self.warnings else {})

    def to_json(self) -> str:
        """The file's text: sorted keys, indented by 2, a trailing newline."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: Any, source: Path) -> RunRecord:
        """Validate and parse a run JSON's content; errors name ``source`` and the field."""
        if not isinstance(data, dict):
            raise ReportError(f"{source}: expected a JSON object with fields run and cells")
        r = Fields(source, data)
        version = r.get("schema_version") if r.has("schema_version") else 1
        if type(version) is not int or version not in SUPPORTED_VERSIONS:
            supported = ", ".join(map(str, SUPPORTED_VERSIONS))
            raise r.error(
                "schema_version", f"is {version!r}; this accel reads versions {supported}"
            )
        settings = r.mapping("run")
        cells = tuple(
            CellRecord.read(Fields(source, item, f"cells[{i}]."), version)
            for i, item in enumerate(r.items("cells"))
        )
        return cls(settings, cells, version, r.texts("warnings") if r.has("warnings") else ())

    @classmethod
    def read(cls, path: Path) -> RunRecord:
        """Read and validate a run JSON file."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            hint = "write one with pytest --accel-json"
            raise ReportError(f"{path}: no such file ({hint})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ReportError(f"{path}: not valid JSON ({exc})") from exc
        return cls.from_dict(data, path)
