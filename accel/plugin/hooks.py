"""The accel pytest plugin (the ``pytest11`` entry point): options, cells, outcomes, table.

Installing accel registers it with every pytest run; until a test asks for a cell (the gate's
suite, ``pytest --pyargs accel.plugin.suite``) it only adds its options. Importing it loads no
torch, transformers or onnxruntime.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from accel import __version__
from accel.artifacts.cache import write_text_atomic
from accel.gate.reference import reference_drift, slowdown_notes
from accel.gate.verdict import CellVerdict, Check, Status
from accel.matrix import RunConfig
from accel.measure.intervals import LEVEL
from accel.measure.machine import isa_difference
from accel.measure.records import Cell
from accel.measure.timing import BASELINE_ROUNDS, TimingPlan
from accel.plugin import hookspecs
from accel.plugin.base_code import BaseCode, BaseCodeError, check_base
from accel.plugin.config import Config, ConfigError, find_config, resolve
from accel.plugin.options import PYTEST_PREFIX, REQUIRE_ENV, add_options
from accel.plugin.state import NAME, AccelState
from accel.reporting.schema import CellRecord, RunRecord
from accel.reporting.table import markdown_table, terminal_table
from accel.techniques import REFERENCE

CELL_FIXTURE = "accel_cell"
MARKER = "accel_matrix"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("accel", "accel: optimization regression gate")
    add_options(group.addoption, PYTEST_PREFIX)


def project_config(config: pytest.Config) -> Config:
    """The effective configuration: the ``--accel-*`` options over the project's file
    (``--accel-config``, else found from the rootdir) over the defaults."""
    opt = config.getoption
    for name, low in (("threads", 1), ("rounds", 2)):
        value = opt(f"accel_{name}")
        if value is not None and value < low:
            raise pytest.UsageError(f"--accel-{name} must be >= {low}, got {value}")
    given = opt("accel_config")
    if given is not None and not Path(given).is_file():
        raise pytest.UsageError(f"--accel-config: {given} does not exist (give a config file)")
    file = Path(given) if given is not None else find_config(Path(config.rootpath))
    names = ("model", "data", "techniques", "device", "threads", "rounds", "baselines")
    options = {name: opt("accel_" + name) for name in names}
    try:
        return resolve(file, options)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None


def _base_code(config: pytest.Config, settings: Config) -> BaseCode | None:
    """The base revision's worker (``--accel-base``), checked now, started on first use."""
    spec = config.getoption("accel_base")
    if spec is None:
        return None
    rootdir = Path(config.rootpath)
    try:
        check_base(spec, rootdir)
    except BaseCodeError as exc:
        raise pytest.UsageError(str(exc)) from None
    names = ("model", "data", "threads")
    options = {name: config.getoption("accel_" + name) for name in names}
    return BaseCode(spec, rootdir, settings.file, options)


def pytest_configure(config: pytest.Config) -> None:
    opt = config.getoption
    settings = project_config(config)
    rounds = settings["rounds"]
    if rounds is None:
        rounds = BASELINE_ROUNDS if opt("accel_update_baselines") else TimingPlan().rounds
    baselines, json_path = settings["baselines"], opt("accel_json")
    state = AccelState(
        pytest_config=config,
        run=RunConfig(
            model=settings["model"],
            data=settings["data"],
            threads=settings["threads"],
            plan=TimingPlan(rounds=rounds),
            scaling=not opt("accel_no_scaling"),
            serving=not opt("accel_no_serving"),
            reuse=not opt("accel_no_reuse"),
            scenarios=opt("accel_scenarios"),
        ),
        baselines_dir=Path(baselines) if baselines else Path(config.rootpath) / "baselines",
        update=opt("accel_update_baselines"),
        json_path=Path(json_path) if json_path else None,
        settings=settings,
        techniques_option=settings["techniques"],
        devices_option=settings["devices"],
        rebuild_option=opt("accel_rebuild"),
        require_option=opt("accel_require"),
        shard_option=opt("accel_shard"),
        base_code=_base_code(config, settings),
    )
    config.pluginmanager.register(state, NAME)
    config.addinivalue_line("markers", f"{MARKER}: a technique x device cell of the accel gate")
    if any(o is not None for o in (state.techniques_option, state.devices_option)):
        _ = state.techniques, state.devices  # a bad name fails now, before any collection
    if state.rebuild_option is not None:
        _ = state.rebuild
    if state.shard_option is not None:
        state.check_shard()
    if state.require_option or os.environ.get(REQUIRE_ENV):
        _ = state.required


def _state(config: pytest.Config) -> AccelState:
    state = config.pluginmanager.get_plugin(NAME)
    assert isinstance(state, AccelState)
    return state


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if CELL_FIXTURE not in metafunc.fixturenames:
        return
    state = _state(metafunc.config)
    params = []
    for cell in state.cells():
        reason = state.preflight(cell)  # records a skip, a required cell's failure, an error
        marks = [pytest.mark.accel_matrix]
        if reason:
            marks.append(pytest.mark.skip(reason=f"{cell.id}: {reason}"))
        params.append(pytest.param(cell, id=cell.id, marks=marks))
    metafunc.parametrize(CELL_FIXTURE, params)


# The suite's per-check tests (accel.plugin.suite), by function name.
CHECK_TESTS = {"test_contract": "contract", "test_baseline": "baseline"}


def _cell(item: pytest.Item) -> Cell | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None or CELL_FIXTURE not in callspec.params:
        return None
    cell = callspec.params[CELL_FIXTURE]
    return cell if isinstance(cell, Cell) else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A check's test that failed in a way its verdict does not show (it raised before
    recording an outcome: a warning turned error, a hook's pytest.fail, a fixture error) turns
    that check to ERROR, so that the table and the run JSON never keep a stale "pass"."""
    rep = yield
    cell = _cell(item)
    which = CHECK_TESTS.get(getattr(item, "originalname", ""))
    if rep.failed and cell is not None and which is not None:
        _state(item.config).check_raised(cell, which, rep.longreprtext)
    return rep


def pytest_collection_finish(session: pytest.Session) -> None:
    """Declare the cells left after selection (-k, --deselect) so that they are timed together
    (all but those decided at collection: skipped, failed as required, detection errors)."""
    state = _state(session.config)
    selected = [cell for item in session.items if (cell := _cell(item)) is not None]
    state.keep_only({cell.id for cell in selected})
    cells = [cell for cell in selected if cell.id not in state.verdicts]
    if cells:
        order = {cell.id: i for i, cell in enumerate(state.cells())}  # the matrix's own order
        state.matrix.time_together(sorted(cells, key=lambda c: order.get(c.id, len(order))))


@pytest.fixture(scope="session")
def accel_state(request: pytest.FixtureRequest) -> AccelState:
    """The session's options, registry, matrix and verdicts."""
    return _state(request.config)


def report(state: AccelState, cell: Cell, which: str) -> None:
    """Turn one check of ``cell``'s verdict into this test's outcome."""
    made = state.verdict(cell)
    check: Check = made.contract if which == "contract" else made.baseline
    if check.status is Status.ERROR and cell.id in state.errors:
        raise state.errors[cell.id]
    if check.status is Status.SKIPPED:
        pytest.skip(check.summary)
    if check.warning:
        warnings.warn(check.warning, UserWarning, stacklevel=1)
    if check.status.failed:
        pytest.fail(check.message, pytrace=False)


def _record(made: CellVerdict) -> CellRecord:
    """A cell's entry in the run JSON."""
    status, text, reasons = made.status.value, made.summary, made.reasons
    if made.result is not None:
        return CellRecord.from_result(made.result, status, text, reasons)
    skip = made.contract.reasons[0] if made.status is Status.SKIPPED else None
    return CellRecord.unmeasured(made.cell, status, text, reasons, skip_reason=skip)


def _isa_differences(verdicts: list[CellVerdict]) -> list[str]:
    """Each distinct difference between a judged cell's instruction sets and its baseline's."""
    found = (
        isa_difference(v.result.machine, v.against.machine)
        for v in verdicts
        if v.result is not None and v.against is not None
    )
    return list(dict.fromkeys(d for d in found if d))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = _state(config)
    if not state.verdicts or config.option.collectonly:
        return  # no cell selected (a session without the gate's tests), or --collect-only
    order = {cell.id: i for i, cell in enumerate(state.cells())}  # the matrix's own order
    verdicts = sorted(state.verdicts.values(), key=lambda v: order.get(v.cell, len(order)))
    title = (
        f"accel matrix: model={state.run.model}, threads={state.run.threads}, "
        f"rounds={state.run.plan.rounds}x{state.run.plan.block} calls "
        + (f"shard {state.shard_option} " if state.shard_option else "")
        + (f"against the code at {state.base_code.spec} " if state.base_code else "")
        + f"(deltas against {state.baselines_dir.name}/)"
    ) + "".join(f"; {why}: latency only warns" for why in _isa_differences(verdicts))
    notes = [d.message() for d in reference_drift(verdicts, REFERENCE, state.same_machine)]
    notes += slowdown_notes(verdicts, REFERENCE, state.same_machine)
    terminalreporter.write_sep("=", "accel comparison table")
    terminalreporter.write(terminal_table(verdicts, title, notes))
    for path in state.stale_baselines():
        terminalreporter.write_line(f"stale baseline (no such cell): {path}")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(markdown_table(verdicts, title, notes))
    if state.json_path:
        settings = {
            "model": state.run.model,
            "threads": state.run.threads,
            "rounds": state.run.plan.rounds,
            "block": state.run.plan.block,
            "speedup_ci_level": LEVEL,
            "scaling": state.run.scaling,
            "serving": state.run.serving,
            "reuse": state.run.reuse,
            "scenarios": state.run.scenarios,
            "techniques": ",".join(state.techniques),
            "devices": ",".join(state.devices),
            "accel_version": __version__,
        } | ({"shard": state.shard_option} if state.shard_option else {})
        settings |= {"base": state.base_code.spec} if state.base_code else {}
        run = RunRecord(settings, tuple(_record(v) for v in verdicts), warnings=tuple(notes))
        write_text_atomic(state.json_path, run.to_json())
        terminalreporter.write_line(f"accel results written to {state.json_path}")


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.pluginmanager.get_plugin(NAME)
    if isinstance(state, AccelState) and state.base_code is not None:
        state.base_code.close()  # the base worker, and the base tree it was given
