"""Measure how much the gate's speedup estimates move between repeated matrix runs.

The gate's own timing phase (every CPU cell beside the reference, round-robin, TimingPlan
defaults: ``accel.measure.timing.measure_speedups``) is repeated ``--repeats`` times at each
thread count and load: an idle machine, and one where a busy process spins on one core. The
spread of each cell's estimates between phases is what the baseline tolerance on ``speedup``
must absorb.
Results go to a JSON file, with the command that produced them, rewritten after each phase.

    python benchmarks/speedup_noise.py --threads 1 --repeats 6 --out benchmarks/speedup-noise.json
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from accel.artifacts.cache import write_json_atomic
from accel.matrix import Matrix, RunConfig
from accel.measure.records import Cell
from accel.measure.timing import TimingPlan, measure_speedups
from accel.techniques import builtin_registry

TECHNIQUES = builtin_registry()



def summarize(values: list[float]) -> dict[str, float]:
    mean = statistics.mean(values)
    return {
        "mean": mean,
        "cv": statistics.stdev(values) / mean if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--threads", default="1", metavar="N,N", help="thread counts (default: %(default)s)"
    )
    parser.add_argument(
        "--loads",
        default="idle,one-core-busy",
        metavar="L,L",
        help="loads, of idle and one-core-busy (default: %(default)s)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=8,
        metavar="K",
        help="estimates per condition (default: %(default)s)",
    )
    parser.add_argument(
        "--techniques",
        default=",".join(
            t.name
            for t in TECHNIQUES
            if "cpu" in t.devices and TECHNIQUES.unavailable(t.name, "cpu") is None
        ),
        metavar="NAMES",
        help="cells to measure (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/speedup-noise.json"),
        metavar="PATH",
        help="JSON output (default: %(default)s)",
    )
    args = parser.parse_args()
    loads = args.loads.split(",")
    if not loads or any(load not in ("idle", "one-core-busy") for load in loads):
        parser.error(f"--loads: expected idle and/or one-core-busy, got {args.loads!r}")
    started = time.perf_counter()
    results: dict[str, dict[str, dict[str, object]]] = {}
    for threads in [int(t) for t in args.threads.split(",")]:
        matrix = Matrix(RunConfig(threads=threads), TECHNIQUES)
        ref = matrix.predictor(Cell("fp32", "cpu"))
        cells = {name: matrix.predictor(Cell(name, "cpu")) for name in args.techniques.split(",")}
        for load in loads:
            busy = (
                subprocess.Popen([sys.executable, "-c", "while True: pass"])
                if load != "idle"
                else None
            )
            values: dict[str, list[float]] = {name: [] for name in cells}
            try:
                for phase in range(args.repeats):
                    torch.set_num_threads(threads)
                    start = time.perf_counter()
                    timings = measure_speedups(ref, cells, matrix.latency_queries, TimingPlan())
                    for name, timing in timings.items():
                        values[name].append(timing.speedup)
                    print(
                        f"threads={threads} {load} phase {phase + 1}/{args.repeats}: "
                        f"{time.perf_counter() - start:.0f} s; "
                        + ", ".join(f"{n} {t.speedup:.2f}x" for n, t in timings.items()),
                        flush=True,
                    )
                    results.setdefault(f"{threads}-thread", {})[load] = {
                        name: summarize(v) | {"values": v} for name, v in values.items()
                    }
                    _write(args, results, started)
            finally:
                if busy:
                    busy.kill()
    return 0


def _write(args: argparse.Namespace, results: dict[str, object], started: float) -> None:
    document = {
        "command": "python " + " ".join(sys.argv),
        "plan": {
            "warmup": TimingPlan().warmup,
            "rounds": TimingPlan().rounds,
            "block": TimingPlan().block,
            "cells": "timed together, round-robin, one phase per repetition",
        },
        "elapsed_seconds": time.perf_counter() - started,
        "results": results,
    }
    write_json_atomic(args.out, document)


if __name__ == "__main__":
    sys.exit(main())
