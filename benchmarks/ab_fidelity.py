"""Measure the base-against-head decision's error rates on this machine.

For each cell, a "base" predictor and a separate "head" predictor of the same artifact are
loaded (two sessions, two copies of the weights, as the gate loads a baseline's artifact beside
a changed one). Each repetition decides, in rotated order, every head against the base with
the gate's own sequential rule (``accel.gate.base_head.decide``: phases of ``AB_PLAN``'s
interleaved rounds from ``accel.measure.timing.measure_speedup``, pooled until decided):

* ``clean``: the head unchanged (an A/A comparison): any failing answer is a false alarm;
* ``slowdown-X``: the head made X slower by the test-only busy-wait of ``benchmarks/slowdown.py``;
* with ``--realistic``, regressions that real merges make (``benchmarks/regressions.py``: graph
  optimization off, attention fusion lost, one layer left in fp32, inputs padded to 64); every
  head is then also timed in one gate phase beside the fp32 reference a repetition and judged
  by the rule on the speedup over the reference (``accel.gate.latency``), against a 60-round
  idle phase of the unchanged cell, for comparison.

With ``--base-process``, the base is not loaded here: it is the cell as a second process builds
it, the base worker that ``--accel-base`` starts (``accel.plugin.base_code``; here on this very
tree), which times its own blocks while this process waits: the error rates of base against
head for code.

Repetitions alternate between an idle machine and one whose other core a busy loop holds. The
JSON (rewritten atomically after every repetition) holds every decision, the rates with 95%
Wilson intervals, and the settings.

    python benchmarks/ab_fidelity.py --cells ort-int8,distilled-ort-int8 --repetitions 160
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch
from gate_fidelity import BUSY, IDLE, load, wilson
from slowdown import SlowedPredictor
from tqdm.auto import tqdm

from accel.artifacts.cache import write_json_atomic
from accel.gate.base_head import (
    AB_MARGIN,
    AB_MAX_PHASES,
    AB_PLAN,
    Against,
    BaseHead,
    decide,
    fails,
)
from accel.gate.baselines import read_baseline
from accel.gate.calibration import margin_for
from accel.gate.latency import SPEEDUP_MARGIN, regression_verdict
from accel.matrix import Matrix, RunConfig
from accel.measure.intervals import SpeedupInterval
from accel.measure.machine import machine_record
from accel.measure.predictors import Predictor
from accel.measure.records import Cell
from accel.measure.timing import BASELINE_ROUNDS, TimingPlan, measure_speedup, measure_speedups
from accel.plugin.base_code import BaseCode, Remote
from accel.techniques import REFERENCE, builtin_registry

RULE = (
    "accel.gate.base_head.decide: the head's speedup over the base, pooled over phases; slower "
    "when the 90% CI's upper bound < 1 - margin, same when its lower bound >= 1 - margin, else "
    "another phase; still undecided after the last phase, against an old artifact it fails "
    "when the pooled point is < 1 - margin, against the base code (a second process) it passes "
    "with a warning (accel.gate.base_head.fails)"
)
TARGETS = {"false_alarm_rate_max": 0.01, "detection_rate_min": {"0.1": 0.95, "0.25": 1.0}}


def rates(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How many decisions fail, are undecided, and how many phases they took."""
    failed = sum(r["fails"] for r in runs)
    undecided = sum(r["answer"] == "undecided" for r in runs)
    low, high = wilson(failed, len(runs))
    return {
        "runs": len(runs),
        "failed": failed,
        "fail_rate": failed / len(runs) if runs else None,
        "ci95": [low, high],
        "undecided": undecided,
        "mean_phases": sum(r["phases"] for r in runs) / len(runs) if runs else None,
        "mean_ratio": sum(r["ratio"] for r in runs) / len(runs) if runs else None,
        "by_load": {
            load_: {"runs": len(sub), "failed": sum(r["fails"] for r in sub)}
            for load_ in (IDLE, BUSY)
            for sub in [[r for r in runs if r["load"] == load_]]
        },
    }


def rejudge(path: Path, command: str) -> dict[str, Any]:
    """The output at ``path`` with every recorded decision's ``fails`` recomputed by the current
    rule from its answer, pooled interval and margin (nothing is timed)."""
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    # What the base was is the run's setting (records made before decisions said so carry
    # "artifact" whatever it was).
    process = str(doc["settings"].get("base", "")).startswith("a second process")
    for entry in doc["cells"].values():
        for runs in entry["runs"].values():
            for r in runs:
                interval = SpeedupInterval(r["ratio"], r["low"], r["high"], rounds=r["rounds"])
                against: Against = "code" if process else "artifact"
                outcome = BaseHead(
                    r["answer"], interval, r["phases"], r["margin"], r["base"], against
                )
                r["fails"], r["against"] = fails(outcome), against
        entry["summary"] = {name: rates(found) for name, found in entry["runs"].items()}
    doc["rejudged"] = {"command": command, "rule": RULE}
    doc["settings"]["rule"] = RULE
    return doc


def heads_of(
    matrix: Matrix, technique: str, slowdowns: Sequence[float], realistic: bool, scratch: Path
) -> dict[str, tuple[Predictor, str]]:
    """The heads decided against the base: clean, slowed copies, and realistic regressions."""
    head = matrix.predictor(Cell(technique, "cpu"))
    heads: dict[str, tuple[Predictor, str]] = {"clean": (head, "the same artifact (A/A)")}
    for s in slowdowns:
        heads[f"slowdown-{s:g}"] = (SlowedPredictor(head, s), f"busy-wait {s:.0%} of each call")
    if realistic:
        from regressions import realistic_heads

        heads |= realistic_heads(matrix, technique, scratch / technique)
    return heads


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cells",
        default="ort-int8,distilled-ort-int8,torch-int8,distilled-torch-int8",
        help="CPU techniques to measure, comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--repetitions",
        type=int,
        default=160,
        help="decisions per head and cell, idle and busy alternately (default: %(default)s)",
    )
    parser.add_argument(
        "--slowdowns",
        default="0.1,0.25",
        help="injected slowdowns, fractions of each call's time (default: %(default)s)",
    )
    parser.add_argument(
        "--realistic",
        action="store_true",
        help="also decide the realistic regressions of benchmarks/regressions.py (ONNX cells), "
        "and judge every head by the speedup over the reference too (one gate phase of 20 "
        "rounds a repetition, against a 60-round idle baseline of the unchanged cell)",
    )
    parser.add_argument(
        "--base-process",
        action="store_true",
        help="time the base in a second process, built by the base worker from this tree "
        "(what --accel-base does for the code of another revision)",
    )
    parser.add_argument(
        "--calibrated",
        action="store_true",
        help="decide with each cell's calibrated margin from its baseline (accel calibrate), as "
        "the gate does; a cell without one for this kind of base is an error",
    )
    parser.add_argument(
        "--scratch",
        type=Path,
        default=Path("/tmp/accel-ab-fidelity"),
        help="where --realistic writes its variant graphs (default: %(default)s)",
    )
    parser.add_argument(
        "--rejudge",
        type=Path,
        default=None,
        metavar="PATH",
        help="time nothing: judge the decisions recorded in this output again with the current "
        "rule (accel.gate.base_head.fails) and rewrite its summaries",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/ab-fidelity.json"),
        help="JSON output, rewritten after each repetition (default: %(default)s)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    # Killed, end like an interrupt: the busy loop of `load` and the base worker are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    command = " ".join(["python", "benchmarks/ab_fidelity.py", *argv])
    if args.rejudge is not None:
        write_json_atomic(args.rejudge, rejudge(args.rejudge, command))
        print(f"rejudged {args.rejudge}")
        return 0
    if args.base_process and args.realistic:
        build_parser().error("--realistic loads its regressions here: leave out --base-process")
    if args.repetitions < 2:
        build_parser().error(f"--repetitions must be >= 2, got {args.repetitions}")
    slowdowns = [float(s) for s in args.slowdowns.split(",") if s.strip()]
    torch.set_num_threads(1)
    registry = builtin_registry()
    plan = AB_PLAN
    # Two matrices: two independently loaded predictors of each cell, the base and the head.
    bases, heads_matrix = (Matrix(RunConfig(threads=1, plan=plan), registry) for _ in range(2))
    queries = bases.latency_queries
    started = time.perf_counter()
    doc: dict[str, Any] = {
        "command": command,
        "settings": {
            "rule": RULE,
            "margin": "each cell's calibrated margin" if args.calibrated else AB_MARGIN,
            "max_phases": AB_MAX_PHASES,
            "timing_plan": {"warmup": plan.warmup, "rounds": plan.rounds, "block": plan.block},
            "threads": 1,
            "repetitions": args.repetitions,
            "loads": "idle and one busy core, alternately",
            "base": (
                "a second process (the base worker); the two on one CPU while timed"
                if args.base_process
                else "this process"
            ),
        },
        "machine": machine_record("cpu", 1),
        "targets": TARGETS,
        "cells": {},
    }
    techniques = [c.strip() for c in args.cells.split(",") if c.strip()]
    worker = BaseCode(".", Path.cwd(), None, {"model": None, "data": None, "threads": 1})
    for technique in techniques:
        local = bases.predictor(Cell(technique, "cpu"))
        base: Predictor | Remote = local
        if args.base_process:
            remote = worker.side(f"{technique}/cpu", [f"{t}/cpu" for t in techniques], queries)
            if isinstance(remote, str):
                raise SystemExit(f"the base worker cannot time {technique}: {remote}")
            base = remote
        against: Against = "code" if args.base_process else "artifact"
        margin = AB_MARGIN
        if args.calibrated:
            found = read_baseline(Path("baselines/cpu") / f"{technique}.json").calibration
            margin, own = margin_for(found, against, doc["machine"])
            if own is None:
                raise SystemExit(f"{technique}: no calibrated {against} margin for this machine")
        heads = heads_of(heads_matrix, technique, slowdowns, args.realistic, args.scratch)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in heads}
        entry: dict[str, Any] = {"heads": {n: why for n, (_, why) in heads.items()}}
        entry["margin"] = margin
        doc["cells"][technique] = entry
        names = list(heads)
        reference_rule: dict[str, list[dict[str, Any]]] = {name: [] for name in heads}
        speedup_baseline = None
        if args.realistic:  # what the speedup over the reference would decide, for comparison
            reference = bases.predictor(Cell(REFERENCE, "cpu"))
            first = measure_speedup(reference, local, queries, TimingPlan(rounds=BASELINE_ROUNDS))
            speedup_baseline = first.interval.speedup
            entry["reference_rule"] = {"baseline": speedup_baseline, "margin": SPEEDUP_MARGIN}
        cell_started = time.perf_counter()
        for rep in tqdm(range(args.repetitions), desc=technique, unit="repetition"):
            kind = IDLE if rep % 2 == 0 else BUSY
            shift = rep % len(names)
            with load(kind):
                for name in names[shift:] + names[:shift]:
                    phase = partial(measure_speedup, base, heads[name][0], queries, plan)
                    with worker.same_core():  # as the gate does (nothing without a worker)
                        outcome = decide(
                            phase, technique, margin, against=against, calibrated=args.calibrated
                        )
                    record = outcome.as_dict() | {"fails": fails(outcome), "load": kind}
                    runs[name].append(record | {"repetition": rep})
                if speedup_baseline is not None:
                    together = {n: h for n, (h, _) in heads.items()}
                    timed = measure_speedups(reference, together, queries, TimingPlan(), False)
                    for name, speedup in timed.items():
                        i = speedup.interval
                        verdict = regression_verdict(i, speedup_baseline, SPEEDUP_MARGIN)
                        reference_rule[name].append(
                            {"speedup": i.speedup, "low": i.low, "high": i.high, "load": kind}
                            | {"worse": verdict == "worse"}
                        )
            entry["seconds"] = time.perf_counter() - cell_started
            entry["summary"] = {name: rates(found) for name, found in runs.items()}
            entry["runs"] = runs
            if speedup_baseline is not None:
                entry["reference_rule"] |= {
                    "caught": {n: sum(r["worse"] for r in v) for n, v in reference_rule.items()},
                    "runs": reference_rule,
                }
            doc["elapsed_seconds"] = time.perf_counter() - started
            write_json_atomic(args.out, doc)
        summary = entry["summary"]
        print(
            technique,
            ", ".join(f"{n}: {s['failed']}/{s['runs']} fail" for n, s in summary.items()),
            flush=True,
        )
    worker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
