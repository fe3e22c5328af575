"""Measure the spread of the serving figures (peak memory, load time) between fresh processes.

Builds the reference and a few CPU cells from the artifact cache (as a matrix run does), then
``--repeats`` times, round-robin, serves each of them in a fresh process
(:func:`accel.measure.serving.measure`, the gate's own measurement): the reference first, then
each cell. Each cell's ratios to the reference of the same round (``memory_ratio``,
``load_time_ratio``) are what the gate compares with a baseline; their spread between rounds
is what the default tolerances must absorb (docs/serving.md). The machine's CPU use (psutil,
all cores: 100 = every core busy) is sampled for 1 s before each child and over the child's
run (the child itself keeps one core busy), so that the conditions are on record. Results go to a
JSON file, with the command that produced them, rewritten after each round.

    python benchmarks/serving_spread.py --repeats 6 --out benchmarks/serving-spread.json
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import speedup_noise

from accel.artifacts.cache import write_json_atomic
from accel.artifacts.sources import DataSpec
from accel.matrix import Matrix, RunConfig
from accel.measure import serving
from accel.measure.records import Cell
from accel.techniques import REFERENCE, builtin_registry

CELLS = "fp32,torch-int8,ort-fp32,ort-int8,distilled"  # fp32 as a cell: the A/A ratio


def summarize(values: list[float]) -> dict[str, float]:
    """Mean, coefficient of variation, min and max (speedup_noise's), the range relative to the
    mean, and the count."""
    out = speedup_noise.summarize(values)
    return out | {"range_rel": (out["max"] - out["min"]) / out["mean"], "n": len(values)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", default=CELLS, help="techniques (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=6, help="rounds (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="threads (default: %(default)s)")
    parser.add_argument(
        "--concurrent", type=int, default=1,
        help="children served at once, as the matrix does on a machine with that many cores "
        "(default: %(default)s, one at a time)",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/serving-spread.json"))
    args = parser.parse_args(argv)
    data = os.environ.get("ACCEL_CLINC_PATH")
    matrix = Matrix(RunConfig(data=DataSpec(path=data), threads=args.threads), builtin_registry())
    techniques = args.cells.split(",")
    names = dict.fromkeys([REFERENCE, *techniques])
    predictors = {t: matrix.predictor(Cell(t, "cpu")) for t in names}
    queries = matrix.latency_queries
    runs: list[dict[str, Any]] = []
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    psutil.cpu_percent()  # starts the sampling interval
    for round_ in range(args.repeats):
        order = [("reference", REFERENCE)] + [("cell", t) for t in techniques]

        def child(role: str, technique: str, round_: int = round_) -> dict[str, Any]:
            alone = args.concurrent == 1  # the machine's load is on record only then
            busy_before = psutil.cpu_percent(interval=1.0) if alone else math.nan
            psutil.cpu_percent()  # starts the interval of the child's run
            figures = serving.measure(
                predictors[technique], queries, args.threads, f"{technique}/cpu"
            )
            print(f"round {round_} {role} {technique}: peak {figures.peak_rss_mb:.0f} MB, "
                  f"load {figures.load_seconds:.2f} s", file=sys.stderr)
            return {
                "round": round_, "role": role, "technique": technique,
                "peak_rss_mb": figures.peak_rss_mb, "import_rss_mb": figures.import_rss_mb,
                "load_seconds": figures.load_seconds, "detail": figures.detail,
                "load_cpu_seconds": figures.load_cpu_seconds,
                "cpu_percent_before": busy_before,
                "cpu_percent_during": psutil.cpu_percent() if alone else math.nan,
            }

        with ThreadPoolExecutor(args.concurrent) as pool:
            runs.extend(pool.map(lambda pair: child(*pair), order))
        write_json_atomic(args.out, document(args, started, runs, queries))
    return 0


def document(
    args: argparse.Namespace, started: str, runs: list[dict[str, Any]], queries: list[str]
) -> dict[str, Any]:
    """The results so far: every child's figures, and per cell the spread of each figure and of
    its ratio to the reference of the same round."""
    reference = {r["round"]: r for r in runs if r["role"] == "reference"}
    cells: dict[str, Any] = {}
    for technique in args.cells.split(","):
        own = [r for r in runs if r["role"] == "cell" and r["technique"] == technique]
        if len(own) < 2:
            continue
        ref = [reference[r["round"]] for r in own]
        pairs = list(zip(own, ref, strict=True))
        cells[technique] = {
            "peak_rss_mb": summarize([r["peak_rss_mb"] for r in own]),
            "import_rss_mb": summarize([r["import_rss_mb"] for r in own]),
            "load_seconds": summarize([r["load_seconds"] for r in own]),
            "memory_ratio": summarize(
                [r["peak_rss_mb"] / b["peak_rss_mb"] for r, b in zip(own, ref, strict=True)]
            ),
            "load_cpu_seconds": summarize([r["load_cpu_seconds"] for r in own]),
            "load_time_ratio": summarize(
                [r["load_seconds"] / b["load_seconds"] for r, b in zip(own, ref, strict=True)]
            ),
            "load_cpu_ratio": summarize(
                [r["load_cpu_seconds"] / b["load_cpu_seconds"] for r, b in pairs]
            ),
        }
    refs = list(reference.values())
    figures = ("peak_rss_mb", "import_rss_mb", "load_seconds", "load_cpu_seconds")
    return {
        "command": "python benchmarks/serving_spread.py " + " ".join(sys.argv[1:]),
        "started": started,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": psutil.cpu_count(),
            "memory_gb": psutil.virtual_memory().total / 1e9,
            "python": platform.python_version(),
        },
        "threads": args.threads,
        "concurrent": args.concurrent,
        "queries": len(queries),
        "passes": serving.PASSES,
        # On record for children served one at a time only (NaN otherwise).
        "cpu_percent_before": summarize([r["cpu_percent_before"] for r in runs])
        if args.concurrent == 1 else {},
        "cpu_percent_during": summarize([r["cpu_percent_during"] for r in runs])
        if args.concurrent == 1 else {},
        "reference": {
            k: summarize([r[k] for r in refs]) for k in figures
        } if len(refs) > 1 else {},
        "cells": cells,
        "runs": runs,
    }


if __name__ == "__main__":
    sys.exit(main())
