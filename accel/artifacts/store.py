"""Managing the cache: usage records, and listing, verifying and pruning entries (the logic of
``accel cache``; docs/cache.md).

A usage record, ``<root>/uses/<cell>.json``, names the entries (``kind/key``) that the latest
build of a cell used; an entry that no record names is reached by no current recipe, and
``prune`` removes it.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from accel.artifacts.cache import cache_root, write_json_atomic
from accel.artifacts.entries import discard, entry_problem, read_manifest
from accel.artifacts.locking import LOCK_SUFFIX, entry_lock, lock_held

USES = "uses"
_UNSAFE = re.compile(r"[^A-Za-z0-9.+-]")
_STRAY = re.compile(r"^\.(?P<key>.+)\.(?:build|stale)\.[^.]+$")


class UsageError(ValueError):
    """The usage records cannot be read, or there are none to prune by."""


def safe_cell_name(cell: str) -> str:
    """The file stem of ``cell``'s usage record: every character but letters, digits, ``.+-``
    becomes ``_`` ("ort-int8/cpu" -> "ort-int8_cpu"; technique names have no ``_``)."""
    return _UNSAFE.sub("_", cell)


def entry_id(entry: Path | str, root: Path | None = None) -> str:
    """``kind/key`` of an entry given as that string, or as a path (of the entry or of a file
    in it, under ``root``; a path elsewhere is taken as ``.../<kind>/<key>``)."""
    if isinstance(entry, str):
        return entry
    base = (root or cache_root()).resolve()
    try:
        parts = entry.resolve().relative_to(base).parts[:2]
    except ValueError:
        parts = entry.parts[-2:]
    return "/".join(parts)


def record_use(cell: str, entries: Sequence[Path | str], root: Path | None = None) -> Path:
    """Record that the latest build of ``cell`` used ``entries`` (paths or ``kind/key``s);
    replaces that cell's previous record atomically. Returns the record's path."""
    base = root or cache_root()
    path = base / USES / f"{safe_cell_name(cell)}.json"
    write_json_atomic(
        path,
        {
            "cell": cell,
            "entries": sorted({entry_id(e, base) for e in entries}),
            "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    )
    return path


def read_uses(root: Path | None = None) -> dict[str, list[str]]:
    """Every usage record: cell -> the ``kind/key``s it used. ``UsageError`` if one is
    unreadable (then nothing can be pruned safely)."""
    uses = {}
    for path in sorted(((root or cache_root()) / USES).glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            uses[str(doc["cell"])] = [str(e) for e in doc["entries"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"unreadable usage record {path}: {exc}") from exc
    return uses


def users(root: Path | None = None) -> dict[str, list[str]]:
    """``kind/key`` -> the cells whose usage records name it."""
    found: dict[str, list[str]] = {}
    for cell, entries in read_uses(root).items():
        for entry in entries:
            found.setdefault(entry, []).append(cell)
    return found


@dataclass(frozen=True)
class Entry:
    """A published entry, as the listing sees it."""

    kind: str
    key: str
    path: Path
    size: int  # bytes (of its files, manifest aside, when it has a readable manifest)
    created: float  # POSIX time: the manifest's, else the directory's mtime

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.key}"


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _entry(path: Path) -> Entry:
    try:
        manifest = read_manifest(path)
        size, created = int(manifest["size"]), datetime.fromisoformat(manifest["created"])
        stamp = created.timestamp()
    except (ValueError, KeyError, TypeError):
        size, stamp = _size(path), path.stat().st_mtime
    return Entry(path.parent.name, path.name, path, size, stamp)


def _kind_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != USES
    )


def scan(root: Path | None = None) -> list[Entry]:
    """Every published entry under ``root``, by kind then key."""
    return [
        _entry(path)
        for kind in _kind_dirs(root or cache_root())
        for path in sorted(kind.iterdir())
        if path.is_dir() and not path.name.startswith(".")
    ]


def _age(seconds: float) -> str:
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{int(seconds // span)}{unit}"
    return f"{max(int(seconds), 0)}s"


def list_rows(root: Path | None = None, *, full: bool = False) -> list[list[str]]:
    """The rows of ``accel cache list``: kind, key prefix, size, age, cells, status."""
    used = users(root)
    now = time.time()
    return [
        [
            e.kind,
            e.key[:12],
            f"{e.size / 1e6:.1f} MB",
            _age(now - e.created),
            ",".join(sorted(used.get(e.id, []))) or "-",
            entry_problem(e.path, full=full) or "ok",
        ]
        for e in scan(root)
    ]


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain left-aligned columns for the terminal."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]]
    return "\n".join(line.rstrip() for line in lines)


@dataclass(frozen=True)
class Finding:
    """One entry or leftover and what is wrong with it (or why it goes)."""

    path: Path
    reason: str
    size: int = 0


def verify_all(root: Path | None = None, *, fix: bool = False) -> tuple[int, list[Finding]]:
    """Verify every entry in full: how many were checked, and the bad ones (removed with
    ``fix``). An entry whose lock is held (a build or repair in progress) is skipped."""
    bad, checked = [], 0
    for entry in scan(root):
        with entry_lock(entry.path, blocking=False) as free:
            if not free or not entry.path.exists():  # being built, or removed meanwhile
                continue
            checked += 1
            problem = entry_problem(entry.path, full=True)
            if problem is not None:
                bad.append(Finding(entry.path, problem, entry.size))
                if fix:
                    discard(entry.path)
    return checked, bad


def _leftovers(kind: Path) -> list[Finding]:
    """Stray temporary directories and lock files in ``kind`` whose build has finished."""
    found = []
    for path in sorted(kind.iterdir()):
        if path.name.endswith(LOCK_SUFFIX) and path.is_file():
            if not lock_held(kind / path.name[: -len(LOCK_SUFFIX)]):
                found.append(Finding(path, "lock file of a finished build"))
        elif (match := _STRAY.match(path.name)) is not None and not lock_held(kind / match["key"]):
            found.append(Finding(path, "stray temporary directory", _size(path)))
    return found


def _remove_leftover(path: Path) -> None:
    if path.name.endswith(LOCK_SUFFIX):
        with entry_lock(path.with_name(path.name[: -len(LOCK_SUFFIX)]), blocking=False):
            pass  # taking it when free removes it on release; when held, it is in use again
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)  # a new build would use a new name
    else:
        path.unlink(missing_ok=True)


def prune(root: Path | None = None, *, dry_run: bool = False) -> list[Finding]:
    """Remove (or with ``dry_run`` only list) every entry that no usage record names, and the
    leftovers of finished builds. ``UsageError`` if there are no usage records at all (then
    every entry would go). Entries being built or repaired (locked) are left alone."""
    base = root or cache_root()
    used = users(base)
    if not used and scan(base):
        raise UsageError(
            f"no usage records under {base / USES}: every entry would be pruned; "
            "run the gate first (it records what each cell uses)"
        )
    gone = []
    for entry in scan(base):
        if entry.id in used or lock_held(entry.path):
            continue
        gone.append(Finding(entry.path, "used by no cell", entry.size))
        if not dry_run:
            with entry_lock(entry.path, blocking=False) as free:
                if free:
                    discard(entry.path)
    for kind in _kind_dirs(base):
        for found in _leftovers(kind):
            gone.append(found)
            if not dry_run:
                _remove_leftover(found.path)
    return gone
