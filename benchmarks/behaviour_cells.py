"""Measure every CPU cell's behaviour against the reference (no timing): the figures that the
behaviour metrics' defaults and the contracts' behaviour floors are set from.

Builds each cell from the cache (or trains it), predicts the whole test split once, and writes
each cell's :class:`accel.measure.behaviour.Behaviour` (its ``to_dict``, the 10 worst
classes) to the JSON after each cell, atomically::

    ACCEL_CLINC_PATH=../shared/data/clinc150/data_oos_plus.json \\
        python benchmarks/behaviour_cells.py --out benchmarks/behaviour-cpu.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from accel.artifacts.cache import write_json_atomic
from accel.artifacts.sources import DataSpec
from accel.matrix import Matrix, RunConfig
from accel.measure.behaviour import compare_outputs
from accel.measure.records import Cell
from accel.techniques import REFERENCE, builtin_registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the JSON to write")
    parser.add_argument(
        "--techniques", default="", help="comma-separated techniques (default: every CPU one)"
    )
    args = parser.parse_args()
    registry = builtin_registry()
    names = [n for n in args.techniques.split(",") if n] or [
        t.name
        for t in registry
        if "cpu" in t.devices and registry.unavailable(t.name, "cpu") is None
    ]
    matrix = Matrix(RunConfig(data=DataSpec(path=os.environ.get("ACCEL_CLINC_PATH"))), registry)
    reference = Cell(REFERENCE, "cpu")
    matrix.score(reference)
    cells: dict[str, object] = {}
    document = {"command": " ".join(sys.argv), "cells": cells}
    for name in names:
        cell = Cell(name, "cpu")
        start = time.perf_counter()
        accuracy, size = matrix.score(cell)
        behaviour = compare_outputs(
            matrix.outputs(cell), matrix.outputs(reference), matrix.test_references
        )
        cells[cell.id] = behaviour.to_dict(top=10) | {
            "accuracy": accuracy.accuracy,
            "size_mb": size,
            "seconds": time.perf_counter() - start,
        }
        write_json_atomic(args.out, document)
        print(
            f"{cell.id}: agreement {behaviour.agreement:.4f}, worst class drop "
            f"{behaviour.worst_class_drop:.3f}, kl {behaviour.kl_mean}, ece {behaviour.ece}"
        )


if __name__ == "__main__":
    main()
