"""The gate's options, declared once: pytest gets them as ``--accel-NAME``, ``accel run`` as
``--NAME``, and ``accel run`` forwards them to pytest (pytest-benchmark's
``add_*_options(addoption, prefix)`` pattern). No heavy import here."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from accel.validation import parse_shard

PYTEST_PREFIX = "--accel-"
CLI_PREFIX = "--"
CLINC_PATH_ENV = "ACCEL_CLINC_PATH"
REQUIRE_ENV = "ACCEL_REQUIRE"  # what --accel-require takes, for CI; the two add up
ALL = "all"
EMBEDDED = "embedded"
DEFAULT_ROUNDS = 20  # accel.measure.timing.TimingPlan().rounds (a unit test keeps them equal)
BASELINE_ROUNDS = 60  # accel.measure.timing.BASELINE_ROUNDS
BLOCK = 25  # calls a block: accel.measure.timing.TimingPlan().block


def shard_spec(value: str) -> tuple[int, int]:
    """``I/N`` as (I, N), 1 <= I <= N; anything else is a usage error naming the valid form."""
    try:
        return parse_shard(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def shard_option(value: str) -> str:
    """The ``shard`` option's type: the value checked by :func:`shard_spec`, as ``I/N``."""
    return "{}/{}".format(*shard_spec(value))


@dataclass(frozen=True)
class Option:
    """One option of the gate, without its prefix."""

    name: str
    help: str
    metavar: str | None = None
    default: Any = None
    type: Callable[[str], Any] | None = None
    flag: bool = False

    @property
    def dest(self) -> str:
        """The attribute name under pytest (``accel_<name>``)."""
        return "accel_" + self.name.replace("-", "_")

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``argparse`` and pytest's ``addoption`` alike."""
        if self.flag:
            return {"action": "store_true", "default": False, "help": self.help}
        extra = {"type": self.type} if self.type else {}
        return {"metavar": self.metavar, "default": self.default, "help": self.help} | extra


OPTIONS: tuple[Option, ...] = (
    Option(
        "update-baselines",
        "Write baselines/<device>/<technique>.json from this run instead of comparing. Review "
        "the git diff before committing.",
        flag=True,
    ),
    Option(
        "techniques",
        "Comma-separated techniques to run. Default: the config's techniques, else every "
        "registered technique (built-ins, then those of installed plugins, the config's plugins "
        "and conftests).",
        metavar="NAMES",
    ),
    Option(
        "device",
        "Comma-separated devices to collect; cells on a device this machine lacks are listed "
        "as skipped, with the reason. Default: the config's devices, else every registered "
        "device (cpu, cuda).",
        metavar="DEVICES",
    ),
    Option(
        "require",
        "Comma-separated cells (technique/device, like ort-int8/cpu), techniques (all of their "
        f"devices) or '{ALL}' that must run: a selected one this machine cannot run fails, with "
        f"the reason, instead of being skipped. ${REQUIRE_ENV} takes the same list (for CI); "
        "the two add up.",
        metavar="CELLS",
    ),
    Option(
        "config",
        "The project's configuration: a pyproject.toml with [tool.accel], or an accel.toml "
        "(docs/configuration.md). Default: the first accel.toml, or pyproject.toml with "
        "[tool.accel], in the rootdir or above it. Options given here override the file.",
        metavar="PATH",
    ),
    Option(
        "model",
        "Reference classifier: a directory, a hub id, or 'embedded' for the default teacher "
        "fine-tuned from all-MiniLM-L6-v2 on the configured data. Default: the config's model, "
        f"else {EMBEDDED}.",
        metavar="SPEC",
    ),
    Option(
        "data",
        f"CLINC150 oos-eval JSON (data_oos_plus.json), when the data is CLINC150 (other data: "
        f"[tool.accel.data], docs/data.md). Default: the config's data.path, else "
        f"${CLINC_PATH_ENV}, else the hub dataset clinc_oos/plus.",
        metavar="PATH",
    ),
    Option(
        "threads",
        "Threads for every cell (PyTorch and ONNX Runtime alike). Default: the config's "
        "threads, else 1.",
        metavar="N",
        type=int,
    ),
    Option(
        "rounds",
        "Interleaved timing rounds per cell (each: one block of reference calls and one of "
        f"cell calls, {BLOCK} calls a block; the cells take turns, round by round). Default: the "
        f"config's rounds, else {DEFAULT_ROUNDS}, and {BASELINE_ROUNDS} with "
        "--accel-update-baselines, so that a baseline averages more of the machine's drift "
        "than the runs it judges.",
        metavar="N",
        type=int,
    ),
    Option(
        "no-scaling",
        "Skip the ungated scaling figures of every cell: p50 latency at 16 to 512 tokens and "
        "throughput at several batch sizes (what `accel report` plots).",
        flag=True,
    ),
    Option(
        "no-serving",
        "Skip the serving figures of every cell: peak resident memory and load time (artifact "
        "on disk to first answer), each measured in a fresh process, and their ratios to the "
        "reference, memory_ratio and load_time_ratio (gated where a baseline has them).",
        flag=True,
    ),
    Option(
        "no-reuse",
        "Run every cell's accuracy pass afresh. By default a cell whose outputs on the test "
        "split are cached under an unchanged key (its artifacts, the code that builds and runs "
        "it, the tokenizer, the texts, the library versions and the machine: docs/cache.md) "
        "reads them from the cache; speed, size and memory are measured in every run.",
        flag=True,
    ),
    Option(
        "scenarios",
        "Also run MLPerf LoadGen's SingleStream, Server and Offline scenarios on every cell, "
        "after the timing phase (about 30 s a cell on 2 idle CPU cores; docs/scenarios.md). "
        "Reported with their LoadGen settings; their ratios to the reference are gated where "
        "a baseline has them. LoadGen's logs go to reports/loadgen/.",
        flag=True,
    ),
    Option(
        "rebuild",
        "Comma-separated techniques whose cached artifacts (trained models, graphs) are built "
        "anew in this run, each once; 'fp32' rebuilds the embedded teacher, 'all' everything. "
        "A cache entry is otherwise reused only while its recipe, inputs, code and library "
        "versions are unchanged.",
        metavar="NAMES",
    ),
    Option(
        "base",
        "Also time every cell beside the same cell built by the code at this git revision "
        "(origin/main, a tag, a commit) or in this directory (a checkout of it), in a second "
        "process that reads artifacts from the cache only and never trains; decide each "
        "cell's speed on that ratio (a 5%% margin, or the cell's own from `accel calibrate "
        "--across-processes`) instead of the speedup over the reference "
        "(docs/latency-decision.md, \"Base against head\"). A cell the base cannot build is "
        "judged as without this option, and the table says why. Default: off.",
        metavar="REV",
    ),
    Option(
        "baselines",
        "Directory of baseline files. Default: the config's baselines, else baselines/ under "
        "the rootdir.",
        metavar="DIR",
    ),
    Option(
        "shard",
        "Run one shard of the selected cells: I/N (1 <= I <= N) takes every Nth cell of the "
        "matrix order (by device, then technique), starting at the Ith, so that N runs with "
        "1/N ... N/N cover the selection once (each cell, the reference's row too, in exactly "
        "one shard; every shard times its cells beside its own reference). Recorded in the run "
        "JSON as `shard`; `accel report` merges the shards' JSONs. Default: every cell.",
        metavar="I/N",
        type=shard_option,
    ),
    Option(
        "json",
        "Write every cell (measured, failed or skipped), its verdict and the run's settings to "
        "this JSON file (what `accel report` reads).",
        metavar="PATH",
    ),
)


def add_options(addoption: Callable[..., Any], prefix: str) -> None:
    """Declare every option through ``addoption`` (pytest's group or an argparse parser)."""
    for option in OPTIONS:
        kwargs = option.kwargs()
        if prefix == PYTEST_PREFIX:
            kwargs["dest"] = option.dest
        addoption(prefix + option.name, **kwargs)


def forward(values: Mapping[str, Any]) -> list[str]:
    """pytest arguments for option values given by name (``accel run``'s namespace)."""
    argv: list[str] = []
    for option in OPTIONS:
        value = values.get(option.name.replace("-", "_"))
        if option.flag:
            argv += [PYTEST_PREFIX + option.name] if value else []
        elif value is not None and value != option.default:
            argv.append(f"{PYTEST_PREFIX}{option.name}={value}")
    return argv


def csv(value: str, valid: Sequence[str], option: str) -> list[str]:
    """The items of a comma-separated option, each checked against ``valid``."""
    items = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in items if v not in valid]
    if bad or not items:
        raise argparse.ArgumentTypeError(
            f"{option}: unknown value(s) {', '.join(bad) or repr(value)}; valid: {', '.join(valid)}"
        )
    return items


def required_cells(value: str, cells: Sequence[str], source: str) -> set[str]:
    """The cell ids named by ``value`` (``all``, technique names, ``technique/device`` ids),
    each checked against ``cells``, the ids of every registered cell."""
    items = [v.strip() for v in value.split(",") if v.strip()]
    techniques = {c.split("/")[0] for c in cells}
    out: set[str] = set()
    for item in items:
        if item == ALL:
            out |= set(cells)
        elif item in techniques:
            out |= {c for c in cells if c.split("/")[0] == item}
        elif item in cells:
            out.add(item)
        else:
            raise argparse.ArgumentTypeError(
                f"{source}: unknown cell or technique {item!r}; valid: {ALL}, a technique "
                f"({', '.join(sorted(techniques))}) or a cell ({', '.join(cells)})"
            )
    return out
