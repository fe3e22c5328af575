"""Exclusive per-entry file locks (``fcntl.flock`` on ``<root>/<kind>/<key>.lock``).

Whoever checks, builds, publishes, repairs or removes a cache entry holds its lock, so two
processes never build the same entry at once: the second waits, then finds the first's entry.

The lock file is removed by its holder on release. That is safe because a taker checks, once
it holds the lock, that the path still names the file it locked; if not (its holder removed
it), it locks the new file instead. A crashed holder's lock is released by the kernel and its
stale file is removed by the next holder or by ``accel cache prune``.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_SUFFIX = ".lock"


def lock_path(entry: Path) -> Path:
    """The lock file of the entry directory ``entry``: ``<entry>.lock`` beside it."""
    return entry.with_name(entry.name + LOCK_SUFFIX)


def _names_locked_file(fd: int, path: Path) -> bool:
    try:
        here = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino)


@contextmanager
def entry_lock(entry: Path, *, blocking: bool = True) -> Iterator[bool]:
    """Hold the exclusive lock of ``entry`` for the ``with`` block; yields True.

    With ``blocking=False`` it does not wait: it yields False (holding nothing) when another
    process holds the lock. The parent directory must exist.
    """
    path = lock_path(entry)
    mode = fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, mode)
        except BlockingIOError:  # held elsewhere, and we were not to wait
            os.close(fd)
            fd = -1
        except BaseException:
            os.close(fd)
            raise
        if fd < 0 or _names_locked_file(fd, path):
            break
        os.close(fd)  # its holder removed it on release: lock the one there now
    if fd < 0:
        yield False
        return
    try:
        yield True
    finally:
        path.unlink(missing_ok=True)  # while still held: see the module's docstring
        os.close(fd)


def lock_held(entry: Path) -> bool:
    """Whether some process holds the lock of ``entry`` now (creates and removes nothing)."""
    try:
        fd = os.open(lock_path(entry), os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the lock if we took it
    return False
