"""Measure how much the interleaved speedup estimate moves between repeated runs.

For every CPU cell, the gate's own speedup measurement (TimingPlan defaults) is repeated
``--repeats`` times at each thread count, on an idle machine and while a busy process
spins on one core. The spread of those estimates is what the baseline tolerance on
``speedup`` must absorb. Results go to a JSON file, with the command that produced them.

    python benchmarks/speedup_noise.py --threads 1,2 --repeats 8 --out benchmarks/speedup-noise.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from accel.bench import TimingPlan, measure_speedup
from accel.cache import write_text_atomic
from accel.matrix import Cell, Matrix, RunConfig, unavailable_reason
from accel.techniques import TECHNIQUES


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
        "--threads", default="1,2", metavar="N,N", help="thread counts (default: %(default)s)"
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
            t
            for t, v in TECHNIQUES.items()
            if "cpu" in v.devices and unavailable_reason(Cell(t, "cpu")) is None
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
    results: dict[str, dict[str, dict[str, object]]] = {}
    for threads in [int(t) for t in args.threads.split(",")]:
        matrix = Matrix(RunConfig(threads=threads))
        ref = matrix.predictor(Cell("fp32", "cpu"))
        cells = {name: matrix.predictor(Cell(name, "cpu")) for name in args.techniques.split(",")}
        for load in ("idle", "one-core-busy"):
            busy = (
                subprocess.Popen([sys.executable, "-c", "while True: pass"])
                if load != "idle"
                else None
            )
            try:
                for name, predictor in cells.items():
                    torch.set_num_threads(threads)
                    start = time.perf_counter()
                    values = [
                        measure_speedup(
                            ref, predictor, matrix.latency_queries, TimingPlan()
                        ).speedup
                        for _ in range(args.repeats)
                    ]
                    stats = summarize(values)
                    results.setdefault(f"{threads}-thread", {}).setdefault(load, {})[name] = (
                        stats | {"values": values}
                    )
                    print(
                        f"threads={threads} {load:13s} {name:11s} mean {stats['mean']:.2f}x "
                        f"cv {stats['cv']:.1%} range {stats['min']:.2f}-{stats['max']:.2f} "
                        f"({(time.perf_counter() - start) / args.repeats:.1f} s/estimate)",
                        flush=True,
                    )
            finally:
                if busy:
                    busy.kill()
    document = {
        "command": "python " + " ".join(sys.argv),
        "plan": {
            "warmup": TimingPlan().warmup,
            "rounds": TimingPlan().rounds,
            "block": TimingPlan().block,
        },
        "results": results,
    }
    write_text_atomic(args.out, json.dumps(document, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
