"""Is a cell's model the one its baseline measured? The same, a retrain of it, or another.

A run records, per cell, the ``definition`` of what it built (its recipes, the code that built
them and their inputs' definitions: the same on every machine) and the weights' fingerprints
(``fingerprint`` of the reference, ``trained`` of a model the cell trained), plus each
artifact's ``kind``, ``key`` and ``definition`` (:mod:`accel.artifacts.provenance`). Against
a baseline's record:

* same definition, same weights: the same model; the gate's tolerances apply.
* same definition, other weights: a retrain of the same model (another CPU or library build,
  where training is not bit-reproducible); accuracy may use the measured retrain tolerances.
* another definition, or a baseline that records none: the model changed. The cell fails
  until a person reviews the new figures and rewrites the baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

WEIGHTS = ("fingerprint", "trained")


class Match(str, Enum):
    """How a cell's model relates to its baseline's."""

    SAME = "same"
    RETRAIN = "retrain"
    CHANGED = "changed"


@dataclass(frozen=True)
class ModelMatch:
    """The relation, and why (for the failure message or the table's note)."""

    match: Match
    why: str = ""


def _artifacts(record: Mapping[str, Any]) -> dict[str, str]:
    """``kind#n`` -> definition of a record's artifacts, in order within each kind."""
    found: dict[str, str] = {}
    for artifact in record.get("artifacts") or ():
        if not isinstance(artifact, Mapping):
            continue
        kind = str(artifact.get("kind", "?"))
        n = sum(1 for name in found if name.startswith(f"{kind}#"))
        found[f"{kind}#{n}"] = str(artifact.get("definition", ""))
    return found


def match_model(baseline: Mapping[str, Any], measured: Mapping[str, Any]) -> ModelMatch:
    """How the model ``measured`` (a result's ``provenance()``) relates to ``baseline``'s."""
    if not baseline.get("definition"):
        return ModelMatch(
            Match.CHANGED,
            "the baseline records no definition of its model (it predates provenance), so "
            "this run cannot show that it measured the same model",
        )
    if baseline["definition"] != measured.get("definition"):
        old, new = _artifacts(baseline), _artifacts(measured)
        differ = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        what = f"artifacts that differ: {', '.join(differ)}" if differ else "the reference"
        return ModelMatch(
            Match.CHANGED,
            f"its definition (recipes, the code that builds them, the data) changed ({what})",
        )
    if all(baseline.get(k) == measured.get(k) for k in WEIGHTS):
        return ModelMatch(Match.SAME)
    return ModelMatch(
        Match.RETRAIN,
        "same definition, other weights: a retrain (another CPU or library build)",
    )
