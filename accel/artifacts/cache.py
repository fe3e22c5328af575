"""Content-addressed artifact cache with atomic, verified, locked publication.

An artifact is a directory built under a temporary name beside its final place and renamed
into place only once complete (with its manifest), so an interrupted build never leaves a
half-written entry; an entry is verified against its manifest before every use, and built
under an exclusive lock, so concurrent builds of one entry happen once. docs/cache.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from accel.artifacts.entries import discard, entry_problem, full_verification, write_manifest
from accel.artifacts.locking import entry_lock

CACHE_ENV = "ACCEL_CACHE_DIR"
# Set (to anything but "" or "0") in a process that must only read the cache: an entry it
# lacks raises CacheMiss instead of being built (the base worker: accel.plugin.base_worker).
CACHE_ONLY_ENV = "ACCEL_CACHE_ONLY"


def cache_root() -> Path:
    """The cache directory: ``$ACCEL_CACHE_DIR``, else ``~/.cache/accel``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "accel"


def fingerprint(payload: Any) -> str:
    """A stable sha256 of a JSON-serializable payload (keys sorted)."""
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class CacheWarning(UserWarning):
    """A cache entry failed verification and is being rebuilt."""


class CacheMiss(LookupError):
    """An entry is not in the cache, and this process may not build it ($ACCEL_CACHE_ONLY)."""


def cached_dir(
    kind: str,
    key: str,
    build: Callable[[Path], None],
    root: Path | None = None,
    *,
    record: Mapping[str, Any] | None = None,
    rebuild: bool = False,
) -> Path:
    """Return the cache entry ``<root>/<kind>/<key>``, building it first if absent or invalid.

    ``root`` defaults to :func:`cache_root`. ``build`` receives an empty temporary directory
    and fills it; the cache then writes the entry's manifest there (``accel-entry.json``:
    ``kind``, ``key``, ``record``, the creation time, every file's size and sha256, the total
    size, file count and content digest) and renames the directory into place. If ``build``
    raises, the directory is removed and nothing is published. ``record`` (JSON-serializable)
    says what built the entry: recipe, code digest, versions, inputs.

    An existing entry is verified against its manifest before it is returned (in full unless
    ``$ACCEL_CACHE_VERIFY=sizes``: see :mod:`accel.artifacts.entries`); a corrupted, partly
    deleted or manifest-less entry is never returned: a :class:`CacheWarning` names it and
    what is wrong, and it is removed and built anew. ``rebuild=True`` removes a valid entry
    and builds it again.

    The whole check-build-publish holds the entry's exclusive lock (``<key>.lock`` beside it),
    so a second process asking for the same entry waits, then returns the first one's.
    """
    if record is not None:
        json.dumps(record)  # fail before a long build, not after it
    final = (root or cache_root()) / kind / key
    final.parent.mkdir(parents=True, exist_ok=True)
    full = full_verification()
    with entry_lock(final):
        if final.exists() or final.is_symlink():
            problem = None if rebuild else entry_problem(final, full=full)
            if problem is None and not rebuild:
                return final
            if problem is not None:
                warnings.warn(
                    f"accel cache: {final} {problem}; removing it and building it anew",
                    CacheWarning,
                    stacklevel=2,
                )
            discard(final)
        _build(final, kind, key, build, record)
    return final


def _build(
    final: Path,
    kind: str,
    key: str,
    build: Callable[[Path], None],
    record: Mapping[str, Any] | None,
) -> None:
    if os.environ.get(CACHE_ONLY_ENV, "") not in ("", "0"):
        raise CacheMiss(f"{kind}/{key[:12]} is not in the cache ({final}), and ${CACHE_ONLY_ENV} "
                        "forbids building it here")
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.build.", dir=final.parent))
    try:
        build(tmp)
        write_manifest(tmp, kind, key, record)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Publish ``path`` whole or not at all: ``write`` fills an empty temporary file beside
    it (given its path; what it returns is ignored), which is then renamed over ``path``, or
    removed if ``write`` raises. Parent directories are created; the file is mode 0644."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results and baselines are for sharing
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`write_atomic`)."""
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json_atomic(path: Path, document: Any) -> None:
    """Write ``document`` to ``path`` atomically as indented JSON with sorted keys and a final
    newline (the form of accel's result documents)."""
    write_text_atomic(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
