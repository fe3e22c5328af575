"""Hooks through which a conftest or a plugin changes the gate's policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from accel.measure.predictors import Predictor
    from accel.measure.records import Cell
    from accel.techniques import Registry

hookspec = pytest.hookspec


@hookspec
def pytest_accel_register_techniques(registry: Registry) -> None:
    """Add techniques (``registry.add(technique)``) or devices (``registry.add_device``).

    Called once, when the gate first needs its registry, after the built-ins and the
    ``accel.techniques`` entry points.
    """


@hookspec(firstresult=True)
def pytest_accel_same_machine(
    obtained: Mapping[str, Any], baseline: Mapping[str, Any]
) -> bool | None:
    """Whether raw milliseconds measured on ``obtained`` compare with ``baseline``'s (machine
    records: cpu, gpu, device, threads, library versions): when they do, the reference's p50
    against its baseline's measures how much slower the machine runs (it widens the speedup
    margins) and tells a reference slowdown. Return None to leave it to the default rule (same
    CPU model, GPU, device and threads)."""


@hookspec
def pytest_accel_cell_metrics(cell: Cell, predictor: Predictor) -> Mapping[str, float] | None:
    """Extra gated figures of a built cell, by metric name. Each name must be declared with
    :func:`accel.gate.metrics.declare` (direction, unit, tolerance); baselines then record
    and gate it like the built-in metrics."""
