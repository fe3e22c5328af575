"""accel: run the optimization matrix and print its comparison table, inspect baselines,
write a run's report, or manage the artifact cache."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from accel.plugin.calibrate import add_calibrate_arguments, run_calibrate
from accel.plugin.options import CLI_PREFIX, add_options, forward
from accel.plugin.starter import add_init_arguments, run_init

SUITE = "accel.plugin.suite"  # the gate's tests, collected from the installed package


def _run(args: argparse.Namespace, passthrough: list[str]) -> int:
    import pytest

    argv = ["--pyargs", SUITE, "-p", "no:cacheprovider", "-q", f"--rootdir={Path.cwd()}"]
    return int(pytest.main(argv + forward(vars(args)) + passthrough))


def _show(args: argparse.Namespace, _: list[str]) -> int:
    from accel.gate import metrics
    from accel.gate.baselines import BaselineError, read_baseline

    status = 0
    paths = sorted(Path(args.baselines).glob("*/*.json"))
    if not paths:
        print(f"no baseline files under {args.baselines}/<device>/<technique>.json")
        return 1
    for path in paths:
        try:
            b = read_baseline(path)
        except BaselineError as exc:
            print(f"{path}: ERROR {exc}")
            status = 1
            continue
        extra = "".join(
            f"  {name} {b.metrics[name]:g}" for name in metrics.optional() if name in b.metrics
        )
        extra += "".join(f"  {k} margin {c.margin:.1%}" for k, c in b.calibration.items())
        print(
            f"{b.cell:<24} accuracy {b.metrics['accuracy']:.4f}  size {b.metrics['size_mb']:.1f} MB"
            f"  p50 {b.latency_ms['p50']:.2f} ms  speedup {b.metrics['speedup']:.2f}x{extra}"
            f"  ({b.machine.get('cpu', '?')}, {b.machine.get('threads', '?')} thread(s))"
        )
    return status


def _report(args: argparse.Namespace, _: list[str]) -> int:
    from accel.reporting.report import ReportError, write_report

    paths = [Path(p) for p in args.run_json]
    if len(paths) > 1 or args.expect_shards is not None or args.expect_cells:
        from accel.reporting.merged import report_merged

        cells = [c.strip() for c in (args.expect_cells or "").split(",") if c.strip()]
        return report_merged(paths, Path(args.out), args.expect_shards, cells)
    try:
        written = write_report(paths[0], Path(args.out))
    except ReportError as exc:
        print(f"accel report: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


def _distill_search(args: argparse.Namespace, _: list[str]) -> int:
    import shlex

    from accel.artifacts.data import load_clinc
    from accel.techniques.base import BuildContext
    from accel.techniques.distill_search import SearchSpace, run_search
    from accel.training.teacher import load_classifier

    try:
        space = SearchSpace(
            trials=args.trials,
            train_fraction=args.train_fraction,
            alpha=(args.alpha_min, args.alpha_max),
            temperature=(args.temperature_min, args.temperature_max),
            epochs=(args.epochs_min, args.epochs_max),
            seed=args.seed,
        )
    except ValueError as exc:
        build_parser().error(str(exc))
    data = load_clinc(args.data)
    reference = load_classifier(args.model, data)
    ctx = BuildContext(reference=reference, data=data, device="cpu", threads=2)
    record = run_search(ctx, space, Path(args.out), "accel " + shlex.join(args.argv))
    best = record["best"]
    print(
        f"best of {len(record['trials'])} trials: {best['params']} "
        f"(validation accuracy {best['validation_accuracy']:.4f}); written to {args.out}"
    )
    return 0


def _cache(args: argparse.Namespace, _: list[str]) -> int:
    from accel.artifacts import store

    root = Path(args.cache_dir).expanduser() if args.cache_dir else None
    try:
        if args.action == "list":
            rows = store.list_rows(root, full=args.full)
            header = ["kind", "key", "size", "age", "used by", "status"]
            print(store.format_table(header, rows) if rows else "the cache is empty")
            return 0
        if args.action == "verify":
            checked, bad = store.verify_all(root, fix=args.fix)
            for f in bad:
                print(f"BAD {f.path}: {f.reason}" + (" (removed)" if args.fix else ""))
            print(f"verified {checked} entries: {len(bad)} bad")
            return 1 if bad else 0
        gone = store.prune(root, dry_run=args.dry_run)
    except store.UsageError as exc:
        print(f"accel cache: {exc}", file=sys.stderr)
        return 1
    verb = "would remove" if args.dry_run else "removed"
    for f in gone:
        print(f"{verb} {f.path} ({f.reason}, {f.size / 1e6:.1f} MB)")
    print(f"{verb} {len(gone)} item(s), {sum(f.size for f in gone) / 1e6:.1f} MB")
    return 0


def _config(args: argparse.Namespace, _: list[str]) -> int:
    from accel.plugin.config import ConfigError, describe, find_config, resolve

    file = Path(args.config) if args.config else find_config(Path.cwd())
    try:
        if file is not None and not file.is_file():
            raise ConfigError(f"--config: {file} does not exist")
        settings = resolve(file, {k: v for k, v in vars(args).items() if k != "config"})
    except ConfigError as exc:
        print(f"accel config: {exc}", file=sys.stderr)
        return 2
    print(describe(settings), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="accel", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="run the technique x device matrix (pytest) and print the comparison table",
        description="Run the gate: pytest --pyargs accel.plugin.suite with these options (pytest's "
        "--accel-* options, without the prefix). Arguments after `--` go to pytest unchanged.",
    )
    add_options(run.add_argument, CLI_PREFIX)
    run.set_defaults(handler=_run)
    config = sub.add_parser(
        "config",
        help="print the effective configuration and where each value came from",
        description="Print the effective configuration: the options given here over the "
        "project's file ([tool.accel] in pyproject.toml, or accel.toml; docs/configuration.md) "
        "over the defaults, one key a line with its source. Exit 2 on a bad value.",
    )
    add_options(config.add_argument, CLI_PREFIX)
    config.set_defaults(handler=_config)
    init = sub.add_parser(
        "init",
        help="start gating a new project: write its config, run the matrix once, write its "
        "baselines",
        description="Write a starter config for a model and data given here (columns and "
        "labels detected, contracts proposed from the built-in defaults), run the matrix once "
        "with --accel-update-baselines, and print what to commit and the CI step to add "
        "(docs/init.md). Never overwrites a config or baseline without --force.",
    )
    add_init_arguments(init)
    init.set_defaults(handler=lambda args, _: run_init(args))
    calibrate = sub.add_parser(
        "calibrate",
        help="measure each cell's A/A spread of base against head; write its margin into the "
        "cell's baseline",
        description="Time each cell against a second copy of itself in repeated phases, draw "
        "its margin from the spread, and write it into baselines/<device>/<technique>.json "
        "(calibration): review the git diff (docs/latency-decision.md, 'Margins per cell').",
    )
    add_calibrate_arguments(calibrate)
    calibrate.set_defaults(handler=lambda args, _: run_calibrate(args))
    show = sub.add_parser("show", help="print every baseline file's headline numbers")
    show.add_argument(
        "--baselines",
        default="baselines",
        metavar="DIR",
        help="baseline directory (default: %(default)s)",
    )
    show.set_defaults(handler=_show)
    report = sub.add_parser(
        "report",
        help="write a Markdown report and PNG plots from a run's JSON, or merge shards' JSONs",
        description="Read the JSON of a run (pytest --accel-json, accel run --json) and write "
        "DIR/report.md with the comparison, length sweep and throughput tables, beside PNG "
        "plots: accuracy against p50 latency (bubble area = size, reference accuracy dashed) "
        "and p50 latency against input length, one of each per device. Several JSONs (the "
        "shards of accel run --shard I/N) are merged first: DIR/accel-run.json, the table on "
        "stdout and appended to $GITHUB_STEP_SUMMARY when set; exit 1 when a merged cell "
        "failed or errored, 2 when they cannot be merged (a clash, a missing shard, settings "
        "that disagree) or reported, else 0. One JSON, no --expect-*: the report, as before.",
    )
    report.add_argument(
        "run_json", nargs="+", metavar="RUN_JSON", help="the run's JSON, or several to merge"
    )
    report.add_argument(
        "--out",
        default="reports/accel-report",
        metavar="DIR",
        help="directory for report.md, the PNG plots and a merged run's accel-run.json "
        "(default: %(default)s)",
    )
    expect = {
        "--expect-shards": "merge: the JSONs must be shards 1/N to N/N, each once (one missing "
        "is an error)",
        "--expect-cells": "merge: comma-separated cells (ort-int8/cpu,...) each in one JSON",
    }
    report.add_argument("--expect-shards", type=int, metavar="N", help=expect["--expect-shards"])
    report.add_argument("--expect-cells", metavar="CELLS", help=expect["--expect-cells"])
    report.set_defaults(handler=_report)
    search = sub.add_parser(
        "distill-search",
        help="search the distillation alpha, temperature and epochs with Optuna (slow)",
        description="Distill one student per trial on a fraction of the train split and score "
        "it on the validation split; write every trial and the best to --out.",
    )
    for flag, kind, default, metavar, text in (
        ("--trials", int, 10, "N", "Optuna trials"),
        ("--train-fraction", float, 0.5, "F", "seeded fraction of the train split per trial"),
        ("--alpha-min", float, 0.0, "A", "lowest alpha, the weight of the labels"),
        ("--alpha-max", float, 1.0, "A", "highest alpha"),
        ("--temperature-min", float, 1.0, "T", "lowest temperature"),
        ("--temperature-max", float, 12.0, "T", "highest temperature"),
        ("--epochs-min", int, 2, "N", "fewest epochs"),
        ("--epochs-max", int, 8, "N", "most epochs"),
        ("--seed", int, 42, "N", "seed of the sampler and the train subset"),
        ("--model", str, "embedded", "SPEC", "teacher: directory, hub id or 'embedded'"),
        ("--data", str, None, "PATH", "CLINC150 oos-eval JSON ($ACCEL_CLINC_PATH, else the hub)"),
        ("--out", str, "benchmarks/distill-search.json", "PATH", "where to write the trials"),
    ):
        search.add_argument(
            flag, type=kind, default=default, metavar=metavar, help=f"{text} (default: %(default)s)"
        )
    search.set_defaults(handler=_distill_search)
    cache = sub.add_parser(
        "cache",
        help="list, verify or prune the artifact cache",
        description="Inspect and manage the artifact cache (docs/cache.md).",
    )
    actions = cache.add_subparsers(dest="action", required=True)
    helps = {
        "list": "a table of the entries: kind, key, size, age, the cells that use them, status",
        "verify": "hash every entry's files against its manifest; exit 1 naming each bad one",
        "prune": "remove entries no cell's usage record names, and leftovers of finished builds",
    }
    for name, text in helps.items():
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument(
            "--cache-dir",
            default=None,
            metavar="DIR",
            help="the cache (default: $ACCEL_CACHE_DIR, else ~/.cache/accel)",
        )
        action.set_defaults(handler=_cache)
    actions.choices["list"].add_argument(
        "--full", action="store_true", help="status from full hashing, not names and sizes"
    )
    actions.choices["verify"].add_argument(
        "--fix", action="store_true", help="remove the bad entries (rebuilt on next use)"
    )
    actions.choices["prune"].add_argument(
        "--dry-run", action="store_true", help="list what would go and how many MB; remove nothing"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``accel`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1 :]
    args = build_parser().parse_args(argv)
    args.argv = argv  # recorded by commands that write results
    return int(args.handler(args, passthrough))


if __name__ == "__main__":
    sys.exit(main())
