"""Core types of techniques: the build context and the technique (one registry entry)."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from accel.artifacts.families import NEEDS, unsupported
from accel.artifacts.provenance import Artifact, Identity, build_artifact
from accel.gate.contracts import Contract
from accel.measure.capabilities import Requirement

if TYPE_CHECKING:
    import datasets

    from accel.artifacts.models import Classifier
    from accel.measure.predictors import Predictor

NAME = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")
Builder = Callable[["BuildContext"], "Predictor"]


class TechniqueError(ValueError):
    """A technique is malformed, or its builder cannot be loaded."""


@dataclass(frozen=True)
class BuildContext:
    """What a technique needs to build its predictor, and what its build used."""

    # How artifacts are found, not what they hold: not part of any builder's code digest.
    __accel_code_digest__: ClassVar[bool] = False

    reference: Classifier
    data: datasets.DatasetDict | None  # None where no technique needs the dataset (unit tests)
    device: str
    threads: int
    cache_dir: Path | None = None  # default: accel.artifacts.cache.cache_root()
    # Rebuild the artifacts this build uses, each once: the keys rebuilt so far are added to
    # ``rebuilt`` (shared by the cells of a run, so a shared artifact is rebuilt once).
    rebuild: bool = False
    rebuilt: set[str] = field(default_factory=set, compare=False)
    # The artifacts this build used, in order, each once (the cell's provenance).
    used: list[Artifact] = field(default_factory=list, compare=False)
    # Artifact key -> another cache entry to read in its place: a cell's baseline artifact,
    # loaded the way the cell loads its own (base against head: accel.plugin.against_base).
    substitute: Mapping[str, Path] = field(default_factory=dict, compare=False)

    def artifact(
        self,
        kind: str,
        recipe: Mapping[str, object],
        build: Callable[[Path], None],
        inputs: Sequence[Identity] | None = None,
    ) -> Artifact:
        """The cached artifact of ``kind`` built by ``build`` from ``recipe`` and ``inputs``
        (default: the reference model), keyed on both and on ``build``'s code. A build asks
        for the artifacts it reads before it starts, never inside ``build``, and names them
        in ``inputs``."""
        artifact = build_artifact(
            kind,
            recipe,
            build,
            (self.reference.identity(),) if inputs is None else inputs,
            root=self.cache_dir,
            rebuild=self._rebuild_once,
        )
        if artifact.key in self.substitute:
            artifact = replace(artifact, path=self.substitute[artifact.key])
        if artifact.key not in {a.key for a in self.used}:
            self.used.append(artifact)
        return artifact

    def _rebuild_once(self, key: str) -> bool:
        if not self.rebuild or key in self.rebuilt:
            return False
        self.rebuilt.add(key)
        return True


@dataclass(frozen=True)
class Technique:
    """One registry entry: how to build a predictor, where it runs, what it promises.

    ``build`` is the builder, or ``"package.module:function"`` to import it on first use (so
    that listing techniques imports no torch).
    """

    name: str
    description: str
    build: Builder | str
    devices: frozenset[str]
    contract: Contract
    # Checks of this machine, device -> why the technique cannot run there (a skip), or None.
    requires: tuple[Requirement, ...] = field(default=())
    # What it needs of the reference's model family (accel.artifacts.families.NEEDS): a cell
    # whose family lacks one is skipped with the reason, naming the family.
    needs: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME.match(self.name):
            raise TechniqueError(
                f"technique name {self.name!r} must be lower-case letters, digits, '.', '+' or "
                "'-', starting with a letter or digit (it becomes a file name and a test id)"
            )
        if not isinstance(self.contract, Contract):
            raise TechniqueError(
                f"technique {self.name!r} has no contract (got {self.contract!r}): give "
                "contract=accel.techniques.Contract(...); Contract() promises nothing, but says so"
            )
        if isinstance(self.devices, str) or not isinstance(self.devices, Iterable):
            raise TechniqueError(
                f"technique {self.name!r}: devices must be a collection like ('cpu',), "
                f"got {self.devices!r}"
            )
        object.__setattr__(self, "devices", frozenset(self.devices))
        object.__setattr__(self, "requires", tuple(self.requires))
        object.__setattr__(self, "needs", tuple(self.needs))
        unknown = [n for n in self.needs if n not in NEEDS]
        if unknown:
            raise TechniqueError(
                f"technique {self.name!r}: unknown needs {unknown}; known: {', '.join(NEEDS)}"
            )
        if not self.devices:
            raise TechniqueError(f"technique {self.name!r} runs on no device: give ('cpu',)")
        if not (callable(self.build) or (isinstance(self.build, str) and ":" in self.build)):
            raise TechniqueError(
                f"technique {self.name!r}: build must be a function or 'module:function', "
                f"got {self.build!r}"
            )

    def builder(self) -> Builder:
        """The builder function, imported on first use when given by name."""
        if callable(self.build):
            return self.build
        module, _, attr = self.build.partition(":")
        try:
            found = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise TechniqueError(
                f"technique {self.name!r}: cannot load its builder {self.build!r}: {exc}"
            ) from exc
        if not callable(found):
            raise TechniqueError(f"technique {self.name!r}: {self.build!r} is not callable")
        return cast(Builder, found)

    def unavailable(self, device: str) -> str | None:
        """Why this technique cannot run on ``device`` on this machine, or None."""
        for requirement in self.requires:
            reason = requirement(device)
            if reason:
                return reason
        return None

    def unsupported(self, model_type: str | None) -> str | None:
        """Why this technique cannot handle a reference of ``config.model_type``
        ``model_type`` (None: not known), naming its family; or None."""
        return unsupported(model_type, self.needs, self.name)


def technique(
    name: str,
    description: str,
    devices: Iterable[str],
    contract: Contract,
    requires: Iterable[Requirement] = (),
    needs: Iterable[str] = (),
) -> Callable[[Builder], Technique]:
    """Decorate a builder to make it a :class:`Technique` (register it with a registry, the
    ``accel.techniques`` entry-point group, or the ``pytest_accel_register_techniques`` hook)."""

    def wrap(build: Builder) -> Technique:
        return Technique(
            name, description, build, frozenset(devices), contract, tuple(requires), tuple(needs)
        )

    return wrap
