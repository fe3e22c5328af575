"""Base against head for code: the cells as the base revision builds them, in a second process.

A merge can slow a cell down without changing any artifact: the predictor's glue, the tokenizer
call, the session options. With ``--accel-base REV`` the gate extracts the tree of ``REV`` (a git
revision; or a directory holding the base's checkout), starts one worker process with that tree
first on ``PYTHONPATH`` (:mod:`accel.plugin.base_worker`: ``accel`` and the project's modules are
the base's) and has it build the run's cells from the cache alone. Each cell is then timed in
ABBA blocks beside its base build, the worker timing its own blocks while this process waits,
and decided by :func:`accel.gate.base_head.decide` like a changed artifact.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil

from accel.artifacts.cache import CACHE_ONLY_ENV
from accel.plugin.base_worker import PROTOCOL

# The worker's command: the base's tree (argv[1]) first on sys.path, then the worker module.
_RUN_WORKER = (
    "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
    "runpy.run_module('accel.plugin.base_worker', run_name='__main__', alter_sys=True)"
)


class BaseCodeError(ValueError):
    """The base revision cannot be used (its message names the value and the fix)."""


def _git(cwd: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise BaseCodeError("--accel-base: git is not installed; give a directory") from None
    if done.returncode != 0:
        error = done.stderr.decode(errors="replace").strip()
        raise BaseCodeError(f"--accel-base: git {' '.join(args[:2])} failed in {cwd}: {error}")
    return done.stdout


def check_base(spec: str, rootdir: Path) -> None:
    """Fail early, naming the fix, when ``spec`` is neither a directory nor a git revision."""
    if Path(spec).is_dir():
        return
    try:
        _git(rootdir, "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}")
    except BaseCodeError as exc:
        raise BaseCodeError(
            f"--accel-base {spec!r}: not a directory, and not a commit of the git repository at "
            f"{rootdir} ({exc}); give a branch, tag or commit (origin/main), or a checkout's path"
        ) from None


def extract(spec: str, rootdir: Path, into: Path) -> Path:
    """The base's counterpart of ``rootdir``: ``spec`` itself when it is a directory, else the
    tree of the git revision ``spec`` extracted under ``into`` (``git archive``)."""
    if Path(spec).is_dir():
        return Path(spec).resolve()
    top = Path(_git(rootdir, "rev-parse", "--show-toplevel").decode().strip())
    commit = _git(rootdir, "rev-parse", "--verify", f"{spec}^{{commit}}").decode().strip()
    with tarfile.open(fileobj=io.BytesIO(_git(top, "archive", "--format=tar", commit))) as tar:
        tar.extractall(into, filter="data")
    return into / Path(rootdir).resolve().relative_to(top.resolve())


@dataclass
class Remote:
    """A cell built by the base code, timed in the worker (a :class:`TimedElsewhere` side)."""

    name: str
    cell: str
    queries: tuple[str, ...]
    worker: subprocess.Popen[str]

    def time_block(self, queries: Sequence[str], n: int, start: int = 0) -> list[float]:
        """The worker's times of ``n`` calls cycling through ``queries`` (those it was given)
        from ``queries[start]``."""
        if tuple(queries) != self.queries:
            raise ValueError(f"{self.name}: the worker was given other latency queries")
        answer = _ask(self.worker, {"cell": self.cell, "n": n, "start": start})
        if "error" in answer:
            raise RuntimeError(f"the base worker: {answer['error']}")
        return [float(t) for t in answer["times"]]


def _ask(worker: subprocess.Popen[str], message: dict[str, Any]) -> dict[str, Any]:
    stdin, stdout = worker.stdin, worker.stdout
    assert stdin is not None and stdout is not None
    stdin.write(json.dumps(message) + "\n")
    stdin.flush()
    line = stdout.readline()
    if not line:
        code = worker.wait()
        raise RuntimeError(f"the base worker exited with code {code} (its stderr is above)")
    answer: dict[str, Any] = json.loads(line)
    return answer


def quiet_cpu(allowed: set[int], seconds: float = 0.2) -> int:
    """The CPU of ``allowed`` that other work kept least busy over ``seconds`` (sampled while
    this process sleeps): where base and head are timed."""
    busy = psutil.cpu_percent(interval=seconds, percpu=True)
    return min(sorted(allowed), key=lambda cpu: busy[cpu] if cpu < len(busy) else 100.0)


@dataclass
class BaseCode:
    """The base revision's worker for one session: started on first use, closed at the end."""

    spec: str  # --accel-base: a git revision, or a directory with the base's checkout
    rootdir: Path  # the head's pytest rootdir
    config: Path | None  # the head's configuration file
    options: dict[str, Any]  # the --accel-* values accel.plugin.config.resolve takes
    _scratch: Path | None = None
    _worker: subprocess.Popen[str] | None = None
    _queries: tuple[str, ...] = ()
    _ready: frozenset[str] = frozenset()  # the cells the worker built
    _reasons: dict[str, str] = field(default_factory=dict)
    _failed: str | None = None

    def side(self, cell: str, cells: Sequence[str], queries: Sequence[str]) -> Remote | str:
        """``cell`` as the base code builds it, or why it cannot be had. The first call starts
        the worker with every cell of ``cells`` (those this run times), built once each."""
        if self._worker is None and self._failed is None:
            try:
                self._start(cells, queries)
            except (BaseCodeError, OSError, RuntimeError, ValueError) as exc:
                self._failed = str(exc)
        if self._failed is not None:
            return self._failed
        if cell in self._reasons:
            return self._reasons[cell]
        if cell not in self._ready or self._worker is None:
            return f"the base worker was not asked for {cell}"
        return Remote(f"{cell}@{self.spec}", cell, self._queries, self._worker)

    def _start(self, cells: Sequence[str], queries: Sequence[str]) -> None:
        self._scratch = Path(tempfile.mkdtemp(prefix="accel-base-"))
        root = extract(self.spec, self.rootdir, self._scratch / "tree")
        if (root / "accel").is_dir() and not (root / "accel/plugin/base_worker.py").is_file():
            raise BaseCodeError(f"the base's accel ({root / 'accel'}) has no base worker (older)")
        config = self.config
        if config is not None and config.resolve().is_relative_to(self.rootdir.resolve()):
            config = root / config.resolve().relative_to(self.rootdir.resolve())
            if not config.is_file():
                raise BaseCodeError(f"the base has no configuration file {config.name}")
        path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)
        # Not `python -m`: that puts the working directory (the head's checkout) first on
        # sys.path, and the worker would import the head's accel. The base's tree goes first.
        self._worker = subprocess.Popen(
            [sys.executable, "-c", _RUN_WORKER, str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ | {"PYTHONPATH": path, CACHE_ONLY_ENV: "1"},
        )
        self._queries = tuple(queries)
        start: dict[str, Any] = {"protocol": PROTOCOL, "config": str(config) if config else None}
        start |= {"options": self.options, "cells": list(cells), "queries": list(queries)}
        answer = _ask(self._worker, start)
        if answer.get("protocol") != PROTOCOL:
            raise BaseCodeError(
                f"the base's worker speaks protocol {answer.get('protocol')}, this accel "
                f"{PROTOCOL}: the two time differently, so the base cannot be timed"
            )
        if "error" in answer:
            raise RuntimeError(f"the base worker: {answer['error']}")
        source = Path(answer.get("source") or "")
        if (root / "accel").is_dir() and not source.resolve().is_relative_to(root.resolve()):
            raise BaseCodeError(f"the base worker imported accel from {source}, not from {root}")
        self._ready, self._reasons = frozenset(answer["ready"]), dict(answer["reasons"])

    @contextmanager
    def same_core(self) -> Iterator[None]:
        """Run this process and the worker on one CPU, the quietest, while the block lasts
        (Linux; elsewhere nothing changes). Left free on an idle 2-core machine, the two sat
        on different cores, and ort-int8's A/A ratio spread 6.6% (SD); pinned, 1.7%
        (docs/latency-decision.md, "Base against head for code")."""
        worker = self._worker
        if worker is None or not hasattr(os, "sched_setaffinity"):
            yield
            return
        mine, theirs = os.sched_getaffinity(0), os.sched_getaffinity(worker.pid)
        cpu = {quiet_cpu(mine & theirs or mine)}
        os.sched_setaffinity(0, cpu)
        os.sched_setaffinity(worker.pid, cpu)
        try:
            yield
        finally:
            os.sched_setaffinity(0, mine)
            with suppress(ProcessLookupError):
                os.sched_setaffinity(worker.pid, theirs)

    def close(self) -> None:
        """Stop the worker and remove the extracted tree."""
        worker, self._worker = self._worker, None
        if worker is not None:
            _close(worker.stdin)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            _close(worker.stdout)
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


def _close(stream: IO[str] | None) -> None:
    if stream is not None:
        stream.close()
