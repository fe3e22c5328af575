"""The plugin's typed state for one pytest session: options, registry, matrix, verdicts.

Registered with the plugin manager (not attributes on ``config``). The registry and the matrix
are built on first use, so a session that never asks for a cell loads neither.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as _dt
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from accel import __version__
from accel.gate import verdict as gate
from accel.gate.baselines import (
    Baseline,
    baseline_or_error,
    baseline_path,
    render_baseline,
    write_baseline,
)
from accel.gate.reference import judge_reference
from accel.matrix import Matrix, RunConfig, all_cells
from accel.measure.machine import latency_incomparable, same_machine
from accel.measure.records import Cell
from accel.measure.scenarios import ScenariosInterrupted
from accel.plugin.against_base import against_base
from accel.plugin.base_code import BaseCode
from accel.plugin.config import Config, ConfigError, customize
from accel.plugin.options import REQUIRE_ENV, csv, required_cells, shard_spec
from accel.techniques import REFERENCE, Registry, TechniqueError, builtin_registry

NAME = "accel_state"


@dataclass
class AccelState:
    """What the plugin knows in one session."""

    pytest_config: pytest.Config
    run: RunConfig
    baselines_dir: Path
    update: bool
    json_path: Path | None
    settings: Config  # the effective configuration (accel.plugin.config)
    techniques_option: str | None
    devices_option: str | None
    rebuild_option: str | None = None
    require_option: str | None = None  # --accel-require; $ACCEL_REQUIRE adds to it
    shard_option: str | None = None  # --accel-shard I/N, checked by its option type
    base_code: BaseCode | None = None  # --accel-base: the base revision's worker
    verdicts: dict[str, gate.CellVerdict] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)
    _preflight: dict[str, str | None] = field(default_factory=dict)

    @cached_property
    def registry(self) -> Registry:
        """Built-ins, then entry-point plugins, then what conftests add through the hook."""
        registry = builtin_registry()
        try:
            registry.load_entry_points()
            self.pytest_config.hook.pytest_accel_register_techniques(registry=registry)
            customize(registry, self.settings)  # the config's plugins and contracts
        except (TechniqueError, ConfigError) as exc:  # its message names it and the fix
            raise pytest.UsageError(str(exc)) from exc
        return registry

    @cached_property
    def techniques(self) -> list[str]:
        """The techniques this run selects (``--accel-techniques``), validated."""
        return self._select(self.techniques_option, self.registry.names(), "techniques")

    @cached_property
    def devices(self) -> list[str]:
        """The devices this run selects (``--accel-device``), validated."""
        return self._select(self.devices_option, self.registry.devices(), "devices")

    def _select(self, value: str | None, valid: list[str], option: str) -> list[str]:
        if value is None:  # option: --accel-rebuild, or a config key (the file's, or an option)
            return valid
        try:
            return csv(value, valid, option if option[0] == "-" else self.settings.setter(option))
        except argparse.ArgumentTypeError as exc:
            raise pytest.UsageError(str(exc)) from None

    @cached_property
    def rebuild(self) -> frozenset[str]:
        """The techniques whose artifacts this run rebuilds (``--accel-rebuild``), validated."""
        if self.rebuild_option is None:
            return frozenset()
        valid = ["all", *self.registry.names()]
        return frozenset(self._select(self.rebuild_option, valid, "--accel-rebuild"))

    @cached_property
    def required(self) -> frozenset[str]:
        """The cells that must run (``--accel-require`` and ``$ACCEL_REQUIRE``), validated."""
        registry = self.registry
        known = [c.id for c in all_cells(registry, registry.names(), registry.devices())]
        sources = (
            ("--accel-require", self.require_option),
            (f"${REQUIRE_ENV}", os.environ.get(REQUIRE_ENV)),
        )
        try:
            return frozenset(
                cell
                for source, value in sources
                if value
                for cell in required_cells(value, known, source)
            )
        except argparse.ArgumentTypeError as exc:
            raise pytest.UsageError(str(exc)) from None

    def preflight(self, cell: Cell) -> str | None:
        """Whether this machine can run ``cell``, decided once: the reason to skip it, or None.

        A cell it cannot run is skipped with the reason, unless it is required: then it fails,
        naming the reason and the fix. A capability check that raises is that cell's ERROR,
        never a skip."""
        if cell.id in self._preflight:
            return self._preflight[cell.id]
        skip = None
        try:
            reason = self.registry.unavailable_for(cell.technique, cell.device, self.run.model)
        except Exception as exc:  # a detection bug: the cell's error, shown with its traceback
            self.errors[cell.id] = exc
            self.verdicts[cell.id] = gate.errored(cell.id, exc)
            reason = None
        if reason and cell.id in self.required:
            self.verdicts[cell.id] = gate.unavailable(cell.id, reason)
        elif reason:
            self.skip(cell, reason)
            skip = reason
        self._preflight[cell.id] = skip
        return skip

    def keep_only(self, selected: set[str]) -> None:
        """Forget the verdicts decided at collection for cells that selection (-k, --deselect)
        left out, so that the table lists the selected cells only."""
        for cell in [c for c in self.verdicts if c not in selected]:
            del self.verdicts[cell]

    @cached_property
    def matrix(self) -> Matrix:
        run = dataclasses.replace(self.run, rebuild=self.rebuild)
        return Matrix(run, self.registry, self._cell_metrics)

    def _cell_metrics(self, cell: Cell, predictor: Any) -> dict[str, float]:
        found: dict[str, float] = {}
        for extra in self.pytest_config.hook.pytest_accel_cell_metrics(
            cell=cell, predictor=predictor
        ):
            found |= dict(extra or {})
        return found

    def cells(self) -> list[Cell]:
        """Every selected cell the registry supports. Called while collecting, where a broken
        plugin is a collection error that pytest prints as its message alone."""
        try:
            registry = self.registry
        except pytest.UsageError as exc:
            raise pytest.Collector.CollectError(str(exc)) from exc
        return self._deal(all_cells(registry, self.techniques, self.devices))

    def _deal(self, cells: list[Cell]) -> list[Cell]:
        """This shard's cells (``--accel-shard I/N``): every Nth of the matrix order from the
        Ith, so each cell, the reference's row included, is in exactly one shard."""
        if self.shard_option is None:
            return cells
        index, count = shard_spec(self.shard_option)
        return cells[index - 1 :: count]

    def check_shard(self) -> None:
        """A shard that the deal leaves empty is a usage error (its JSON would be missing)."""
        every = all_cells(self.registry, self.techniques, self.devices)
        if self.shard_option is not None and every and not self._deal(every):
            raise pytest.UsageError(
                f"--accel-shard {self.shard_option}: the selection has {len(every)} cell(s), "
                f"fewer than the shards; use at most {len(every)} shards"
            )

    def same_machine(self, obtained: Mapping[str, Any], baseline: Mapping[str, Any]) -> bool:
        """The ``pytest_accel_same_machine`` hook's answer, else the default rule."""
        answer = self.pytest_config.hook.pytest_accel_same_machine(
            obtained=obtained, baseline=baseline
        )
        return same_machine(obtained, baseline) if answer is None else bool(answer)

    @contextlib.contextmanager
    def live_output(self) -> Iterator[None]:
        """Suspend pytest's capture so that progress bars (training, accuracy passes) show
        live in the terminal and CI logs."""
        capture = self.pytest_config.pluginmanager.get_plugin("capturemanager")
        if capture is None:
            yield
            return
        with capture.global_and_fixture_disabled():
            yield

    def skip(self, cell: Cell, reason: str) -> None:
        """Record that this machine cannot run ``cell``, so the table lists it."""
        self.verdicts[cell.id] = gate.skipped(cell.id, reason)

    def verdict(self, cell: Cell) -> gate.CellVerdict:
        """``cell``'s verdict, measured and judged once per session; in update mode its
        baseline file is rewritten from this run. Any error while measuring or judging makes
        both checks ``error`` (never a stale "pass")."""
        if cell.id in self.verdicts:
            return self.verdicts[cell.id]
        stopped = None  # a Ctrl-C in LoadGen's scenarios: the reference is judged, then stops
        if cell.technique == REFERENCE and not self.update:
            # The reference is judged with the other cells of its device (accel.gate.reference).
            for other in self.matrix.together:
                if other.device == cell.device and other != cell and stopped is None:
                    try:
                        self.verdict(other)
                    except ScenariosInterrupted as exc:
                        stopped = exc
        try:
            with self.live_output():
                made = self._judge(cell)
        except (Exception, pytest.fail.Exception) as exc:  # a hook's pytest.fail() too
            self.errors[cell.id] = exc
            made = gate.errored(cell.id, exc)
        self.verdicts[cell.id] = made
        if made.result and made.result.scenarios and made.result.scenarios.interrupted:
            raise ScenariosInterrupted(made.result.scenarios)  # recorded: the JSON has it
        if stopped is not None:
            raise stopped
        return made

    def check_raised(self, cell: Cell, which: str, text: str) -> None:
        """The test of ``cell``'s ``which`` check failed with ``text`` (a traceback): make sure
        the verdict says so, never the other check's "pass" (see :func:`gate.raised`)."""
        self.verdicts[cell.id] = gate.raised(self.verdicts.get(cell.id), cell.id, which, text)

    def _judge(self, cell: Cell) -> gate.CellVerdict:
        result = self.matrix.measure(cell)
        contract = self.registry[cell.technique].contract
        rival = None
        if contract.beats is not None:
            rival = self.matrix.score(Cell(contract.beats, cell.device))[0]
        path = baseline_path(self.baselines_dir, cell.id)
        baseline = baseline_or_error(path)
        ref = baseline_or_error(baseline_path(self.baselines_dir, f"{REFERENCE}/{cell.device}"))
        made = gate.judge(
            result,
            contract,
            baseline,
            path,
            rival=rival,
            update=self.update,
            same_machine=self.same_machine,
            latency_incomparable=latency_incomparable,
            against_base=against_base(self.matrix, cell, result, baseline, self.base_code),
            reference_baseline=ref if isinstance(ref, Baseline) else None,
        )
        if cell.technique == REFERENCE:  # the other cells of its device are judged by now
            made = judge_reference(made, list(self.verdicts.values()), self.same_machine)
        if made.baseline.status is gate.Status.WRITTEN:  # not when a required metric is NaN
            previous = baseline if isinstance(baseline, Baseline) else None
            write_baseline(
                path,
                render_baseline(
                    cell.id,
                    result.metrics(),
                    result.timing.cell.as_dict(),
                    result.provenance(),
                    result.machine,
                    created=_dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
                    accel_version=__version__,
                    tolerances=dict(previous.tolerances if previous else {})
                    | self.settings["tolerances"],
                    calibration=previous.calibration if previous else None,
                ),
            )
        return made

    def stale_baselines(self) -> list[Path]:
        """Baseline files for cells the registry no longer has."""
        registry = self.registry
        known = {c.id for c in all_cells(registry, registry.names(), registry.devices())}
        if not self.baselines_dir.is_dir():
            return []
        return sorted(
            p
            for p in self.baselines_dir.glob("*/*.json")
            if f"{p.stem}/{p.parent.name}" not in known
        )
