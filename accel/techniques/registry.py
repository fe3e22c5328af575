"""The open technique registry: built-ins, entry-point plugins, and what a conftest adds.

A separate package adds techniques through the ``accel.techniques`` entry-point group (each
entry point names a :class:`~accel.techniques.base.Technique` or a list of them); a conftest
adds them with the ``pytest_accel_register_techniques`` hook. Every run builds its own
:class:`Registry`, so nothing mutates a global.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata

from accel.artifacts.families import checkpoint_model_type
from accel.gate.contracts import Contract
from accel.measure.capabilities import Requirement, cuda_device
from accel.techniques.base import Technique, TechniqueError

ENTRY_POINT_GROUP = "accel.techniques"
REFERENCE = "fp32"


class RegistryError(TechniqueError):
    """A technique cannot be added, found or loaded; the message says which and the fix."""


def _always(device: str) -> str | None:
    return None


@dataclass(frozen=True)
class Device:
    """A device cells can run on, and why this machine may lack it."""

    name: str
    unavailable: Requirement = _always


BUILTIN_DEVICES = (Device("cpu"), Device("cuda", cuda_device))


class Registry:
    """Techniques and devices by name, in the order they were added."""

    def __init__(self, devices: Iterable[Device] = BUILTIN_DEVICES) -> None:
        self._techniques: dict[str, Technique] = {}
        self._origins: dict[str, str] = {}
        self._devices: dict[str, Device] = {d.name: d for d in devices}

    def add(self, technique: Technique, origin: str = "") -> Technique:
        """Add ``technique`` (``origin`` names where it came from, for error messages)."""
        if not isinstance(technique, Technique):
            raise RegistryError(
                f"{origin or 'registry.add'}: expected an accel.techniques.Technique, "
                f"got {technique!r}"
            )
        unknown = sorted(technique.devices - self._devices.keys())
        if unknown:
            raise RegistryError(
                f"technique {technique.name!r}{_from(origin)} names unknown device(s) "
                f"{', '.join(unknown)}; known: {', '.join(self._devices)} "
                "(add one with Registry.add_device)"
            )
        if technique.name in self._techniques:
            raise RegistryError(
                f"technique {technique.name!r}{_from(origin)} clashes with the technique of that "
                f"name{_from(self._origins[technique.name])}: rename one of them"
            )
        self._techniques[technique.name] = technique
        self._origins[technique.name] = origin
        return technique

    def add_device(self, device: Device) -> None:
        """Add a device (a plugin's accelerator, say)."""
        self._devices.setdefault(device.name, device)

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Add the techniques of every installed package's ``group`` entry points; returns
        the names added."""
        added = []
        for entry in metadata.entry_points(group=group):
            dist = entry.dist.name if entry.dist is not None else "an unknown package"
            origin = f"entry point {entry.name!r} ({entry.value}) of {dist}"
            try:
                loaded = entry.load()
            except Exception as exc:
                raise RegistryError(
                    f"{origin} failed to import: {type(exc).__name__}: {exc}. Fix that package, "
                    f"or uninstall it (pip uninstall {dist})."
                ) from exc
            items = loaded if isinstance(loaded, (list, tuple)) else [loaded]
            for item in items:
                if not isinstance(item, Technique):
                    raise RegistryError(
                        f"{origin} must name an accel.techniques.Technique or a list of them "
                        f"(see docs/extending.md), got {item!r}"
                    )
                added.append(self.add(item, origin).name)
        return added

    def load_object(self, spec: str, origin: str) -> list[str]:
        """Add the Technique (or list of them) at ``spec``, ``"package.module:attribute"``
        (a config's ``plugins``); returns the names added."""
        module, _, attribute = spec.partition(":")
        try:
            loaded = getattr(importlib.import_module(module), attribute)
        except Exception as exc:
            raise RegistryError(
                f"{origin}: {spec!r} cannot be loaded: {type(exc).__name__}: {exc}. Give "
                "'package.module:attribute' of an importable module (see docs/extending.md)."
            ) from exc
        items = loaded if isinstance(loaded, (list, tuple)) else [loaded]
        return [self.add(item, f"{origin} ({spec})").name for item in items]

    def set_contract(self, name: str, contract: Contract) -> None:
        """Replace the contract of the technique ``name`` (a config's ``contracts``)."""
        self._techniques[name] = dataclasses.replace(self[name], contract=contract)

    def __getitem__(self, name: str) -> Technique:
        try:
            return self._techniques[name]
        except KeyError:
            raise RegistryError(
                f"unknown technique {name!r}; registered: {', '.join(self._techniques)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._techniques

    def __iter__(self) -> Iterator[Technique]:
        return iter(self._techniques.values())

    def __len__(self) -> int:
        return len(self._techniques)

    def names(self) -> list[str]:
        """Technique names, in registration order."""
        return list(self._techniques)

    def devices(self) -> list[str]:
        """Device names, in registration order."""
        return list(self._devices)

    def origin(self, name: str) -> str:
        """Where technique ``name`` came from ("" for a built-in)."""
        return self._origins[name]

    def unavailable(self, technique: str, device: str, model_type: str | None = None) -> str | None:
        """Why the cell cannot run on this machine (its device, the reference's requirements
        there, its own) or on a reference of ``model_type`` (its family), or None when it can."""
        return (
            self._devices[device].unavailable(device)
            or (self[REFERENCE].unavailable(device) if REFERENCE in self else None)
            or self[technique].unavailable(device)
            or self[technique].unsupported(model_type)
        )

    def unavailable_for(self, technique: str, device: str, model: str) -> str | None:
        """:meth:`unavailable` on the reference ``model`` (a directory, a hub id, or
        ``embedded``), whose family is read only when the technique needs something of it."""
        family = checkpoint_model_type(model) if self[technique].needs else None
        return self.unavailable(technique, device, family)


def _from(origin: str) -> str:
    return f" (from {origin})" if origin else ""
