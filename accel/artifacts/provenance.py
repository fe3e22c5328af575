"""Cached artifacts keyed on what determines their bytes, and the provenance a cell records.

An artifact has two digests:

* its **definition**: what was asked for, independent of the machine: its kind, its recipe,
  the digest of the code that builds it (:func:`accel.artifacts.code.code_digest`) and its
  inputs' definitions. Two runs with the same definition built the same thing, possibly on
  another machine or library build (a *retrain*).
* its **key**: the definition plus what else shapes the bytes: its inputs' exact content (the
  weights' fingerprint of a parent model) and the versions of the libraries that build it. The
  cache is addressed by the key.

A run records each cell's artifacts (kind, key, definition), so a baseline diff shows whether
the model changed, and the gate can tell a changed model from a retrain of the same one.
"""

from __future__ import annotations

import importlib.metadata
import platform
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from accel.artifacts.cache import cached_dir, fingerprint
from accel.artifacts.code import code_digest

# The libraries whose versions shape an artifact's bytes (training numerics, export, fusion,
# quantization, serialization). The Python minor version is added.
LIBRARIES = ("torch", "transformers", "tokenizers", "numpy", "onnx", "onnxruntime", "safetensors")
BUILD_SEED = 0  # every build starts from this seed; recipes reseed with their own


@dataclass(frozen=True)
class Identity:
    """What a derived artifact depends on: an input's exact content and its definition."""

    key: str  # determines the bytes: an artifact's key, or a model's weights fingerprint
    definition: str  # what was asked for: equal across machines for the same recipe and code

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "definition": self.definition}


@dataclass(frozen=True)
class Artifact:
    """A cached artifact: where it is and the digests it was built under."""

    kind: str
    key: str
    definition: str
    code: str
    path: Path

    def identity(self) -> Identity:
        return Identity(self.key, self.definition)

    def record(self) -> dict[str, str]:
        """The provenance a result or baseline names (the path is this machine's only)."""
        return {"kind": self.kind, "key": self.key, "definition": self.definition}


@cache
def library_versions() -> dict[str, str]:
    """The installed versions of :data:`LIBRARIES` (``"absent"`` if not installed) and the
    Python minor version."""
    versions = {"python": ".".join(platform.python_version_tuple()[:2])}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


@contextmanager
def reproducible(seed: int = BUILD_SEED) -> Iterator[None]:
    """Seed Python, NumPy and torch and make torch choose deterministic kernels (warning where
    an op has none), restoring torch's setting afterwards. With a fixed thread count, a build
    then writes the same bytes every time on the same machine and library build."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    was = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was, warn_only=warn_only)


@dataclass(frozen=True)
class Plan:
    """An artifact's digests, before it is looked up or built."""

    kind: str
    key: str
    definition: str
    code: str
    record: dict[str, Any]  # what its cache entry's manifest records


def plan_artifact(
    kind: str,
    recipe: Mapping[str, Any],
    build: Callable[[Path], None],
    inputs: Sequence[Identity] = (),
) -> Plan:
    """The digests of the artifact of ``kind`` that ``build`` makes from ``recipe`` and
    ``inputs`` (see the module docstring)."""
    code = code_digest(build)
    definition = fingerprint(
        {"kind": kind, "recipe": recipe, "code": code, "inputs": [i.definition for i in inputs]}
    )
    versions = library_versions()
    key = fingerprint(
        {"definition": definition, "inputs": [i.key for i in inputs], "versions": versions}
    )
    record = {
        "recipe": dict(recipe),
        "code": code,
        "definition": definition,
        "inputs": [i.as_dict() for i in inputs],
        "versions": versions,
    }
    return Plan(kind, key, definition, code, record)


def build_artifact(
    kind: str,
    recipe: Mapping[str, Any],
    build: Callable[[Path], None],
    inputs: Sequence[Identity] = (),
    *,
    root: Path | None = None,
    rebuild: bool | Callable[[str], bool] = False,
) -> Artifact:
    """The cached artifact of ``kind`` built by ``build`` from ``recipe`` and ``inputs``,
    building it (reproducibly: :func:`reproducible`) first if the cache has no valid entry
    under its key, or if ``rebuild`` (True, or a predicate of the key)."""
    plan = plan_artifact(kind, recipe, build, inputs)

    def reproducible_build(out: Path) -> None:
        with reproducible():
            build(out)

    again = rebuild(plan.key) if callable(rebuild) else rebuild
    path = cached_dir(kind, plan.key, reproducible_build, root, record=plan.record, rebuild=again)
    return Artifact(kind, plan.key, plan.definition, plan.code, path)
