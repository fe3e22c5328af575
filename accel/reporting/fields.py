"""Validated reading of a JSON object's fields; errors name the file and the dotted field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class ReportError(ValueError):
    """A run JSON is missing, not JSON, or lacks (or garbles) a field its reader needs."""


class Fields:
    """One JSON object of a file, read field by field.

    ``where`` is the object's dotted path in the file (``cells[3].metrics.``, ending in a dot,
    or empty at the top level): every error reads ``<file>: ... field <where><key> ...``.
    """

    def __init__(self, source: Path, data: Any, where: str = "") -> None:
        if not isinstance(data, Mapping):
            raise ReportError(f"{source}: field {where.rstrip('.')} must be an object")
        self.source = source
        self.data: Mapping[str, Any] = data
        self.where = where

    def error(self, key: str, problem: str) -> ReportError:
        """An error about field ``key`` of this object."""
        return ReportError(f"{self.source}: field {self.where}{key} {problem}")

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str) -> Any:
        """The field's raw value; missing is an error."""
        if key not in self.data:
            raise ReportError(f"{self.source}: missing field {self.where}{key}")
        return self.data[key]

    def obj(self, key: str) -> Fields:
        """The field, a JSON object, to read further."""
        return Fields(self.source, self.get(key), f"{self.where}{key}.")

    def items(self, key: str) -> list[Any]:
        """The field, a JSON list."""
        value = self.get(key)
        if not isinstance(value, list):
            raise self.error(key, "must be a list")
        return value

    def number(self, key: str) -> float:
        """The field, a finite number."""
        value = self.get(key)
        if not _is_number(value):
            raise self.error(key, f"must be a finite number, got {value!r}")
        return float(value)

    def text(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, got {value!r}")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        """The field, a list of strings."""
        values = self.items(key)
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise self.error(f"{key}[{i}]", f"must be a string, got {value!r}")
        return tuple(values)

    def numbers(self, key: str) -> tuple[float, ...]:
        """The field, a list of finite numbers."""
        values = self.items(key)
        for i, value in enumerate(values):
            if not _is_number(value):
                raise self.error(f"{key}[{i}]", f"must be a finite number, got {value!r}")
        return tuple(float(v) for v in values)

    def number_map(self, key: str) -> dict[str, float]:
        """The field, an object of finite numbers."""
        inner = self.obj(key)
        return {name: inner.number(name) for name in inner.data}

    def mapping(self, key: str) -> dict[str, Any]:
        """The field, an object of any JSON values."""
        return dict(self.obj(key).data)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def status_from_verdict(verdict: str) -> str:
    """A status for a version 1 cell, from its verdict text (an xfail counts as a pass)."""
    if "ERROR" in verdict:
        return "error"
    if "FAIL" in verdict:
        return "fail"
    if verdict.startswith("skipped"):
        return "skipped"
    for status in ("written", "better"):
        if status in verdict:
            return status
    return "pass"


def int_keyed(reported: Mapping[str, float], prefix: str) -> dict[int, float]:
    """The figures of ``reported`` named ``<prefix><integer>``, by that integer, ascending."""
    out = {}
    for key, value in reported.items():
        suffix = key.removeprefix(prefix)
        if key.startswith(prefix) and suffix.isdigit():
            out[int(suffix)] = value
    return dict(sorted(out.items()))
