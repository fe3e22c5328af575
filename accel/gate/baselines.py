"""Baseline files: one reviewed JSON per cell, read with validation, rendered, written.

What each metric means and how it is compared lives in :mod:`accel.gate.metrics` and
:mod:`accel.gate.compare`; this module only reads and writes the files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accel.artifacts.cache import write_text_atomic
from accel.gate import metrics as gated
from accel.gate.base_head import Against
from accel.gate.calibration import Calibration, parse
from accel.gate.metrics import METRICS, Tolerance

SCHEMA_VERSION = 1
LATENCY_FIELDS = ("p50", "p90", "p99", "mean", "std")


class BaselineError(ValueError):
    """A baseline file is missing, corrupt or incomplete."""


@dataclass(frozen=True)
class Baseline:
    """The parsed content of one baseline file."""

    cell: str
    metrics: dict[str, float]
    latency_ms: dict[str, float]
    tolerances: dict[str, Tolerance]
    model: dict[str, Any]  # fingerprints, definition, artifacts (the provenance)
    machine: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, compare=False)
    # Margins measured by `accel calibrate` (accel.gate.calibration), by kind of base.
    calibration: dict[Against, Calibration] = field(default_factory=dict)

    def flat_metrics(self) -> dict[str, float]:
        return self.metrics | {f"latency_ms.{k}": v for k, v in self.latency_ms.items()}


def baseline_path(root: Path, cell: str) -> Path:
    """``<root>/<device>/<technique>.json`` for a cell id ``technique/device``."""
    technique, device = cell.split("/")
    return root / device / f"{technique}.json"


def expected_cell(path: Path) -> str:
    """The cell id a file's place implies: ``<device>/<technique>.json`` is ``technique/device``."""
    return f"{path.stem}/{path.parent.name}"


def _number(path: Path, data: Mapping[str, Any], key: str, where: str) -> float:
    if key not in data:
        raise BaselineError(f"{path}: missing field {where}{key}")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BaselineError(f"{path}: field {where}{key} must be a number, got {value!r}")
    return float(value)


def _measured(path: Path, data: Mapping[str, Any], key: str, where: str) -> float:
    """A metric's value, within its domain (a NaN, infinite, zero or negative figure where
    none can be is a bad baseline, never a pass)."""
    value = _number(path, data, key, where)
    name = f"{where}{key}".removeprefix("metrics.")
    domain = gated.domain(name)
    if not domain.admits(value):
        raise BaselineError(
            f"{path}: field {where}{key} is {value!r}; {name} must be {domain.describe()}"
        )
    return value


def _tolerance(path: Path, metric: str, spec: Any) -> Tolerance:
    if not isinstance(spec, dict) or not spec or set(spec) - {"abs", "rel"}:
        raise BaselineError(
            f'{path}: field tolerances.{metric} must be like {{"abs": 0.005}} or '
            f'{{"rel": 0.1}}, got {spec!r}'
        )
    values = {k: _number(path, spec, k, f"tolerances.{metric}.") for k in spec}
    try:
        tolerance = Tolerance(**values)
    except ValueError as exc:
        raise BaselineError(f"{path}: field tolerances.{metric} is {spec!r}: {exc}") from exc
    problem = METRICS[metric].tolerance_problem(tolerance)
    if problem:
        raise BaselineError(f"{path}: field tolerances.{metric} is {spec!r}: {problem}")
    return tolerance


def _mapping(path: Path, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    if key not in data:
        raise BaselineError(f"{path}: missing field {key}")
    if not isinstance(data[key], dict):
        raise BaselineError(f"{path}: field {key} must be an object, got {data[key]!r}")
    return data[key]


def baseline_or_error(path: Path) -> Baseline | BaselineError | None:
    """:func:`read_baseline`, with ``None`` for no file and the error for a bad one."""
    try:
        return read_baseline(path)
    except FileNotFoundError:
        return None
    except BaselineError as exc:
        return exc


def read_baseline(path: Path) -> Baseline:
    """Parse and validate a baseline file; errors name the file and the field."""
    fix = "Fix the file or regenerate it with `pytest --accel-update-baselines`."
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{path}: not valid JSON ({exc}). {fix}") from exc
    if not isinstance(raw, dict):
        raise BaselineError(f"{path}: expected a JSON object. {fix}")
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BaselineError(
            f"{path}: field schema_version is {version!r}, this accel reads {SCHEMA_VERSION}. {fix}"
        )
    if not isinstance(raw.get("cell"), str):
        raise BaselineError(f"{path}: missing field cell (a string like 'ort-int8/cpu'). {fix}")
    if raw["cell"] != expected_cell(path):
        raise BaselineError(
            f"{path}: field cell is {raw['cell']!r}, but this file's place is the baseline of "
            f"{expected_cell(path)!r} (baselines/<device>/<technique>.json). Move the file to "
            f"{raw['cell'].split('/')[-1]}/{raw['cell'].split('/')[0]}.json under the baselines "
            "directory, or regenerate it with `pytest --accel-update-baselines`."
        )
    try:
        metrics_raw = _mapping(path, raw, "metrics")
        present = gated.required() + tuple(k for k in gated.optional() if k in metrics_raw)
        metrics = {k: _measured(path, metrics_raw, k, "metrics.") for k in present}
        latency_raw = _mapping(path, metrics_raw, "latency_ms")
        latency = {
            k: _measured(path, latency_raw, k, "metrics.latency_ms.") for k in LATENCY_FIELDS
        }
        tolerances: dict[str, Tolerance] = {}
        for metric, spec in _mapping(path, raw, "tolerances").items():
            if metric not in METRICS:
                raise BaselineError(
                    f"{path}: field tolerances.{metric} is not a gated metric "
                    f"(known: {', '.join(METRICS)})"
                )
            tolerances[metric] = _tolerance(path, metric, spec)
        model = dict(_mapping(path, raw, "model"))
        machine = dict(_mapping(path, raw, "machine"))
        calibration = parse(raw.get("calibration", {}))
    except BaselineError as exc:
        raise BaselineError(f"{exc}. {fix}") from None
    except ValueError as exc:  # the calibration's message names its field and the fix
        raise BaselineError(f"{path}: {exc}") from None
    return Baseline(raw["cell"], metrics, latency, tolerances, model, machine, raw, calibration)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def render_baseline(
    cell: str,
    values: Mapping[str, float],
    latency_ms: Mapping[str, float],
    model: Mapping[str, Any],
    machine: Mapping[str, Any],
    created: str,
    accel_version: str,
    tolerances: Mapping[str, Tolerance] | None = None,
    calibration: Mapping[Against, Calibration] | None = None,
) -> str:
    """The JSON text of a baseline file: sorted keys, indent 2, floats rounded to 4 places.

    An optional metric this run could not measure (NaN, or outside its domain) is left out; a
    required one is an error: a baseline never records a figure that no run can be held to.
    ``calibration`` (the previous file's, kept when a baseline is rewritten) is written as is."""
    figures = {k: values[k] for k in gated.required()}
    figures |= {f"latency_ms.{k}": v for k, v in latency_ms.items()}
    bad = [k for k, v in figures.items() if not gated.domain(k).admits(v)]
    if bad:
        raise ValueError(f"{cell}: no baseline from a run that did not measure {', '.join(bad)}")
    tol = {k: m.tolerance for k, m in METRICS.items() if k in values} | dict(tolerances or {})
    present = gated.required() + tuple(
        k for k in gated.optional() if k in values and gated.domain(k).admits(values[k])
    )
    document = {
        "schema_version": SCHEMA_VERSION,
        "cell": cell,
        "model": dict(model),
        "metrics": {k: values[k] for k in present} | {"latency_ms": dict(latency_ms)},
        "tolerances": {k: t.as_dict() for k, t in tol.items()},
        "machine": dict(machine),
        "created": created,
        "accel_version": accel_version,
    }
    if calibration:
        document["calibration"] = _calibration_field(calibration)
    return _dumps(document)


def _calibration_field(found: Mapping[Against, Calibration]) -> dict[str, Any]:
    return {k: c.as_dict() for k, c in sorted(found.items())}


def _dumps(document: Mapping[str, Any]) -> str:
    return json.dumps(_rounded(document), indent=2, sort_keys=True) + "\n"


def with_calibration(baseline: Baseline, calibration: Calibration) -> str:
    """The text of ``baseline``'s file with ``calibration`` set for its kind of base; every
    other field as it was."""
    document = dict(baseline.raw)
    found = dict(baseline.calibration) | {calibration.against: calibration}
    document["calibration"] = _calibration_field(found)
    return _dumps(document)


def write_baseline(path: Path, text: str) -> None:
    """Write a rendered baseline atomically."""
    write_text_atomic(path, text)
