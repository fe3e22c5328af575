"""Core types of the technique registry: build context, contracts, techniques."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import datasets

from accel.artifacts.cache import cached_dir, fingerprint
from accel.artifacts.models import Classifier
from accel.gate.contracts import Contract
from accel.measure.capabilities import Requirement
from accel.measure.predictors import Predictor


@dataclass(frozen=True)
class BuildContext:
    """What a technique needs to build its predictor."""

    reference: Classifier
    data: datasets.DatasetDict | None  # None where no technique needs the dataset (unit tests)
    device: str
    threads: int
    cache_dir: Path | None = None  # default: accel.cache.cache_root()

    def artifact(
        self, kind: str, recipe: Mapping[str, object], build: Callable[[Path], None]
    ) -> Path:
        """A cached artifact derived from the reference model and ``recipe``."""
        key = fingerprint({"reference": self.reference.fingerprint, "recipe": recipe})
        return cached_dir(kind, key, build, self.cache_dir)


@dataclass(frozen=True)
class Technique:
    """One registry entry: how to build a predictor, where it runs, what it promises."""

    name: str
    description: str
    build: Callable[[BuildContext], Predictor]
    devices: frozenset[str]
    contract: Contract
    # Checks of this machine, device -> why the technique cannot run there (a skip), or None.
    requires: tuple[Requirement, ...] = ()
    # A measured, reviewed failure to reach the contract's accuracy floor
    # (`min_accuracy_ratio`): that one violation makes the contract test an expected failure
    # naming the figures; every other promise still gates. Remove it once the floor holds
    # (the run warns then).
    known_accuracy_shortfall: str | None = None

    def unavailable(self, device: str) -> str | None:
        """Why this technique cannot run on ``device`` on this machine, or None."""
        for requirement in self.requires:
            reason = requirement(device)
            if reason:
                return reason
        return None
