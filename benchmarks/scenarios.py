"""LoadGen's SingleStream, Server and Offline scenarios on CPU cells, repeated, with the
spread of each cell's ratios to the reference between repetitions (docs/scenarios.md).

Builds the cells from the artifact cache the way the gate does (``Matrix.predictor``), runs
the reference's scenarios then each cell's (the ``fp32`` cell is the reference itself), and
rewrites ``--out`` atomically after each cell, so that an interrupted run keeps what it
measured. Each repetition runs the reference again: the ratios are those of one run.

    ACCEL_CLINC_PATH=../shared/data/clinc150/data_oos_plus.json \\
        python benchmarks/scenarios.py --cells fp32,ort-int8,distilled --repeats 2 \\
        --out benchmarks/scenarios-spread.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from pathlib import Path
from typing import Any

from accel.artifacts.cache import write_json_atomic
from accel.artifacts.sources import DataSpec
from accel.matrix import Matrix, RunConfig
from accel.measure.machine import machine_record
from accel.measure.records import Cell
from accel.measure.scenario_records import ScenarioSettings, ratios
from accel.measure.scenarios import run_scenarios
from accel.techniques import REFERENCE, builtin_registry


def spread(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per cell and ratio: the values across repetitions and their range over their mean."""
    values: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        for cell, entry in run["cells"].items():
            for name, value in entry.get("ratios", {}).items():
                values.setdefault(cell, {}).setdefault(name, []).append(value)
    out: dict[str, dict[str, Any]] = {}
    for cell, named in values.items():
        for name, found in named.items():
            mean = statistics.fmean(found)
            out.setdefault(cell, {})[name] = {
                "values": [round(v, 4) for v in found],
                "range_over_mean": round((max(found) - min(found)) / mean, 4) if mean else None,
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", default="fp32,ort-int8,distilled", help="techniques")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/scenarios-cpu.json"))
    parser.add_argument("--logs", type=Path, default=Path("reports/loadgen"))
    args = parser.parse_args()
    data = DataSpec(path=os.environ.get("ACCEL_CLINC_PATH"))
    matrix = Matrix(RunConfig(data=data), builtin_registry())
    settings = ScenarioSettings()
    texts = matrix.test_texts
    command = "python benchmarks/scenarios.py " + " ".join(
        f"--{k} {v}" for k, v in vars(args).items()
    )
    document: dict[str, Any] = {
        "command": command,
        "settings": settings.to_dict(),
        "machine": machine_record(args.device, 1),
        "started": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "runs": [],
    }
    for repeat in range(args.repeats):
        run: dict[str, Any] = {"cells": {}}
        document["runs"].append(run)
        reference = None
        for technique in [REFERENCE, *[t for t in args.cells.split(",") if t != REFERENCE]]:
            cell = Cell(technique, args.device)
            start = time.perf_counter()
            predictor = matrix.predictor(cell)
            build = time.perf_counter() - start
            folder = args.logs / f"repeat{repeat}" / f"{technique}-{args.device}"
            record = run_scenarios(predictor, texts, settings, folder)
            found = ratios(record, reference) if reference else {}  # none for the reference
            reference = reference or record
            run["cells"][cell.id] = {
                # Other processes share the cores: the 1-minute load average, after the cell.
                "load_average_1min": round(os.getloadavg()[0], 2),
                "scenarios": record.to_dict(),
                "ratios": found,
                "build_seconds": round(build, 1),
            }
            document["spread"] = spread(document["runs"])
            write_json_atomic(args.out, document)
            print(f"{cell.id} repeat {repeat}: {record.seconds:.0f} s, {found}")


if __name__ == "__main__":
    main()
