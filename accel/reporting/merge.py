"""One run from the run JSONs of a sharded matrix (``accel run --shard I/N``, one JSON a shard).

Each shard timed its own cells beside its own reference, so every row keeps its own figures
and reference; merging only checks that the rows are comparable and that the shards cover the
matrix once:

* the settings that make rows comparable (:data:`COMPARABLE`, and the schema version) agree;
  shards (files with ``run.shard``) also share the selection (:data:`SELECTION`), one ``N`` and
  distinct indexes;
* no cell is in two files (a clash), the reference's row included: ``--shard`` deals each
  cell, the reference's row too, to exactly one shard;
* no shard of ``N`` is missing (``N`` from the files, or ``expect_shards``), nor any of
  ``expect_cells``.

Each failure is a :class:`ReportError` naming the files and the field, cell or shard. Cells
come out in the matrix's order (device, then technique, as the runs' settings list them), so
the shards of a run merge to the rows of the unsharded run. No torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accel.reporting.schema import CellRecord, ReportError, RunRecord
from accel.validation import parse_shard

# Settings whose values must agree for rows to be comparable (a missing one counts as a value).
COMPARABLE = ("model", "threads", "rounds", "block", "speedup_ci_level", "accel_version")
SELECTION = ("techniques", "devices")  # shards of one matrix are dealt from one selection


def merge_runs(
    paths: Sequence[Path],
    expect_shards: int | None = None,
    expect_cells: Sequence[str] = (),
) -> RunRecord:
    """The run whose cells are the union of ``paths``' cells (each read and validated)."""
    if not paths:
        raise ReportError("no run JSON to merge")
    if expect_shards is not None and expect_shards < 1:
        raise ReportError(f"--expect-shards must be >= 1, got {expect_shards}")
    runs = [(path, RunRecord.read(path)) for path in paths]
    _check_settings(runs)
    shards = _check_shards(runs, expect_shards)
    owner: dict[str, Path] = {}
    for path, run in runs:
        for cell in run.cells:
            if cell.cell in owner:
                raise ReportError(
                    f"cell {cell.cell} is in both {owner[cell.cell]} and {path}: each cell "
                    "(the reference's row too) must come from exactly one shard"
                )
            owner[cell.cell] = path
    missing = [c for c in expect_cells if c not in owner]
    if missing:
        raise ReportError(
            f"missing cell(s) {', '.join(missing)}: in none of {', '.join(map(str, paths))}"
        )
    techniques = _union(run.settings.get("techniques") for _, run in runs)
    devices = _union(run.settings.get("devices") for _, run in runs)
    cells = sorted(
        (c for _, run in runs for c in run.cells), key=lambda c: _position(c, techniques, devices)
    )
    first = runs[0][1].settings
    settings: dict[str, Any] = {k: first[k] for k in first if k not in ("shard", *SELECTION)}
    settings |= {"techniques": ",".join(techniques), "devices": ",".join(devices)}
    settings["merged"] = [
        {"file": str(path), **({"shard": run.settings["shard"]} if path in shards else {})}
        for path, run in runs
    ]
    warnings = tuple(f"{_label(path, run)}: {w}" for path, run in runs for w in run.warnings)
    return RunRecord(settings, tuple(cells), warnings=warnings)


def _check_settings(runs: list[tuple[Path, RunRecord]]) -> None:
    first_path, first = runs[0]
    for path, run in runs[1:]:
        if run.schema_version != first.schema_version:
            raise _disagree("schema_version", first_path, first.schema_version, path, run)
        for key in COMPARABLE:
            if run.settings.get(key) != first.settings.get(key):
                raise _disagree(f"run.{key}", first_path, first.settings.get(key), path, run)


def _disagree(field: str, first: Path, value: Any, path: Path, run: RunRecord) -> ReportError:
    theirs = run.schema_version if field == "schema_version" else run.settings.get(field[4:])
    return ReportError(
        f"{path}: field {field} is {theirs!r} but {first} has {value!r}: runs merged into one "
        "table must agree on it"
    )


def _check_shards(runs: list[tuple[Path, RunRecord]], expect: int | None) -> set[Path]:
    """The files that are shards, checked: one N, distinct indexes, none missing."""
    seen: dict[int, Path] = {}
    counts: dict[int, Path] = {}
    selection: tuple[Path, dict[str, Any]] | None = None
    for path, run in runs:
        if "shard" not in run.settings:
            if expect is not None:
                raise ReportError(
                    f"{path}: missing field run.shard, but --expect-shards {expect} merges shard "
                    f"runs (accel run --shard I/{expect})"
                )
            continue
        try:
            index, count = parse_shard(str(run.settings["shard"]))
        except ValueError as exc:
            raise ReportError(f"{path}: field run.shard {exc}") from None
        if index in seen:
            raise ReportError(f"shard {index}/{count} is in both {seen[index]} and {path}")
        seen[index] = path
        counts.setdefault(count, path)
        picked = {k: run.settings.get(k) for k in SELECTION}
        if selection is None:
            selection = (path, picked)
        for key in SELECTION:
            if picked[key] != selection[1][key]:
                raise _disagree(f"run.{key}", selection[0], selection[1][key], path, run)
    if expect is not None and counts.keys() - {expect}:
        n, path = next((n, p) for n, p in counts.items() if n != expect)
        raise ReportError(f"{path} is a shard of {n}, but --expect-shards is {expect}")
    if len(counts) > 1:
        (n, a), (m, b) = list(counts.items())[:2]
        raise ReportError(f"{b} is a shard of {m} but {a} of {n}: shards of one run share N")
    for count in counts.keys() | ({expect} if expect else set()):
        missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in seen]
        if missing:
            files = ", ".join(str(path) for path, _ in runs)
            raise ReportError(f"missing shard(s) {', '.join(missing)}: not among {files}")
    return set(seen.values())


def _union(values: Any) -> list[str]:
    """The comma-separated lists, in order of first appearance."""
    out: dict[str, None] = {}
    for value in values:
        out |= dict.fromkeys(v for v in str(value or "").split(",") if v)
    return list(out)


def _position(cell: CellRecord, techniques: list[str], devices: list[str]) -> tuple[int, int]:
    """The matrix order: by device, then technique (unknown names last, in file order)."""

    def index(items: list[str], item: str) -> int:
        return items.index(item) if item in items else len(items)

    return index(devices, cell.device), index(techniques, cell.technique)


def _label(path: Path, run: RunRecord) -> str:
    shard = run.settings.get("shard")
    return f"shard {shard} ({path})" if shard else str(path)
