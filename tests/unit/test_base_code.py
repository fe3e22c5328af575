"""Base against head for code: the base tree, the worker's protocol, the reasons it gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import psutil
import pytest

import accel
from accel.artifacts.cache import CACHE_ENV, CACHE_ONLY_ENV
from accel.plugin import base_code
from accel.plugin.base_code import (
    BaseCode,
    BaseCodeError,
    Remote,
    check_base,
    extract,
    quiet_cpu,
)
from accel.plugin.base_worker import PROTOCOL
from tests.conftest import TINY_LABELS, tiny_model

QUERIES = ["what is my balance", "set a timer", "x"]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A git repository whose one commit has ``project/module.py`` saying "base"."""
    root = tmp_path / "repo"
    (root / "project").mkdir(parents=True)
    (root / "project" / "module.py").write_text("WHO = 'base'\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    return root


def test_the_base_is_a_revision_or_a_directory(repo: Path, tmp_path: Path) -> None:
    check_base("HEAD", repo)
    check_base(str(tmp_path), repo)  # a checkout of the base, made by the CI system
    with pytest.raises(BaseCodeError, match=r"--accel-base 'no-such-branch': not a directory.*"
                       r"give a branch, tag or commit \(origin/main\)"):
        check_base("no-such-branch", repo)
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    with pytest.raises(BaseCodeError, match="not a commit of the git repository"):
        check_base("HEAD", outside)


def test_the_base_tree_is_the_commit_not_the_working_tree(repo: Path, tmp_path: Path) -> None:
    (repo / "project" / "module.py").write_text("WHO = 'head'\n")  # uncommitted: the head
    tree = extract("HEAD", repo, tmp_path / "base")
    assert (tree / "project" / "module.py").read_text() == "WHO = 'base'\n"
    # A rootdir below the repository's top maps to the same folder of the base's tree.
    sub = extract("HEAD", repo / "project", tmp_path / "base2")
    assert sub == tmp_path / "base2" / "project" and (sub / "module.py").is_file()
    assert extract(str(tmp_path), repo, tmp_path / "unused") == tmp_path.resolve()


def test_a_base_older_than_the_worker_is_a_reason(tmp_path: Path) -> None:
    (tmp_path / "old" / "accel").mkdir(parents=True)
    (tmp_path / "old" / "accel" / "__init__.py").write_text("")
    base = BaseCode(str(tmp_path / "old"), tmp_path, None, {})
    first = base.side("ort-int8/cpu", ["ort-int8/cpu"], QUERIES)
    assert isinstance(first, str) and "has no base worker" in first
    assert base.side("fp32/cpu", ["fp32/cpu"], QUERIES) == first  # decided once
    base.close()


def test_a_base_whose_worker_speaks_an_older_protocol_is_a_reason(tmp_path: Path) -> None:
    """A protocol-1 worker times every block from the first query: the head must not use it.
    Run from the head's checkout (pytest's working directory), the worker is still the base's."""
    plugin = tmp_path / "old" / "accel" / "plugin"
    plugin.mkdir(parents=True)
    for package in (plugin.parent, plugin):
        (package / "__init__.py").write_text("")
    (plugin / "base_worker.py").write_text(
        "import json, sys\nsys.stdin.readline()\n"
        "print(json.dumps({'protocol': 1, 'error': 'protocol 2 unknown'}), flush=True)\n"
    )
    base = BaseCode(str(tmp_path / "old"), tmp_path, None, {})
    found = base.side("ort-int8/cpu", ["ort-int8/cpu"], QUERIES)
    assert isinstance(found, str) and f"speaks protocol 1, this accel {PROTOCOL}" in found
    base.close()


def test_a_base_without_the_heads_config_file_is_a_reason(tmp_path: Path) -> None:
    (tmp_path / "head").mkdir()
    (tmp_path / "base").mkdir()
    config = tmp_path / "head" / "accel.toml"
    config.write_text("threads = 1\n")
    base = BaseCode(str(tmp_path / "base"), tmp_path / "head", config, {})
    assert base.side("fp32/cpu", ["fp32/cpu"], QUERIES) == (
        "the base has no configuration file accel.toml"
    )
    base.close()


def test_a_remote_side_times_only_the_queries_it_was_given() -> None:
    remote = Remote("fp32/cpu@main", "fp32/cpu", tuple(QUERIES), cast(Any, None))
    with pytest.raises(ValueError, match="other latency queries"):
        remote.time_block(QUERIES[:1], 3)


def tiny_data(path: Path) -> Path:
    """An oos-eval JSON whose intents are the tiny model's labels."""
    intents = [n for n in TINY_LABELS if n != "oos"]
    splits = ("train", "val", "test")
    doc: dict[str, Any] = {
        s: [[f"{s} {i} {n}", i] for i in intents for n in (1, 2)] for s in splits
    }
    doc |= {f"oos_{s}": [[f"{s} oos {n}", "oos"] for n in range(2)] for s in splits}
    path.write_text(json.dumps(doc))
    return path


def _session(start: dict[str, Any], *asks: dict[str, Any]) -> list[dict[str, Any]]:
    """One session of a real worker process (this tree's code, this environment)."""
    requests = "".join(json.dumps(m) + "\n" for m in (start, *asks))
    done = subprocess.run(
        [sys.executable, "-m", "accel.plugin.base_worker"],
        input=requests, capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.slow  # builds three cells of the tiny model (~10 s)
def test_the_worker_builds_from_the_cache_only_and_times_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's protocol, in a worker process: a cell whose artifact the cache lacks is a
    reason (CacheMiss), never a build, once ``$ACCEL_CACHE_ONLY`` is set."""
    model = tiny_model()
    model.model.save_pretrained(tmp_path / "tiny")
    model.tokenizer.save_pretrained(tmp_path / "tiny")
    data = tiny_data(tmp_path / "data.json")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    options = {"model": str(tmp_path / "tiny"), "data": str(data), "threads": 1}
    start = {"protocol": PROTOCOL, "config": None, "options": options, "queries": QUERIES}
    ready, timed = _session(start | {"cells": ["fp32/cpu", "ort-fp32/cpu"]}, {
        "cell": "ort-fp32/cpu", "n": 4, "start": 3})
    assert ready == {
        "protocol": PROTOCOL,
        "ready": ["fp32/cpu", "ort-fp32/cpu"],
        "reasons": {},
        "source": accel.__file__,
    }
    assert len(timed["times"]) == 4 and all(t > 0 for t in timed["times"])

    monkeypatch.setenv(CACHE_ONLY_ENV, "1")
    cells = ["fp32/cpu", "ort-fp32/cpu", "ort-int8/cpu", "nope/cpu"]
    (answer,) = _session(start | {"cells": cells})
    assert answer["ready"] == ["fp32/cpu", "ort-fp32/cpu"]
    assert answer["reasons"]["nope/cpu"] == "the base code has no technique 'nope'"
    assert answer["reasons"]["ort-int8/cpu"].startswith("CacheMiss: onnx/")
    assert "is not in the cache" in answer["reasons"]["ort-int8/cpu"]
    assert not any((tmp_path / "cache" / "onnx").glob(".*build*"))


def test_the_worker_refuses_another_protocol() -> None:
    (answer,) = _session({"protocol": PROTOCOL + 1})
    assert answer["error"] == f"protocol {PROTOCOL + 1} unknown"


def test_base_and_head_go_to_the_quietest_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    def percent(busy: list[float]) -> Any:
        return lambda interval, percpu: busy

    monkeypatch.setattr(psutil, "cpu_percent", percent([12.0, 3.0]))
    assert quiet_cpu({0, 1}) == 1
    assert quiet_cpu({0}) == 0
    monkeypatch.setattr(psutil, "cpu_percent", percent([97.0, 99.0, 4.0]))
    assert quiet_cpu({0, 1, 2}) == 2


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity"),
    reason="CPU affinity (os.sched_setaffinity) exists on Linux only; elsewhere same_core "
    "pins nothing, so there is nothing to check",
)
def test_base_and_head_share_one_cpu_while_timed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = os.sched_getaffinity(0)
    monkeypatch.setattr(base_code, "quiet_cpu", min)
    base = BaseCode(str(tmp_path), tmp_path, None, {})
    base._worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                    text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    theirs = os.sched_getaffinity(base._worker.pid)
    with base.same_core():
        inside = os.sched_getaffinity(0)
        assert inside == {min(mine & theirs)} == os.sched_getaffinity(base._worker.pid)
    assert os.sched_getaffinity(0) == mine
    assert os.sched_getaffinity(base._worker.pid) == theirs
    base._worker.kill()
    base.close()
