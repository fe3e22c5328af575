"""A cache entry's manifest (``accel-entry.json``) and its verification.

The manifest records what built the entry (the caller's ``record``), when, and what it holds:
every file's size and sha256, their total size and count, and a content digest, the sha256 of
the sorted lines ``<relative path>\\0<size>\\0<file sha256>\\n`` (it covers every path and byte;
the manifest itself is excluded). Verification compares an entry with its manifest, either by
names and sizes or in full (every file hashed again).

Cost of a full verification, measured on the 2-core development machine (chunked sha256 of a
200 MB file, 3 runs each): 0.055-0.07 s per 100 MB with the file in the page cache, 0.11-0.27 s
per 100 MB with it evicted first (read from disk); the ~800 MB cache verifies in 0.5-2 s. That
is well under 1 s per 100 MB, so full verification is the default; ``ACCEL_CACHE_VERIFY=sizes``
checks names and sizes only (for a disk slow enough that reading every entry costs more).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

MANIFEST = "accel-entry.json"
FORMAT = 1
VERIFY_ENV = "ACCEL_CACHE_VERIFY"
VERIFY_MODES = ("full", "sizes")


def full_verification() -> bool:
    """Whether entries are verified in full before use: ``$ACCEL_CACHE_VERIFY`` is ``full``
    (the default) or ``sizes`` (names and sizes only)."""
    mode = os.environ.get(VERIFY_ENV, "full").strip().lower() or "full"
    if mode not in VERIFY_MODES:
        raise ValueError(f"${VERIFY_ENV} must be one of {', '.join(VERIFY_MODES)}, got {mode!r}")
    return mode == "full"


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files(entry: Path) -> dict[str, int]:
    """Every file under ``entry`` but the manifest: relative POSIX path -> size in bytes."""
    found = {}
    for path in entry.rglob("*"):
        rel = path.relative_to(entry).as_posix()
        if rel != MANIFEST and path.is_file():
            found[rel] = path.stat().st_size
    return found


def content_digest(files: Mapping[str, Mapping[str, Any]]) -> str:
    """The content digest of ``files`` (relative path -> ``{"size", "sha256"}``)."""
    digest = hashlib.sha256()
    for rel in sorted(files):
        digest.update(f"{rel}\0{files[rel]['size']}\0{files[rel]['sha256']}\n".encode())
    return digest.hexdigest()


def write_manifest(
    entry: Path, kind: str, key: str, record: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Hash the files of the (unpublished) ``entry`` and write its manifest; returns it."""
    if (entry / MANIFEST).exists():
        raise ValueError(f"the build wrote {MANIFEST}, the cache's own manifest name")
    files: dict[str, dict[str, Any]] = {
        rel: {"size": size, "sha256": file_sha256(entry / rel)}
        for rel, size in sorted(_files(entry).items())
    }
    manifest = {
        "format": FORMAT,
        "kind": kind,
        "key": key,
        "record": dict(record or {}),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "size": sum(f["size"] for f in files.values()),
        "file_count": len(files),
        "digest": content_digest(files),
        "files": files,
    }
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (entry / MANIFEST).write_text(text, encoding="utf-8")
    return manifest


def read_manifest(entry: Path) -> dict[str, Any]:
    """The manifest of ``entry``; ``ValueError`` saying what is wrong if it has none usable."""
    path = entry / MANIFEST
    if not entry.is_dir():
        raise ValueError("is not a directory")
    if not path.is_file():
        raise ValueError(f"has no manifest ({MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"has an unreadable manifest ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"has a manifest that is not format {FORMAT}")
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(f, dict) and isinstance(f.get("size"), int) and isinstance(f.get("sha256"), str)
        for f in files.values()
    ):
        raise ValueError("has a manifest without a valid file list")
    return manifest


def _listed(names: list[str], most: int = 3) -> str:
    shown = ", ".join(sorted(names)[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def entry_problem(entry: Path, *, full: bool = True) -> str | None:
    """What is wrong with the published ``entry``, or None when it matches its manifest.

    Names, sizes and the manifest's own digest are always checked; with ``full`` every file is
    hashed again and compared. The text completes "<entry> ...", e.g. "has no manifest".
    """
    try:
        manifest = read_manifest(entry)
    except ValueError as exc:
        return str(exc)
    if (manifest.get("kind"), manifest.get("key")) != (entry.parent.name, entry.name):
        return f"has the manifest of {manifest.get('kind')}/{manifest.get('key')}"
    recorded: dict[str, dict[str, Any]] = manifest["files"]
    if manifest.get("digest") != content_digest(recorded):
        return "has a manifest whose content digest does not match its file list"
    present = _files(entry)
    if missing := [rel for rel in recorded if rel not in present]:
        return f"is missing {len(missing)} file(s): {_listed(missing)}"
    if extra := [rel for rel in present if rel not in recorded]:
        return f"has {len(extra)} file(s) its manifest does not list: {_listed(extra)}"
    for rel, meta in sorted(recorded.items()):
        if present[rel] != meta["size"]:
            return f"has {rel} of {present[rel]} bytes, recorded as {meta['size']}"
    if full:
        for rel, meta in sorted(recorded.items()):
            if file_sha256(entry / rel) != meta["sha256"]:
                return f"has {rel} whose content differs from its recorded sha256"
    return None


def discard(path: Path) -> None:
    """Remove an entry (or a stray file): renamed aside to a hidden name first, so that a crash
    midway never leaves a half-deleted entry under its own name."""
    if not path.exists() and not path.is_symlink():
        return
    aside = path.with_name(f".{path.name}.stale.{secrets.token_hex(4)}")
    os.replace(path, aside)
    if aside.is_dir() and not aside.is_symlink():
        shutil.rmtree(aside, ignore_errors=True)
    else:
        aside.unlink(missing_ok=True)
