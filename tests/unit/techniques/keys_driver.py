"""Build every cached artifact of the built-in techniques on the tiny model; print their keys.

Run by ``test_keys.py`` in a subprocess whose ``accel`` is a scratch copy with one edit, against
a cache shared by the runs: prints ``{"keys": {technique: [kind:key, ...]}, "built": [...],
"teacher": key, "accel": accel.__file__}`` as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import accel
from accel.artifacts.data import load_clinc
from accel.techniques import BuildContext, builtin_registry
from accel.training.teacher import teacher_key
from tests.conftest import tiny_model, write_oos_eval

CACHED = (
    "ort-fp32",
    "ort-int8",
    "finetuned-student",
    "distilled",
    "distilled-ort-int8",
    "distilled-ort-lean",
    "pruned-magnitude",
    "pruned-movement",
    "pruned-structured",
)


def main(cache: Path, work: Path) -> None:
    data = load_clinc(write_oos_eval(work / "tiny.json"))
    reference = tiny_model()
    before = {p.name for p in cache.glob("*/*") if p.is_dir()}
    registry = builtin_registry()
    keys: dict[str, list[str]] = {}
    for name in CACHED:
        ctx = BuildContext(reference, data, "cpu", 1, cache_dir=cache)
        registry[name].builder()(ctx)
        keys[name] = [f"{a.kind}:{a.key}" for a in ctx.used]
    built = sorted({p.name for p in cache.glob("*/*") if p.is_dir()} - before)
    document = {
        "keys": keys,
        "built": built,
        "teacher": teacher_key(data),
        "accel": accel.__file__,
    }
    print(json.dumps(document))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
