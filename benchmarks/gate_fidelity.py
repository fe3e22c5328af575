"""Measure the latency gate's two error rates on this machine: false alarms and detection.

Runs the gate's own latency measurement (``accel.measure.timing.measure_speedups``: every
cell beside the reference in round-robin ABBA rounds, one timing phase) and its own decision
(``accel.gate.latency.regression_verdict`` against a baseline speedup, with the margin of a
baseline file's speedup tolerance) many times. Each repetition is one timing phase of four
cells, the way the matrix times its cells together:

* the cell unchanged (``clean``);
* the cell made X slower (0.1, 0.25, 0.5: each call costs X more) by the test-only wrapper in
  ``benchmarks/slowdown.py``, one cell per slowdown.

Phases alternate between an idle machine and one where a busy-looping process loads one core,
so ``--repetitions K`` gives K clean runs of each load (``clean-idle``, ``clean-busy``) and 2K
runs of each slowdown, half of each load. A false alarm is a clean run that the rule calls
``worse``; a detection, a slowed run that it calls ``worse``. The baseline speedup stands for a
reviewed baseline of this machine, written the way ``--accel-update-baselines`` writes one: one
idle phase of ``--baseline-rounds`` rounds, taken first. The same runs are also judged against
the committed ``baselines/cpu/<cell>.json`` and at other margins (pure re-evaluations of the
recorded intervals). The JSON is rewritten atomically after each phase.

    python benchmarks/gate_fidelity.py --repetitions 40 --out benchmarks/gate-fidelity.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from slowdown import SlowedPredictor
from tqdm.auto import tqdm

from accel.artifacts.cache import write_json_atomic
from accel.gate.baselines import BaselineError, baseline_path, read_baseline
from accel.gate.latency import SPEEDUP_MARGIN, regression_verdict
from accel.matrix import Matrix, RunConfig
from accel.measure.intervals import LEVEL, N_RESAMPLES, SpeedupInterval
from accel.measure.machine import machine_record
from accel.measure.predictors import Predictor
from accel.measure.records import Cell, Speedup
from accel.measure.timing import BASELINE_ROUNDS, TimingPlan, measure_speedups
from accel.techniques import REFERENCE, builtin_registry

TECHNIQUES = builtin_registry()


ROOT = Path(__file__).resolve().parent.parent
IDLE, BUSY = "idle", "busy"
# Share of one core that other processes may take while the machine still counts as idle.
IDLE_SLACK = 0.25
TARGETS = {"false_alarm_rate_max": 0.05, "detection_rate_min": {"0.25": 0.95}}


CLEAN = "clean"


def condition_name(slowdown: float) -> str:
    """``clean`` for no slowdown, else ``slowdown-0.25`` style."""
    return CLEAN if slowdown == 0 else f"slowdown-{slowdown:g}"


def load_of(repetition: int) -> str:
    """Phases alternate: idle, busy, idle, ..."""
    return IDLE if repetition % 2 == 0 else BUSY


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95% by default) of a rate ``hits / n``."""
    if n == 0:
        return (0.0, 1.0)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _interval(run: dict[str, Any]) -> SpeedupInterval:
    return SpeedupInterval(run["speedup"], run["low"], run["high"], run.get("level", LEVEL))


def rate(runs: Sequence[dict[str, Any]], baseline: float, margin: float) -> dict[str, Any]:
    """How many ``runs`` the rule calls ``worse`` against ``baseline`` at ``margin``."""
    hits = sum(regression_verdict(_interval(r), baseline, margin) == "worse" for r in runs)
    low, high = wilson(hits, len(runs))
    return {
        "rate": hits / len(runs) if runs else None,
        "worse": hits,
        "runs": len(runs),
        "ci95": [low, high],
    }


def summarize(
    runs: dict[str, list[dict[str, Any]]],
    slowdowns: Sequence[float],
    baseline: float,
    margin: float,
) -> dict[str, Any]:
    """False-alarm and detection rates (overall and by load) of recorded runs."""
    clean = runs["clean-idle"] + runs["clean-busy"]
    out: dict[str, Any] = {
        "false_alarm": rate(clean, baseline, margin),
        "false_alarm_by_load": {
            load: rate(runs[f"clean-{load}"], baseline, margin) for load in (IDLE, BUSY)
        },
        "detection": {},
        "detection_by_load": {},
    }
    for s in slowdowns:
        slowed = runs[f"slowdown-{s:g}"]
        out["detection"][f"{s:g}"] = rate(slowed, baseline, margin)
        out["detection_by_load"][f"{s:g}"] = {
            load: rate([r for r in slowed if r["load"] == load], baseline, margin)
            for load in (IDLE, BUSY)
        }
    return out


def _cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies of all cores from /proc/stat, or None off Linux."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


@contextlib.contextmanager
def load(kind: str) -> Iterator[None]:
    """Nothing for ``idle``; for ``busy``, a process spinning on one core while inside."""
    if kind == IDLE:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it start spinning before the timing does
        yield
    finally:
        spinner.kill()
        spinner.wait()


def measure_phase(
    reference: Predictor,
    cells: dict[str, Predictor],
    queries: Sequence[str],
    plan: TimingPlan,
    threads: int,
) -> dict[str, dict[str, Any]]:
    """One timing phase of ``cells``: each one's speedup, interval, and how busy the machine
    was during the phase."""
    torch.set_num_threads(threads)
    before, start = _cpu_ticks(), time.perf_counter()
    timings = measure_speedups(reference, cells, queries, plan, progress=False)
    seconds, after = time.perf_counter() - start, _cpu_ticks()
    busy = None
    if before and after and after[1] > before[1]:
        busy = (after[0] - before[0]) / (after[1] - before[1])
    return {name: _record(timing, seconds, busy) for name, timing in timings.items()}


def _record(timing: Speedup, seconds: float, busy: float | None) -> dict[str, Any]:
    interval = timing.interval
    return {
        "speedup": interval.speedup,
        "low": interval.low,
        "high": interval.high,
        "round_cv": timing.cv,
        "phase_seconds": seconds,
        "cpu_busy_fraction": busy,  # all cores, this process included (1 of N cores: 1/N)
    }


def idle_check(runs: Sequence[dict[str, Any]], threads: int) -> dict[str, Any]:
    """Whether the CPUs were about as busy as this process alone during ``runs``."""
    cpus = os.cpu_count() or 1
    fractions = [r["cpu_busy_fraction"] for r in runs if r["cpu_busy_fraction"] is not None]
    if not fractions:
        return {"idle": True, "note": "no /proc/stat: not checked"}
    expected = min(1.0, threads / cpus)
    measured = statistics.median(fractions)
    idle = measured <= expected + IDLE_SLACK / cpus
    note = (
        f"the CPUs were {measured:.0%} busy during the idle runs, this process alone would "
        f"make them {expected:.0%}"
    )
    if not idle:
        note += ": another process was running, so 'idle' figures are not an idle machine's"
    return {"idle": idle, "cpu_busy_fraction": measured, "expected": expected, "note": note}


def committed_baseline(technique: str, threads: int) -> dict[str, Any] | None:
    """The committed baseline file's speedup, its margin, and whether its machine is this one."""
    path = baseline_path(ROOT / "baselines", f"{technique}/cpu")
    try:
        base = read_baseline(path)
    except (FileNotFoundError, BaselineError):
        return None
    tol = base.tolerances.get("speedup")
    speedup = base.metrics["speedup"]
    record = machine_record("cpu", threads)
    return {
        "path": str(path.relative_to(ROOT)),
        "speedup": speedup,
        "margin": tol.allowed(speedup) / speedup if tol else SPEEDUP_MARGIN,
        "same_machine": all(base.machine.get(k) == record.get(k) for k in ("cpu", "threads")),
    }


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 0.1,0.25, got {text!r}") from None
    if not values or any(not 0 <= v < 10 for v in values):
        raise argparse.ArgumentTypeError(f"expected numbers in [0, 10), got {text!r}")
    return values


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


_positive = _at_least(1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cpu_cells = [v.name for v in TECHNIQUES if "cpu" in v.devices and v.name != REFERENCE]
    parser.add_argument(
        "--cell",
        default="ort-int8",
        choices=cpu_cells,
        help="the CPU technique timed against the fp32 reference (default: %(default)s, the "
        "noisiest cell: about 1.5 ms a call, mostly tokenization and Python)",
    )
    parser.add_argument(
        "--repetitions",
        type=_positive,
        default=40,
        metavar="K",
        help="clean gate runs per load, idle and busy (2K timing phases, 2K runs of each "
        "slowdown); issue #5 asks for >= 40 (default: %(default)s)",
    )
    parser.add_argument(
        "--rounds",
        type=_at_least(2),
        default=TimingPlan().rounds,
        metavar="N",
        help="round-robin rounds per timing phase, as --accel-rounds (default: %(default)s, "
        "the gate's)",
    )
    parser.add_argument(
        "--threads",
        type=_positive,
        default=1,
        metavar="N",
        help="threads for both models, as --accel-threads (default: %(default)s)",
    )
    parser.add_argument(
        "--slowdowns",
        type=_floats,
        default=[0.1, 0.25, 0.5],
        metavar="F,F",
        help="injected slowdowns, as fractions of each call's time (default: 0.1,0.25,0.5)",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=SPEEDUP_MARGIN,
        metavar="M",
        help="the rule's margin: a run fails when its CI's upper bound is below (1 - M) x "
        "baseline (default: %(default)s, the default speedup tolerance of a baseline file)",
    )
    parser.add_argument(
        "--sweep-margins",
        type=_floats,
        default=[0.05, 0.075, 0.1, 0.125, 0.15, 0.2],
        metavar="M,M",
        help="other margins to evaluate the same runs at (default: 0.05,0.075,0.1,0.125,0.15,0.2)",
    )
    parser.add_argument(
        "--baseline-rounds",
        type=_at_least(2),
        default=BASELINE_ROUNDS,
        metavar="N",
        help="rounds of the idle phase taken first, whose clean speedup is the baseline, as "
        "--accel-update-baselines times (default: %(default)s)",
    )
    parser.add_argument(
        "--rejudge",
        type=Path,
        default=None,
        metavar="PATH",
        help="time nothing: judge the runs recorded in this output at --margin and rewrite its "
        "headline rates (for a margin changed after the runs)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/gate-fidelity.json"),
        metavar="PATH",
        help="JSON output, rewritten after each repetition (default: %(default)s)",
    )
    return parser


def judge(
    runs: dict[str, list[dict[str, Any]]],
    slowdowns: Sequence[float],
    baseline: float,
    margin: float,
) -> dict[str, Any]:
    """The headline of recorded ``runs`` judged at ``margin``: rates, targets met, summary."""
    summary = summarize(runs, slowdowns, baseline, margin)
    false_alarms = summary["false_alarm"]["rate"]
    detection = {k: v["rate"] for k, v in summary["detection"].items()}
    floors: dict[str, float] = TARGETS["detection_rate_min"]  # type: ignore[assignment]
    return {
        "false_alarm_rate": false_alarms,
        "detection_rate": detection,
        "targets_met": false_alarms <= TARGETS["false_alarm_rate_max"]
        and all(detection.get(k, 0) >= v for k, v in floors.items()),
        "summary": summary,
    }


def rejudge(path: Path, margin: float, command: str) -> dict[str, Any]:
    """Judge the runs recorded in ``path`` at another margin, without timing anything: the
    headline rates and ``settings.margin`` change, the runs and the margin sweep do not."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        runs, settings = doc["conditions"], doc["settings"]
        slowdowns, baseline = settings["slowdowns"], doc["baseline"]["speedup"]
    except (OSError, ValueError, KeyError) as error:
        raise SystemExit(f"{path}: not a complete gate_fidelity.py output ({error})") from None
    judged_before = {"margin": settings["margin"], "command": doc["command"]}
    doc |= judge(runs, slowdowns, baseline, margin)
    doc["settings"]["margin"] = margin
    doc["rejudged"] = {"command": command, "before": judged_before}
    return dict(doc)


def document(
    command: str,
    args: argparse.Namespace,
    plan: TimingPlan,
    baseline: dict[str, Any],
    committed: dict[str, Any] | None,
    runs: dict[str, list[dict[str, Any]]],
    done: int,
    started: float,
) -> dict[str, Any]:
    """The JSON written to ``--out``: headline rates, settings, and every run."""
    doc: dict[str, Any] = {
        "command": command,
        "complete": done == 2 * args.repetitions,
        "phases_done": done,
        "elapsed_seconds": time.perf_counter() - started,
        "settings": {
            "cell": f"{args.cell}/cpu",
            "reference": f"{REFERENCE}/cpu",
            "threads": args.threads,
            "timing_plan": {"warmup": plan.warmup, "rounds": plan.rounds, "block": plan.block},
            "repetitions": args.repetitions,
            "slowdowns": args.slowdowns,
            "phases": "one per repetition, idle and busy alternately; each times the clean "
            "cell and one slowed copy per slowdown together, round-robin",
            "margin": args.margin,
            "confidence": f"{LEVEL:.0%} two-sided percentile bootstrap over rounds "
            f"({N_RESAMPLES} resamples); each bound is one-sided {(1 + LEVEL) / 2:.0%}",
            "rule": "worse when the CI's upper bound < (1 - margin) x baseline speedup",
            "baseline": "the clean speedup of one idle phase of --baseline-rounds rounds, "
            "taken first",
        },
        "machine": machine_record("cpu", args.threads) | {"logical_cpus": os.cpu_count()},
        "targets": TARGETS,
        "baseline": baseline,
    }
    if done == 0:
        return doc | {"conditions": runs}
    doc |= judge(runs, args.slowdowns, baseline["speedup"], args.margin)
    doc["margin_sweep"] = {
        f"{m:g}": {
            "false_alarm_rate": s["false_alarm"]["rate"],
            "detection_rate": {k: v["rate"] for k, v in s["detection"].items()},
        }
        for m in args.sweep_margins
        for s in [summarize(runs, args.slowdowns, baseline["speedup"], m)]
    }
    if committed is not None:
        doc["against_committed_baseline"] = committed | {
            "summary": summarize(runs, args.slowdowns, committed["speedup"], committed["margin"])
        }
    doc["conditions"] = runs
    return doc


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = " ".join(["python", "benchmarks/gate_fidelity.py", *argv])
    args = build_parser().parse_args(argv)
    if not 0 <= args.margin < 1:
        build_parser().error(f"--margin must be in [0, 1), got {args.margin}")
    if args.rejudge is not None:
        doc = rejudge(args.rejudge, args.margin, command)
        write_json_atomic(args.rejudge, doc)
        print(
            f"at margin {args.margin:g}: false alarms {doc['false_alarm_rate']:.1%}, detection "
            + ", ".join(f"{k}: {v:.1%}" for k, v in doc["detection_rate"].items())
            + f"; rewritten {args.rejudge}"
        )
        return 0
    started = time.perf_counter()
    plan = TimingPlan(rounds=args.rounds)
    matrix = Matrix(RunConfig(threads=args.threads, plan=plan, scaling=False), TECHNIQUES)
    reference = matrix.predictor(Cell(REFERENCE, "cpu"))
    cell = matrix.predictor(Cell(args.cell, "cpu"))
    queries = matrix.latency_queries
    cells: dict[str, Predictor] = {CLEAN: cell} | {
        condition_name(s): SlowedPredictor(cell, s) for s in args.slowdowns if s
    }
    runs: dict[str, list[dict[str, Any]]] = {f"{CLEAN}-{load}": [] for load in (IDLE, BUSY)}
    runs |= {condition_name(s): [] for s in args.slowdowns if s}
    committed = committed_baseline(args.cell, args.threads)
    phases = 2 * args.repetitions
    bar = tqdm(total=phases, desc="gate fidelity", unit="phase")
    bar.write(f"baseline: one idle phase of {args.baseline_rounds} rounds")
    base_plan = TimingPlan(rounds=args.baseline_rounds)
    base_run = measure_phase(reference, cells, queries, base_plan, args.threads)[CLEAN]
    baseline = {
        "speedup": base_run["speedup"],
        "rounds": args.baseline_rounds,
        "runs": [base_run],
        "idle": idle_check([base_run], args.threads),
    }
    per_phase = base_run["phase_seconds"] * args.rounds / args.baseline_rounds
    bar.write(f"baseline {baseline['speedup']:.2f}x; about {per_phase * phases / 60:.0f} min to go")
    if not baseline["idle"]["idle"]:
        bar.write(f"warning: {baseline['idle']['note']}")
    out = args.out
    write_json_atomic(out, document(command, args, plan, baseline, committed, runs, 0, started))
    for phase in range(phases):
        kind = load_of(phase)
        with load(kind):
            results = measure_phase(reference, cells, queries, plan, args.threads)
        for name, result in results.items():
            key = f"{CLEAN}-{kind}" if name == CLEAN else name
            runs[key].append(result | {"load": kind, "phase": phase})
        doc = document(command, args, plan, baseline, committed, runs, phase + 1, started)
        write_json_atomic(out, doc)
        bar.update()
        bar.set_postfix_str(
            f"false alarms {doc['false_alarm_rate']:.0%}, detected "
            + ", ".join(f"{k}: {v:.0%}" for k, v in doc["detection_rate"].items())
        )
    bar.close()
    print(
        f"false alarms {doc['false_alarm_rate']:.1%}, detection "
        + ", ".join(f"{k}: {v:.0%}" for k, v in doc["detection_rate"].items())
        + f"; written to {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
