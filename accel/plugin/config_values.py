"""Checks of each ``[tool.accel]`` key's value (:mod:`accel.plugin.config` reads the file).

Every error names the file, the key, the value and the valid choices or the fix.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accel.artifacts.sources import FORMATS, KINDS, DataSpec
from accel.gate.contracts import Contract
from accel.gate.metrics import METRICS, Tolerance

EMBEDDED = "embedded"
CONTRACT_FIELDS = tuple(f.name for f in dataclasses.fields(Contract))
DATA_FIELDS = tuple(f.name for f in dataclasses.fields(DataSpec))


class ConfigError(ValueError):
    """A bad configuration file or value; the message names the file, key, value and fix."""


def apply_contracts(contract: Contract, overrides: Mapping[str, Any], where: str) -> Contract:
    """``contract`` with ``overrides`` (a technique's table) in place of its promises."""
    try:
        return dataclasses.replace(contract, **overrides)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class Checker:
    """Validates each key's value; ``where`` names the file in every error."""

    where: str
    folder: Path

    def _error(self, key: str, value: Any, fix: str) -> ConfigError:
        return ConfigError(f"{self.where}: key {key} = {value!r}: {fix}")

    def _path(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self._error(key, value, "must be a non-empty string (a path)")
        expanded = os.path.expandvars(os.path.expanduser(value))
        if "$" in expanded:
            raise self._error(key, value, "names an environment variable that is not set")
        return (
            str((self.folder / expanded).resolve())
            if not Path(expanded).is_absolute()
            else expanded
        )

    def _names(self, key: str, value: Any) -> str | None:
        if value == "all":
            return None
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v for v in value)
        ):
            raise self._error(key, value, "must be 'all' or a non-empty list of names")
        return ",".join(value)

    def _int(self, key: str, value: Any, low: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self._error(key, value, f"must be an integer >= {low}")
        return value

    def model(self, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self._error("model", value, f"must be {EMBEDDED!r}, a directory or a hub id")
        local = value.startswith((".", "/", "~")) or (self.folder / value).exists()
        return self._path("model", value) if local else value

    def data(self, value: Any) -> DataSpec:
        if not isinstance(value, dict):
            raise self._error("data", value, "must be a table ([tool.accel.data])")
        fields: dict[str, Any] = {}
        for name, item in value.items():
            key = f"data.{name}"
            if name not in DATA_FIELDS:
                raise self._error(key, item, f"unknown field; valid: {', '.join(DATA_FIELDS)}")
            if name == "kind" and item not in KINDS:
                raise self._error(key, item, f"valid kinds: {', '.join(KINDS)}")
            if name == "format" and item not in FORMATS:
                raise self._error(key, item, f"valid formats: {', '.join(FORMATS)}")
            if name in ("files", "splits"):
                if not isinstance(item, dict) or not all(isinstance(v, str) for v in item.values()):
                    raise self._error(key, item, "must be a table of split = string")
                item = (
                    {s: self._path(f"{key}.{s}", p) for s, p in item.items()}
                    if name == "files"
                    else item
                )
            elif name == "path":
                item = self._path(key, item)
            elif name == "seed":
                item = self._int(key, item, 0)
            elif name == "validation_fraction":
                if isinstance(item, bool) or not isinstance(item, int | float) or not 0 < item < 1:
                    raise self._error(key, item, "must be a number between 0 and 1, e.g. 0.1")
            elif not isinstance(item, str) or not item:
                raise self._error(key, item, "must be a non-empty string")
            fields[name] = item
        return DataSpec(**fields)

    def techniques(self, value: Any) -> str | None:
        return self._names("techniques", value)

    def devices(self, value: Any) -> str | None:
        return self._names("devices", value)

    def threads(self, value: Any) -> int:
        return self._int("threads", value, 1)

    def rounds(self, value: Any) -> int:
        return self._int("rounds", value, 2)

    def baselines(self, value: Any) -> str:
        return self._path("baselines", value)

    def contracts(self, value: Any) -> dict[str, dict[str, Any]]:
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise self._error(
                "contracts", value, "must be a table of tables: [tool.accel.contracts.<technique>]"
            )
        for technique, promises in value.items():
            for name, item in promises.items():
                key = f"contracts.{technique}.{name}"
                if name not in CONTRACT_FIELDS:
                    raise self._error(
                        key, item, f"unknown promise; valid: {', '.join(CONTRACT_FIELDS)}"
                    )
                number = isinstance(item, int | float) and not isinstance(item, bool)
                if not (isinstance(item, str) if name == "beats" else number):
                    raise self._error(
                        key,
                        item,
                        "must be a technique name" if name == "beats" else "must be a number",
                    )
            apply_contracts(Contract(), promises, f"{self.where}: [contracts.{technique}]")
        return {t: dict(p) for t, p in value.items()}

    def tolerances(self, value: Any) -> dict[str, Tolerance]:
        if not isinstance(value, dict):
            raise self._error(
                "tolerances", value, "must be a table of metric = {abs = ..., rel = ...}"
            )
        out = {}
        for metric, spec in value.items():
            key = f"tolerances.{metric}"
            if metric not in METRICS:
                raise self._error(key, spec, f"not a gated metric; valid: {', '.join(METRICS)}")
            if not isinstance(spec, dict) or not spec or set(spec) - {"abs", "rel"}:
                raise self._error(key, spec, "must be like {abs = 0.005} or {rel = 0.1}")
            try:
                tolerance = Tolerance(**{k: float(v) for k, v in spec.items()})
            except (TypeError, ValueError) as exc:
                raise self._error(key, spec, str(exc)) from None
            problem = METRICS[metric].tolerance_problem(tolerance)
            if problem:
                raise self._error(key, spec, problem)
            out[metric] = tolerance
        return out

    def plugins(self, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) and ":" in v for v in value):
            raise self._error("plugins", value, "must be a list of 'package.module:attribute'")
        return tuple(value)
