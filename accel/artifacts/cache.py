"""Content-addressed artifact cache with atomic publication.

An artifact is a directory built under a temporary name beside its final place and renamed
into place only once complete, so an interrupted build never leaves a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

CACHE_ENV = "ACCEL_CACHE_DIR"


def cache_root() -> Path:
    """The cache directory: ``$ACCEL_CACHE_DIR``, else ``~/.cache/accel``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "accel"


def fingerprint(payload: Any) -> str:
    """A stable sha256 of a JSON-serializable payload (keys sorted)."""
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached_dir(
    kind: str,
    key: str,
    build: Callable[[Path], None],
    root: Path | None = None,
    *,
    record: Any = None,
    rebuild: bool = False,
) -> Path:
    """Return the cache entry ``<root>/<kind>/<key>``, building it first if absent.

    ``root`` defaults to :func:`cache_root`.

    ``build`` receives an empty temporary directory and fills it; the directory is renamed
    into place only when ``build`` returns, and removed if it raises.
    """
    final = (root or cache_root()) / kind / key
    if rebuild and final.is_dir():
        shutil.rmtree(final)
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=final.parent))
    try:
        build(tmp)
        try:
            os.replace(tmp, final)
        except OSError:
            if not final.is_dir():  # a concurrent build won the race: keep theirs
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


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
