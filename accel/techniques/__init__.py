"""Techniques: how each optimized model is built, where it runs, and what it promises.

Public API: :class:`Technique` and the :func:`technique` decorator, :class:`BuildContext`,
:class:`Contract`, and :class:`Registry` (with :func:`builtin_registry`). Importing this
package imports no torch; each builder is imported when its cell is built.
"""

from __future__ import annotations

from accel.gate.contracts import Contract
from accel.techniques.base import BuildContext, Technique, TechniqueError, technique
from accel.techniques.builtin import BUILTINS
from accel.techniques.registry import (
    ENTRY_POINT_GROUP,
    REFERENCE,
    Device,
    Registry,
    RegistryError,
)


def builtin_registry() -> Registry:
    """A new registry holding the built-in techniques and devices, and nothing else."""
    registry = Registry()
    for item in BUILTINS:
        registry.add(item)
    return registry


__all__ = [
    "ENTRY_POINT_GROUP",
    "REFERENCE",
    "BuildContext",
    "Contract",
    "Device",
    "Registry",
    "RegistryError",
    "Technique",
    "TechniqueError",
    "builtin_registry",
    "technique",
]
