"""``accel init``: a starter configuration for a new project, from a model and data named on
the command line; then the first baselines, what to commit and the CI step (docs/init.md).

It detects the data's text and label columns (:mod:`accel.plugin.starter_detect`), proposes
the built-in contracts of the chosen techniques, writes the configuration and checks it reads
back as meant (:mod:`accel.plugin.starter_config`), then runs the gate once with
``--accel-update-baselines``. It never overwrites a configuration or a baseline without
``--force``.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from pathlib import Path

from accel.artifacts.readers import FORMATS
from accel.gate.baselines import baseline_path
from accel.plugin.config import ACCEL_TOML, PYPROJECT, ConfigError
from accel.plugin.config_values import EMBEDDED
from accel.plugin.starter_config import Plan, has_accel_table, relative, render, write
from accel.plugin.starter_config import check_text as check_plan
from accel.plugin.starter_data import data_notes, data_spec
from accel.plugin.starter_detect import InitError
from accel.techniques import REFERENCE, RegistryError, builtin_registry

SUITE = "accel.plugin.suite"
STARTER_TECHNIQUES = ("fp32", "torch-int8", "ort-fp32", "ort-int8")
DEVICE = "cpu"
EXIT_REFUSED = 2  # init stopped before running anything; else pytest's exit code


def add_init_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``accel init``."""
    add = parser.add_argument
    add(
        "--model",
        default=EMBEDDED,
        metavar="SPEC",
        help="the reference classifier: a checkpoint directory, a hub id or 'embedded' (the "
        "default teacher, trained on the data) (default: %(default)s)",
    )
    data = parser.add_argument_group("data (one source: files, --hub-id or --clinc)")
    data.add_argument("--train", metavar="FILE", help="the train split's file")
    data.add_argument(
        "--validation",
        metavar="FILE",
        help="the validation split's file (optional: else 10%% of train is carved)",
    )
    data.add_argument("--test", metavar="FILE", help="the test split's file (the gated one)")
    data.add_argument(
        "--format", choices=FORMATS, help="the files' format (default: from each extension)"
    )
    data.add_argument("--hub-id", metavar="ID", help="a Hugging Face hub dataset id")
    data.add_argument("--hub-config", metavar="NAME", help="the hub dataset's configuration")
    data.add_argument("--clinc", metavar="PATH", help="a CLINC150 oos-eval JSON")
    data.add_argument(
        "--text-column",
        metavar="NAME",
        help="the text column (default: detected from the train data)",
    )
    data.add_argument(
        "--label-column",
        metavar="NAME",
        help="the label column (default: detected from the train data)",
    )
    data.add_argument(
        "--reject-label",
        metavar="NAME",
        help="the out-of-scope class, if any (never set without this flag)",
    )
    add(
        "--techniques",
        default=",".join(STARTER_TECHNIQUES),
        metavar="NAMES",
        help="comma-separated techniques (default: %(default)s: the reference, int8 and ONNX "
        "Runtime, built in minutes without training and runnable on any CPU; add students, "
        "pruning, bf16 or torch-compile later)",
    )
    add(
        "--config",
        default="accel.toml",
        metavar="FILE",
        help="where to write: an accel.toml, or a pyproject.toml to append [tool.accel] to "
        "(default: %(default)s in the current directory)",
    )
    add(
        "--baselines",
        default="baselines",
        metavar="DIR",
        help="the baselines directory (default: %(default)s)",
    )
    add(
        "--force",
        action="store_true",
        help="overwrite an existing configuration and the baselines of these cells",
    )
    add("--no-run", action="store_true", help="write the configuration only; write no baselines")
    add(
        "--dry-run", action="store_true", help="print the configuration; write nothing, run nothing"
    )


def _model(spec: str, folder: Path) -> str:
    if spec == EMBEDDED:
        return spec
    path = Path(spec).expanduser()
    if path.exists():
        rel = relative(path, folder)
        return rel if rel.startswith(".") or Path(rel).is_absolute() else f"./{rel}"
    if spec.startswith((".", "/", "~")):
        raise InitError(f"--model {spec}: no such directory")
    return spec  # a hub id


def _techniques(names: str) -> tuple[tuple[str, ...], dict[str, dict[str, float | str]]]:
    registry = builtin_registry()
    try:
        registry.load_entry_points()
    except RegistryError as exc:
        raise InitError(str(exc)) from None
    chosen = tuple(dict.fromkeys(n.strip() for n in names.split(",") if n.strip()))
    if not chosen:
        raise InitError("--techniques names no technique")
    contracts: dict[str, dict[str, float | str]] = {}
    for name in chosen:
        if name not in registry:
            raise InitError(
                f"--techniques: unknown technique {name!r}; known: {', '.join(registry.names())}"
            )
        if DEVICE not in registry[name].devices:
            raise InitError(
                f"--techniques: {name} does not run on {DEVICE} (accel init "
                f"writes devices = [{DEVICE!r}])"
            )
        contract = dataclasses.asdict(registry[name].contract)
        promises = {k: v for k, v in contract.items() if v is not None}
        if promises:
            contracts[name] = promises
    return chosen, contracts


def _existing(baselines: Path, techniques: tuple[str, ...]) -> list[Path]:
    paths = (baseline_path(baselines, f"{name}/{DEVICE}") for name in techniques)
    return [p for p in paths if p.exists()]


def _refusals(config: Path, baselines: list[Path]) -> list[str]:
    """What writing would overwrite: the configuration, the cells' baseline files."""
    found = []
    if config.name == PYPROJECT and has_accel_table(config):
        found.append(f"{config} already has [tool.accel]")
    elif config.name != PYPROJECT and config.exists():
        found.append(f"{config} already exists")
    if baselines:
        found.append(f"baselines exist for these cells: {', '.join(map(str, baselines))}")
    return found


def _ci_snippet(config: Path) -> str:
    option = (
        ""
        if config.parent == Path.cwd().resolve()
        else (f" --accel-config {relative(config, Path.cwd())}")
    )
    return "\n".join(
        [
            "      - name: accel gate",
            "        env:",
            "          ACCEL_CACHE_DIR: .accel-cache  # keep it between runs with actions/cache",
            "        run: |",
            "          pip install torch --index-url https://download.pytorch.org/whl/cpu",
            "          pip install accel",
            f"          pytest --pyargs {SUITE} -p no:cacheprovider{option}",
        ]
    )


def pytest_command(config: Path) -> list[str]:
    """The command that writes the first baselines from ``config``."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "--pyargs",
        SUITE,
        "--accel-config",
        str(config),
        "--accel-update-baselines",
        "-p",
        "no:cacheprovider",
    ]


def run_init(args: argparse.Namespace) -> int:
    """``accel init``: 0 or pytest's exit code; 2 when it refused or could not go on."""
    config = Path(args.config).expanduser().resolve()
    folder = config.parent
    try:
        spec, found, where = data_spec(args, folder)
        techniques, contracts = _techniques(args.techniques)
        notes = data_notes(spec, found, where)
        plan = Plan(
            _model(args.model, folder),
            spec,
            techniques,
            relative(Path(args.baselines), folder),
            contracts,
            tuple(notes),
        )
        for name, promises in contracts.items():  # printed, not in the [data] comments
            rival = promises.get("beats")
            if rival is not None and rival not in techniques:
                notes.append(f"{name} must beat {rival}: add {rival} to --techniques")
        print(f"accel init: {notes[0]}")
        for note in notes[1:]:
            print(f"  {note}")
        baselines = (folder / plan.baselines).resolve()
        refusals = _refusals(config, [] if args.no_run else _existing(baselines, techniques))
        if args.dry_run:
            check_plan(plan)
            print(f"\n# {config} (dry run: nothing written)\n")
            print(render(plan, pyproject=config.name == PYPROJECT), end="")
            for refusal in refusals:
                print(f"# note: {refusal}")
            return 0
        if refusals and not args.force:
            raise InitError(
                "; ".join(refusals) + "; pass --force to overwrite them (--no-run: no baselines)"
            )
        if config.name == PYPROJECT and (folder / ACCEL_TOML).exists():
            raise InitError(
                f"{folder / ACCEL_TOML} exists and wins over {config}: write "
                "to it (--config accel.toml --force) or remove it"
            )
        write(config, plan, args.force)
    except (InitError, ConfigError, OSError) as exc:
        print(f"accel init: error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"wrote {config}")
    if config.name != PYPROJECT and has_accel_table(folder / PYPROJECT):
        print(f"  ({config.name} wins over any [tool.accel] of {folder / PYPROJECT})")
    command = pytest_command(config)
    code = 0
    if args.no_run:
        print(f"\nnext, write the baselines:\n  {' '.join(command[2:])}")
    else:
        print(f"\nrunning: {' '.join(command)}", flush=True)
        code = subprocess.run(command, cwd=folder, check=False).returncode
        print(
            f"\naccel init: the gate exited with {code}"
            + ("" if code == 0 else ": see its output; the baselines may be incomplete")
        )
    data = [p for p in (spec.path, *spec.files.values()) if p]
    print("\ncommit:")
    for item in (relative(config, Path.cwd()), relative(baselines, Path.cwd()) + "/"):
        print(f"  {item}")
    if data:
        print(f"  and the data, if CI is to read it: {', '.join(data)} (relative to {folder})")
    print(
        f"\nadd this step to a GitHub Actions job (after actions/checkout and "
        f"actions/setup-python with Python 3.11):\n{_ci_snippet(config)}"
    )
    if REFERENCE not in techniques:
        print(f"note: {REFERENCE}, the reference's own row (an A/A check), is not gated")
    return code
