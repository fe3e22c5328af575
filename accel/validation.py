"""Checks of settings' fields (config dataclasses), raising ``ValueError`` with one message form.

Each check reads ``obj.<field>`` and names the field and the value it got, e.g.
"`sparsity` must be in [0, 1), got 1.2". NaN fails every numeric check. This module imports
nothing of accel's: any layer may use it.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any, Literal

# The brackets of an interval: "[" and "]" include the bound, "(" and ")" exclude it.
Bounds = Literal["[]", "[)", "(]", "()"]


def _fail(field: str, requirement: str, value: object) -> ValueError:
    return ValueError(f"`{field}` must {requirement}, got {value}")


def check_at_least(obj: object, field: str, minimum: float) -> None:
    """``obj.<field> >= minimum``."""
    value = getattr(obj, field)
    if not value >= minimum:
        raise _fail(field, f"be >= {minimum}", value)


def check_positive(obj: object, *fields: str) -> None:
    """``obj.<field> > 0`` for each of ``fields``."""
    for field in fields:
        value = getattr(obj, field)
        if not value > 0:
            raise _fail(field, "be > 0", value)


def check_in_range(obj: object, field: str, low: float, high: float, bounds: Bounds = "[)") -> None:
    """``obj.<field>`` in the interval from ``low`` to ``high``, ``bounds`` saying which ends
    belong to it (``"[)"``: ``low <= value < high``)."""
    value = getattr(obj, field)
    above = value >= low if bounds[0] == "[" else value > low
    below = value <= high if bounds[1] == "]" else value < high
    if not (above and below):
        raise _fail(field, f"be in {bounds[0]}{low}, {high}{bounds[1]}", value)


def check_each_at_least(obj: object, field: str, minimum: float, unit: str = "") -> None:
    """``obj.<field>`` is a non-empty collection of numbers, each ``>= minimum`` (``unit``,
    e.g. ``"tokens"``, is named in the message)."""
    values: Collection[Any] = getattr(obj, field)
    if not values or not min(values) >= minimum:
        raise _fail(field, f"be >= {minimum}{' ' + unit if unit else ''} each", values)


def check_one_of(obj: object, field: str, choices: Collection[object]) -> None:
    """``obj.<field>`` is one of ``choices``."""
    value = getattr(obj, field)
    if value not in choices:
        raise _fail(field, f"be one of {choices}", repr(value))


def check_ordered(obj: object, lower: str, upper: str) -> None:
    """``obj.<upper> >= obj.<lower>``."""
    low, high = getattr(obj, lower), getattr(obj, upper)
    if not high >= low:
        raise ValueError(f"`{upper}` ({high}) must be >= `{lower}` ({low})")


def parse_shard(value: str) -> tuple[int, int]:
    """A shard ``I/N`` (shard I of N, 1 <= I <= N) as (I, N); else a ValueError naming the form."""
    found = re.fullmatch(r"([0-9]+)/([0-9]+)", value.strip())
    if found and 1 <= int(found[1]) <= int(found[2]):
        return int(found[1]), int(found[2])
    raise ValueError(f"expected I/N with 1 <= I <= N (shard I of N, like 1/3), got {value!r}")
