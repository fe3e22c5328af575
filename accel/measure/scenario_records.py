"""LoadGen scenario results: settings, per-scenario outcomes, the summary-log parser (no
LoadGen import: the run JSON and the table read these without it).

A figure LoadGen marks INVALID is never kept as a number: its outcome says ``INVALID`` and
why (the summary's unsatisfied constraints and recommendations), and carries no figures.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SINGLE_STREAM, SERVER, OFFLINE = "SingleStream", "Server", "Offline"
SCENARIOS = (SINGLE_STREAM, SERVER, OFFLINE)
VALID, INVALID = "VALID", "INVALID"
# A cell's scenarios as a whole: all three ran, a Ctrl-C stopped them, or something raised.
OK, INTERRUPTED, ERROR = "ok", "interrupted", "error"
STATUSES = (OK, INTERRUPTED, ERROR)


@dataclass(frozen=True)
class ScenarioSettings:
    """LoadGen settings of one cell's three scenarios (docs/scenarios.md: why these)."""

    samples: int = 1024  # QSL size and performance sample count (the first test texts)
    batch: int = 32  # Offline batches; the Server worker's largest batch
    single_stream_min_ms: int = 5000
    single_stream_min_queries: int = 500  # early stopping's p99 estimate needs ~460
    server_latency_ms: float = 100.0  # the bound on the Server scenario's p99
    server_percentile: float = 0.99
    server_min_ms: int = 3000
    server_min_queries: int = 500
    server_steps: int = 5  # bisection steps on server_target_qps below the Offline rate
    offline_min_ms: int = 2000  # its one query is sized for twice that (scenarios.py)
    max_ms: int = 15000  # every run's max_duration_ms
    seed: int = 0  # LoadGen's qsl/sample-index/schedule seeds stay at their defaults + this

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    """One LoadGen run as its summary log reports it: VALID with figures, or INVALID with the
    reason and no figures."""

    scenario: str
    result: str  # VALID or INVALID
    reason: str = ""  # why INVALID
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.result == VALID

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.result}
        return out | ({"figures": dict(self.figures)} if self.valid else {"reason": self.reason})


@dataclass(frozen=True)
class CellScenarios:
    """A cell's three scenarios: each outcome (Server: the best VALID step of its search),
    the Server search's steps, the settings, where LoadGen's logs are."""

    status: str  # one of STATUSES
    settings: ScenarioSettings
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    server_steps: tuple[dict[str, Any], ...] = ()  # each {target_qps, result, p99_ms|reason}
    message: str = ""  # what stopped an interrupted or failed cell
    log_dir: str = ""
    seconds: float = 0.0
    # Each figure over the reference's of the same run, where both are VALID (:func:`ratios`).
    ratios: dict[str, float] = field(default_factory=dict)

    @property
    def interrupted(self) -> bool:
        return self.status == INTERRUPTED

    def figure(self, scenario: str, name: str) -> float | None:
        """A VALID scenario's figure, None when it did not run or was INVALID."""
        outcome = self.outcomes.get(scenario)
        return outcome.figures.get(name) if outcome and outcome.valid else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "settings": self.settings.to_dict(),
            "log_dir": self.log_dir,
            "seconds": round(self.seconds, 1),
        }
        out |= {name: o.to_dict() for name, o in self.outcomes.items()}
        if self.server_steps:
            out["server_search"] = [dict(s) for s in self.server_steps]
        if self.ratios:
            out["ratios"] = dict(self.ratios)
        return out | ({"message": self.message} if self.message else {})


# The ratios gated against a baseline (each declared in accel.gate.metrics, with tolerances
# of 3x their measured spread: docs/scenarios.md#spread-and-gating). All three are; a ratio
# left out of this list would still be recorded (``CellScenarios.ratios``) and shown.
GATED_RATIOS: tuple[str, ...] = (
    "offline_throughput_ratio",
    "server_qps_ratio",
    "singlestream_p90_ratio",
)


# Each ratio: the scenario and the figure it divides (cell over reference).
RATIO_FIGURES = {
    "offline_throughput_ratio": (OFFLINE, "samples_per_s"),
    "server_qps_ratio": (SERVER, "qps"),
    "singlestream_p90_ratio": (SINGLE_STREAM, "p90_ms"),
}


def ratios(cell: CellScenarios, reference: CellScenarios) -> dict[str, float]:
    """The cell's figures over the reference's, where both are VALID: higher is better for the
    two rates, lower for the SingleStream p90 (keys: accel.gate.metrics' scenario metrics)."""
    out = {}
    for key, (scenario, name) in RATIO_FIGURES.items():
        mine, theirs = cell.figure(scenario, name), reference.figure(scenario, name)
        if mine is not None and theirs:
            out[key] = mine / theirs
    return out


def gated_ratios(cell: CellScenarios, reference: CellScenarios) -> dict[str, float]:
    """The :data:`GATED_RATIOS` a cell's metrics get: each where the reference's figure is
    VALID; NaN ("not measured": a failure against a baseline that has it) where the cell's is
    INVALID or its scenarios failed. None after a Ctrl-C, or where the reference's is INVALID."""
    if cell.interrupted or reference.interrupted:
        return {}
    found = ratios(cell, reference)
    return {
        key: found.get(key, math.nan)
        for key in GATED_RATIOS
        if reference.figure(*RATIO_FIGURES[key]) is not None
    }


# Summary-log lines: "Result is : VALID", "  Min duration satisfied : NO", "... (ns) : 335641".
_LINE = re.compile(r"^\s*\*?\s*(?P<key>[^:]+?)\s*:\s*(?P<value>.*?)\s*$")
_NS = {  # summary key -> (figure name, scale to ms)
    "90.0th percentile latency (ns)": "p90_ms",
    "99.00 percentile latency (ns)": "p99_ms",
    "90.00 percentile latency (ns)": "p90_ms",
    "50.00 percentile latency (ns)": "p50_ms",
    "Early stopping 90.0th percentile estimate": "early_stop_p90_ms",
    "Early stopping 99.0th percentile estimate": "early_stop_p99_ms",
}
_RATES = {
    "Samples per second": "samples_per_s",
    "Completed samples per second": "qps",
    "Scheduled samples per second": "scheduled_qps",
}


class LogError(ValueError):
    """A LoadGen summary log is missing or not in the expected format."""


def parse_summary(
    text: str, source: str = "mlperf_log_summary.txt", detail_errors: Sequence[str] = ()
) -> Outcome:
    """The outcome a LoadGen summary log reports: validity, why not (with the errors of its
    detail log, ``detail_errors``), and the figures."""
    values: dict[str, str] = {}
    unsatisfied, advice = [], []
    section = ""
    for line in text.splitlines():
        if line.startswith("Recommendations:"):
            section = "advice"
            continue
        if line.startswith(("Early Stopping Result", "=")):
            section = ""
        if section == "advice" and line.strip().startswith("*"):
            advice.append(line.strip().lstrip("* ").strip())
        m = _LINE.match(line)
        if not m:
            continue
        key, value = m["key"], m["value"]
        values.setdefault(key, value)
        if key.endswith("satisfied") and value.upper() == "NO":
            unsatisfied.append(f"{key[:1].lower()}{key[1:]}: no")
    scenario, result = values.get("Scenario"), values.get("Result is")
    if scenario is None or result not in (VALID, INVALID):
        raise LogError(f"{source}: no 'Scenario' and 'Result is : VALID|INVALID' lines")
    errors = [line.strip() for line in text.splitlines() if "ERROR" in line.upper()]
    errors = [e for e in errors if not e.startswith("No errors")] + list(detail_errors)
    if result == INVALID or errors:
        reason = "; ".join(unsatisfied + advice + errors) or "LoadGen gave no reason"
        return Outcome(scenario, INVALID, reason)
    figures = {name: _number(values[key]) / 1e6 for key, name in _NS.items() if key in values}
    figures |= {name: _number(values[key]) for key, name in _RATES.items() if key in values}
    return Outcome(scenario, VALID, figures=figures)


def _number(text: str) -> float:
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        raise LogError(f"not a number: {text!r}") from None


def read_summary(folder: Path) -> Outcome:
    """The outcome of the LoadGen run that logged into ``folder``."""
    path = folder / "mlperf_log_summary.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LogError(f"{path}: LoadGen wrote no summary") from None
    return parse_summary(text, str(path), detail_errors(folder / "mlperf_log_detail.txt"))


def detail_errors(path: Path) -> list[str]:
    """The messages of the entries a LoadGen detail log marks as errors."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        if '"is_error": true' not in line:
            continue
        try:
            entry = json.loads(line.split(":::MLLOG", 1)[-1])
        except json.JSONDecodeError:
            continue
        out.append(f"{entry.get('key', 'error')}: {entry.get('value', '')}")
    return out
