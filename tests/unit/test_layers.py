"""The package's layers: imports point one way, technique families share stages, modules stay
small. (docs/architecture.md draws the same picture.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "accel"
# A module may import its own layer and layers of a lower rank, never a higher or equal one.
RANK = {
    "validation": 0,
    "artifacts": 0,
    "measure": 1,
    "training": 1,
    "gate": 2,
    "techniques": 3,
    "matrix": 4,
    "reporting": 4,
    "plugin": 5,
    "cli": 6,
}
FAMILIES = {"pytorch", "onnx_runtime", "half_precision", "compiled", "distilled", "pruned"}
MAX_LINES = 300


def _modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "intent_accuracy" not in p.parts]


def _layer(parts: list[str]) -> str | None:
    """The layer of ``accel.<parts>`` (None for the package root)."""
    return parts[0] if parts and parts[0] in RANK else None


def _imports(path: Path) -> list[list[str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("accel."):
            found.append(node.module.split(".")[1:])
        elif isinstance(node, ast.ImportFrom) and node.module == "accel":
            found += [[alias.name] for alias in node.names]
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    here = _layer(list(path.relative_to(PACKAGE).with_suffix("").parts))
    if here is None:
        return  # accel/__init__.py
    upward = [
        ".".join(["accel", *target])
        for target in _imports(path)
        if (there := _layer(target)) is not None and there != here and RANK[there] >= RANK[here]
    ]
    assert not upward, f"{path.relative_to(PACKAGE)} ({here}) imports {upward}"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_no_technique_family_imports_another(family: str) -> None:
    others = [
        ".".join(target)
        for target in _imports(PACKAGE / "techniques" / f"{family}.py")
        if target[:1] == ["techniques"] and len(target) > 1 and target[1] in FAMILIES - {family}
    ]
    assert not others, f"techniques/{family}.py imports {others}: share a stage instead"


def test_modules_stay_small() -> None:
    big = {
        str(p.relative_to(PACKAGE)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not big, f"modules over {MAX_LINES} lines: {big}"
