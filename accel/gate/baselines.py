"""Baseline files: one reviewed JSON per cell, read with validation, compared, written.

Every gated metric has a direction: a change for the better never fails (it is reported as
"better", a hint to refresh the baseline); a change for the worse fails once it exceeds the
tolerance. That makes the decision monotone in each metric. The speedup, when its confidence
interval is known, is decided on the interval (see :mod:`accel.gate.latency`): its tolerance
is the margin that the interval's upper bound must clear.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from accel.artifacts.cache import write_text_atomic
from accel.gate.latency import SPEEDUP_MARGIN, regression_rule, regression_verdict
from accel.measure.intervals import SpeedupInterval

SCHEMA_VERSION = 1
HIGHER, LOWER = "higher", "lower"

# metric -> which direction is better
DIRECTIONS: dict[str, str] = {
    "accuracy": HIGHER,
    "accuracy_in_scope": HIGHER,
    "oos_recall": HIGHER,
    "size_mb": LOWER,
    "speedup": HIGHER,
    "latency_ms.p50": LOWER,
    "sparsity": HIGHER,
    "compressed_size_mb": LOWER,
}
# Compared only when the machine (CPU model, threads, device) matches the baseline's.
MACHINE_BOUND = frozenset({"latency_ms.p50"})
# Timing metrics: they only warn when latency is not gated (a GPU model other than the baseline's).
TIMING = frozenset({"speedup", "latency_ms.p50"})
REQUIRED_METRICS = ("accuracy", "accuracy_in_scope", "oos_recall", "size_mb", "speedup")
# Gated where a technique measures them (pruning); once in a baseline, a run must measure them.
OPTIONAL_METRICS = ("sparsity", "compressed_size_mb")
LATENCY_FIELDS = ("p50", "p90", "p99", "mean", "std")

# Accuracy and size are deterministic for a given model and library stack: tight bounds.
# The speedup tolerance is the latency decision's margin, from measured noise (see
# accel.gate.latency and README, "The latency decision").
DEFAULT_TOLERANCES: dict[str, dict[str, float]] = {
    "accuracy": {"abs": 0.005},
    "accuracy_in_scope": {"abs": 0.005},
    "oos_recall": {"abs": 0.01},
    "size_mb": {"rel": 0.02},
    "speedup": {"rel": SPEEDUP_MARGIN},
    "latency_ms.p50": {"rel": 0.50},
    "sparsity": {"abs": 0.005},
    "compressed_size_mb": {"rel": 0.02},
}

Verdict = Literal["ok", "better", "worse", "warn", "skipped"]
# A speedup margin of 100% or more could never fail; cap it below (a tolerance file may say 1.0).
MAX_MARGIN = 0.99


class BaselineError(ValueError):
    """A baseline file is missing, corrupt or incomplete."""


@dataclass(frozen=True)
class Tolerance:
    """Allowed change for the worse: absolute, relative to the baseline, or both (the larger)."""

    abs: float = 0.0
    rel: float = 0.0

    def __post_init__(self) -> None:
        if not (self.abs >= 0 and self.rel >= 0):
            raise ValueError(f"tolerances must be >= 0, got abs={self.abs} rel={self.rel}")

    def widest(self, other: Tolerance) -> Tolerance:
        """The larger of each bound."""
        return Tolerance(abs=max(self.abs, other.abs), rel=max(self.rel, other.rel))

    def allowed(self, baseline: float) -> float:
        return max(self.abs, self.rel * abs(baseline))

    def describe(self) -> str:
        parts = ([f"±{self.abs:g}"] if self.abs else []) + (
            [f"±{self.rel:.0%}"] if self.rel else []
        )
        return " or ".join(parts) or "exact"


# When the model's fingerprint differs from the baseline's (e.g. the embedded teacher retrained
# from the same recipe on a cold cache: CPU training here is not bitwise reproducible), these
# metrics are compared with at least these tolerances. Measured: a cold retrain of the teacher
# moved accuracy by <= 0.005, in-scope accuracy by <= 0.004 and out-of-scope recall by up to
# 0.042; a whole cold .ci/run (teacher and every trained cell retrained) moved pruned-movement's
# accuracy by 0.0118, nearly all of it out-of-scope recall (-0.062, 1,000 of the 5,500 test
# utterances), so accuracy gets the room its out-of-scope part already had.
RETRAINED_TOLERANCES: dict[str, Tolerance] = {
    "accuracy": Tolerance(abs=0.015),
    "accuracy_in_scope": Tolerance(abs=0.01),
    "oos_recall": Tolerance(abs=0.08),
}


@dataclass(frozen=True)
class Row:
    """One line of a comparison: metric, obtained, baseline, diff, tolerance, verdict."""

    metric: str
    obtained: float
    baseline: float
    tolerance: Tolerance
    verdict: Verdict
    note: str = ""
    interval: tuple[float, float] | None = None  # the obtained value's confidence interval
    rule: str = ""  # how an interval decision was made, with its numbers

    @property
    def diff(self) -> float:
        return self.obtained - self.baseline

    def obtained_text(self) -> str:
        """The obtained value, with its interval when it has one."""
        text = f"{self.obtained:.4f}"
        if self.interval is None:
            return text
        return f"{text} [{self.interval[0]:.4f}, {self.interval[1]:.4f}]"


@dataclass(frozen=True)
class Baseline:
    """The parsed content of one baseline file."""

    cell: str
    metrics: dict[str, float]
    latency_ms: dict[str, float]
    tolerances: dict[str, Tolerance]
    model: dict[str, str]
    machine: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, compare=False)

    def flat_metrics(self) -> dict[str, float]:
        return self.metrics | {f"latency_ms.{k}": v for k, v in self.latency_ms.items()}


def baseline_path(root: Path, cell: str) -> Path:
    """``<root>/<device>/<technique>.json`` for a cell id ``technique/device``."""
    technique, device = cell.split("/")
    return root / device / f"{technique}.json"


def decide(direction: str, obtained: float, baseline: float, tol: Tolerance) -> Verdict:
    """Compare one metric; worse beyond the tolerance fails, better beyond it is flagged."""
    if not (math.isfinite(obtained) and math.isfinite(baseline)):
        return "worse" if not math.isfinite(obtained) else "ok"
    gain = obtained - baseline if direction == HIGHER else baseline - obtained
    allowed = tol.allowed(baseline)
    if gain < -allowed:
        return "worse"
    if gain > allowed:
        return "better"
    return "ok"


def compare(
    obtained: Mapping[str, float],
    baseline: Baseline,
    machine_matches: bool,
    model_matches: bool = True,
    latency_gated: bool = True,
    speedup_interval: SpeedupInterval | None = None,
) -> list[Row]:
    """Rows for every gated metric present in both ``obtained`` and the baseline.

    Raw latency is skipped on another machine; on another model (fingerprint), accuracy
    metrics get at least :data:`RETRAINED_TOLERANCES`; when ``latency_gated`` is False (a GPU
    model other than the baseline's), a timing metric that got worse is a warning, not a
    failure. With ``speedup_interval``, the speedup is decided on its confidence interval, the
    tolerance being the margin (:func:`accel.gate.latency.regression_verdict`).
    """
    base = baseline.flat_metrics()
    rows = []
    for metric, direction in DIRECTIONS.items():
        if metric not in base or (metric not in obtained and metric not in OPTIONAL_METRICS):
            continue
        tol = baseline.tolerances.get(metric) or Tolerance(**DEFAULT_TOLERANCES[metric])
        value, reference = obtained.get(metric, math.nan), base[metric]  # nan: not measured
        if metric in MACHINE_BOUND and not machine_matches:
            rows.append(Row(metric, value, reference, tol, "skipped", "other machine"))
            continue
        note = ""
        if metric in RETRAINED_TOLERANCES and not model_matches:
            tol = tol.widest(RETRAINED_TOLERANCES[metric])
            note = "other model"
        interval, rule = None, ""
        if metric == "speedup" and speedup_interval is not None and reference > 0:
            margin = min(tol.allowed(reference) / reference, MAX_MARGIN)
            verdict: Verdict = regression_verdict(speedup_interval, reference, margin)
            interval = (speedup_interval.low, speedup_interval.high)
            rule = regression_rule(speedup_interval, reference, margin)
        else:
            verdict = decide(direction, value, reference, tol)
        if metric in TIMING and not latency_gated:
            note = "other GPU, not gated"
            verdict = "warn" if verdict == "worse" else verdict
        rows.append(Row(metric, value, reference, tol, verdict, note, interval, rule))
    return rows


def format_rows(rows: list[Row]) -> str:
    """The mismatch table: metric | obtained | baseline | diff | tolerance | verdict."""
    header = ("metric", "obtained", "baseline", "diff", "tolerance", "verdict")
    lines = [header] + [
        (
            r.metric,
            r.obtained_text(),
            f"{r.baseline:.4f}",
            f"{r.diff:+.4f}",
            r.tolerance.describe(),
            r.verdict + (f" ({r.note})" if r.note else ""),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def explain(rows: list[Row]) -> str:
    """The interval decisions behind failing or warning rows, one line each (may be empty)."""
    return "".join(
        f"{r.metric}: {r.rule}\n" for r in rows if r.rule and r.verdict in ("worse", "warn")
    )


def _number(path: Path, data: Mapping[str, Any], key: str, where: str) -> float:
    if key not in data:
        raise BaselineError(f"{path}: missing field {where}{key}")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BaselineError(f"{path}: field {where}{key} must be a number, got {value!r}")
    return float(value)


def _mapping(path: Path, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    if key not in data:
        raise BaselineError(f"{path}: missing field {key}")
    if not isinstance(data[key], dict):
        raise BaselineError(f"{path}: field {key} must be an object, got {data[key]!r}")
    return data[key]


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
    try:
        metrics_raw = _mapping(path, raw, "metrics")
        present = REQUIRED_METRICS + tuple(k for k in OPTIONAL_METRICS if k in metrics_raw)
        metrics = {k: _number(path, metrics_raw, k, "metrics.") for k in present}
        latency_raw = _mapping(path, metrics_raw, "latency_ms")
        latency = {k: _number(path, latency_raw, k, "metrics.latency_ms.") for k in LATENCY_FIELDS}
        tolerances: dict[str, Tolerance] = {}
        for metric, spec in _mapping(path, raw, "tolerances").items():
            if metric not in DIRECTIONS:
                raise BaselineError(
                    f"{path}: field tolerances.{metric} is not a gated metric "
                    f"(known: {', '.join(DIRECTIONS)})"
                )
            if not isinstance(spec, dict) or not spec or set(spec) - {"abs", "rel"}:
                raise BaselineError(
                    f'{path}: field tolerances.{metric} must be like {{"abs": 0.005}} or '
                    f'{{"rel": 0.1}}, got {spec!r}'
                )
            values = {k: _number(path, spec, k, f"tolerances.{metric}.") for k in spec}
            try:
                tolerances[metric] = Tolerance(**values)
            except ValueError as exc:
                raise BaselineError(f"{path}: field tolerances.{metric}: {exc}") from exc
        model = dict(_mapping(path, raw, "model"))
        machine = dict(_mapping(path, raw, "machine"))
    except BaselineError as exc:
        raise BaselineError(f"{exc}. {fix}") from None
    return Baseline(raw["cell"], metrics, latency, tolerances, model, machine, raw)


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
    metrics: Mapping[str, float],
    latency_ms: Mapping[str, float],
    model: Mapping[str, str],
    machine: Mapping[str, Any],
    created: str,
    accel_version: str,
    tolerances: Mapping[str, Tolerance] | None = None,
) -> str:
    """The JSON text of a baseline file: sorted keys, indent 2, floats rounded to 4 places."""
    tol = tolerances or {k: Tolerance(**v) for k, v in DEFAULT_TOLERANCES.items() if k in metrics}
    present = REQUIRED_METRICS + tuple(k for k in OPTIONAL_METRICS if k in metrics)
    document = {
        "schema_version": SCHEMA_VERSION,
        "cell": cell,
        "model": dict(model),
        "metrics": {k: metrics[k] for k in present} | {"latency_ms": dict(latency_ms)},
        "tolerances": {
            k: {name: v for name, v in (("abs", t.abs), ("rel", t.rel)) if v}
            for k, t in tol.items()
        },
        "machine": dict(machine),
        "created": created,
        "accel_version": accel_version,
    }
    return json.dumps(_rounded(document), indent=2, sort_keys=True) + "\n"


def write_baseline(path: Path, text: str) -> None:
    """Write a rendered baseline atomically."""
    write_text_atomic(path, text)
