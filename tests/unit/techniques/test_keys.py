"""Artifacts are keyed on their builders' code: a one-line edit in a scratch copy of accel
rebuilds exactly the artifacts downstream of the edited code, and nothing else."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import accel

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = Path(accel.__file__).parent

# (file under accel/, old text, new text): one behaviour change of each kind of builder.
EDITS: dict[str, tuple[str, str, str]] = {
    "quantizer options": (
        "techniques/stages/onnx.py",
        "weight_type=QuantType.QInt8,",
        "weight_type=QuantType.QUInt8,",
    ),
    "distillation loss": (
        "training/distillation.py",
        "(1.0 - config.alpha) * t * t * kl",
        "(1.0 - config.alpha) * t * kl",
    ),
    "pruning criterion": (
        "training/structured.py",
        "sink[i] += per_example.abs().sum(dim=0).detach()",
        "sink[i] += per_example.pow(2).sum(dim=0).detach()",
    ),
    "export": (
        "techniques/stages/onnx.py",
        '["accel export sample", "a second, longer sample text"]',
        '["accel export sample", "a second, much longer sample text"]',
    ),
    "a comment and a docstring": (
        "training/distillation.py",
        '    """A copy of ``teacher`` keeping only the transformer ``layers`` (indices, in order).',
        '    # reworded\n    """A copy of ``teacher`` keeping only its transformer ``layers``.',
    ),
}


def _run(source: Path, cache: Path, work: Path) -> dict[str, Any]:
    env = os.environ | {"PYTHONPATH": f"{source}{os.pathsep}{ROOT}"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.unit.techniques.keys_driver", str(cache), str(work)],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(found["accel"]).is_relative_to(source), found["accel"]  # the scratch copy ran
    return found


def _scratch(tmp: Path, name: str, edit: tuple[str, str, str] | None) -> Path:
    source = tmp / name
    shutil.copytree(PACKAGE, source / "accel", ignore=shutil.ignore_patterns("__pycache__"))
    if edit is not None:
        path = source / "accel" / edit[0]
        text = path.read_text(encoding="utf-8")
        assert text.count(edit[1]) == 1, f"the edit's anchor is not unique in {edit[0]}"
        path.write_text(text.replace(edit[1], edit[2]), encoding="utf-8")
    return source


def _kinds(keys: dict[str, list[str]]) -> dict[str, str]:
    """Every artifact's key by a readable name: ``technique:kind#n``, its n-th of that kind."""
    named = {}
    for technique, found in keys.items():
        seen: dict[str, int] = {}
        for entry in found:
            kind = entry.split(":")[0]
            named[f"{technique}:{kind}#{seen.get(kind, 0)}"] = entry
            seen[kind] = seen.get(kind, 0) + 1
    return named


@pytest.fixture(scope="module")
def before(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("keys")
    cache = tmp / "cache"
    first = _run(_scratch(tmp, "unchanged", None), cache, tmp)
    assert first["built"], "a cold cache builds every artifact"
    again = _run(_scratch(tmp, "unchanged-again", None), cache, tmp)
    assert again["keys"] == first["keys"] and again["built"] == []  # a warm run builds nothing
    return tmp, first


def _expected(edit: str, names: list[str]) -> set[str]:
    """Which artifacts (``technique:kind#n``) an edit must change; no other may."""
    graphs_of_students = {n for n in names if n.startswith("distilled-ort-") and ":onnx#" in n}
    if edit == "quantizer options":  # the int8 graphs, and the lean graph made from one
        lean = {"distilled-ort-lean:onnx#1", "distilled-ort-lean:onnx#2"}
        return {"ort-int8:onnx#1", "distilled-ort-int8:onnx#1"} | lean
    if edit == "distillation loss":  # every model trained with it, and the graphs of students
        return {n for n in names if ":student#" in n or ":pruned#" in n} | graphs_of_students
    if edit == "pruning criterion":  # the slimming stage of students, the structured model
        slimmed = {n for n in names if n.endswith(":student#1")}
        return slimmed | graphs_of_students | {"pruned-structured:pruned#0"}
    if edit == "export":
        return {n for n in names if ":onnx#" in n}
    return set()


@pytest.mark.slow
@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edit_rebuilds_exactly_what_is_downstream(
    edit: str, before: tuple[Path, dict[str, Any]]
) -> None:
    tmp, first = before
    cache = tmp / "cache"
    after = _run(_scratch(tmp, edit.replace(" ", "-"), EDITS[edit]), cache, tmp)
    old, new = _kinds(first["keys"]), _kinds(after["keys"])
    assert old.keys() == new.keys()
    changed = {name for name in old if old[name] != new[name]}
    assert changed == _expected(edit, sorted(old))
    assert set(after["built"]) == {new[name].split(":")[1] for name in changed}
    assert after["teacher"] == first["teacher"]  # no builder edit here retrains the teacher
