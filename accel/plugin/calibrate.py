"""``accel calibrate``: each cell's A/A spread of base against head, written into its baseline.

Every selected cell is loaded twice, from the cache: a head copy here, and a base copy here too
(what the gate does with a changed cell's old artifact) or, with ``--across-processes``, in the
base worker on this very code (what ``--accel-base`` does). The two are timed in phases of the
gate's base-against-head timing (``AB_PLAN``: rounds of one call a side), one phase of each cell
per sweep, so that every cell's phases are spread over the whole run. From the phases' ratios
:func:`accel.gate.calibration.calibrate` draws the cell's margin, which is written into the
``calibration`` field of its baseline file: a change reviewed in the git diff like any other.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import sys
from pathlib import Path
from typing import Any

from accel.plugin.options import OPTIONS, csv

# The gate's options that say what is calibrated: the cells, the model, the data, the threads.
CHOSEN = ("techniques", "device", "config", "model", "data", "threads", "baselines")
DEFAULT_PHASES = 20


def add_calibrate_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options: the gate's selection options, the phases, the kind of base."""
    for option in OPTIONS:
        if option.name in CHOSEN:
            parser.add_argument(f"--{option.name}", dest=option.name, **option.kwargs())
    parser.add_argument(
        "--phases",
        type=int,
        default=DEFAULT_PHASES,
        metavar="N",
        help="A/A phases per cell, each of the gate's base-against-head rounds; at least 5 "
        "(default: %(default)s; about 1-5 s a phase per cell on 2 cores)",
    )
    parser.add_argument(
        "--across-processes",
        action="store_true",
        help="time the base copy in a second process, the base worker on this code, and write "
        "the margin --accel-base uses (calibration.code); default: both copies in this process, "
        "the margin for a changed artifact (calibration.artifact)",
    )


def run_calibrate(args: argparse.Namespace) -> int:
    """Calibrate the selected cells (the module doc); 1 when a cell could not be, else 0."""
    import torch
    from tqdm.auto import tqdm

    from accel.gate.base_head import AB_PLAN, Against
    from accel.gate.baselines import (
        Baseline,
        baseline_or_error,
        baseline_path,
        with_calibration,
        write_baseline,
    )
    from accel.gate.calibration import MIN_PHASES, calibrate
    from accel.matrix import Matrix, RunConfig, all_cells
    from accel.measure.intervals import paired_speedup
    from accel.measure.machine import machine_record
    from accel.measure.records import Cell
    from accel.measure.timing import Side, measure_speedup
    from accel.plugin.base_code import BaseCode
    from accel.plugin.config import ConfigError, configured_registry, find_config, resolve
    from accel.techniques import TechniqueError

    if args.phases < MIN_PHASES:
        print(
            f"accel calibrate: --phases must be at least {MIN_PHASES}, got {args.phases}",
            file=sys.stderr,
        )
        return 2
    options = {name: getattr(args, name) for name in CHOSEN if name != "config"}
    file = Path(args.config) if args.config else find_config(Path.cwd())
    try:
        if file is not None and not file.is_file():
            raise ConfigError(f"--config: {file} does not exist")
        settings = resolve(file, options)
        registry = configured_registry(settings)
        techniques = _select(settings["techniques"], registry.names(), "--techniques")
        devices = _select(settings["devices"], registry.devices(), "--device")
    except (ConfigError, TechniqueError, argparse.ArgumentTypeError) as exc:
        print(f"accel calibrate: {exc}", file=sys.stderr)
        return 2
    torch.set_num_threads(settings["threads"])
    run = RunConfig(model=settings["model"], data=settings["data"], threads=settings["threads"])
    heads, bases = Matrix(run, registry), Matrix(run, registry)
    against: Against = "code" if args.across_processes else "artifact"
    root = Path(settings["baselines"] or "baselines")
    cells = all_cells(registry, techniques, devices)
    worker = None
    if args.across_processes:
        raw = {name: options[name] for name in ("model", "data", "threads")}  # as given
        worker = BaseCode(".", Path.cwd(), settings.file, raw)
    problems: list[str] = []
    wanted: dict[str, tuple[Cell, Baseline]] = {}
    for cell in cells:
        baseline = baseline_or_error(baseline_path(root, cell.id))
        why = registry.unavailable_for(cell.technique, cell.device, run.model)
        if not isinstance(baseline, Baseline):
            write = "write it first (`accel run --update-baselines`)"
            why = f"{baseline}" if baseline else f"no baseline under {root}: {write}"
        if why is not None or not isinstance(baseline, Baseline):
            problems.append(f"{cell.id}: {why}")
        else:
            wanted[cell.id] = (cell, baseline)
    pairs: dict[str, tuple[Side, Any, Baseline]] = {}
    for cell_id, (cell, baseline) in tqdm(wanted.items(), desc="loading each cell twice"):
        try:
            head = heads.predictor(cell)
            if worker is None:
                base: Side | str = bases.predictor(cell)
            else:
                base = worker.side(cell_id, list(wanted), heads.latency_queries)
        except Exception as exc:  # a build this machine cannot do: that cell's problem
            base = f"{type(exc).__name__}: {exc}"
        if isinstance(base, str):
            problems.append(f"{cell_id}: {'the base worker: ' * (worker is not None)}{base}")
            continue
        pairs[cell_id] = (base, head, baseline)
    ratios: dict[str, list[float]] = {cell: [] for cell in pairs}
    plan, queries = AB_PLAN, heads.latency_queries
    pinned = worker.same_core if worker is not None else contextlib.nullcontext
    try:
        for _ in tqdm(range(args.phases), desc=f"A/A phases of {len(pairs)} cells", unit="sweep"):
            for cell_id, (base, head, _baseline) in pairs.items():
                with pinned():
                    timed = measure_speedup(base, head, queries, plan)
                ratios[cell_id].append(paired_speedup(timed.reference_rounds, timed.cell_rounds))
    except KeyboardInterrupt:
        print("accel calibrate: interrupted; writing the cells with enough phases")
    finally:
        if worker is not None:
            worker.close()
    when = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    machines = {d: machine_record(d, run.threads) for d in {c.split("/")[1] for c in pairs}}
    for cell_id, (_base, _head, baseline) in pairs.items():
        if len(ratios[cell_id]) < MIN_PHASES:
            problems.append(f"{cell_id}: {len(ratios[cell_id])} phases, fewer than {MIN_PHASES}")
            continue
        machine = machines[cell_id.split("/")[1]]
        found = calibrate(ratios[cell_id], against, AB_PLAN.rounds, machine, when)
        path = baseline_path(root, cell_id)
        write_baseline(path, with_calibration(baseline, found))
        print(f"{cell_id:<28} {found.describe()} -> {path}")
    for problem in problems:
        print(f"not calibrated: {problem}")
    return 1 if problems else 0


def _select(value: Any, valid: list[str], option: str) -> list[str]:
    if value is None:
        return valid
    return csv(value if isinstance(value, str) else ",".join(value), valid, option)
