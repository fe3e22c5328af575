"""Two real processes ask for the same entry at once: it is built once and both get it whole."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from accel.artifacts.entries import entry_problem
from accel.artifacts.locking import entry_lock, lock_held, lock_path

REPO = Path(__file__).resolve().parents[3]

# Waits for the start signal, then asks for the entry with a build that writes 5 files slowly
# and appends a line to a counter for every time it runs.
CHILD = """
import sys, time
from pathlib import Path
from accel.artifacts.cache import cached_dir

root, go, counter = map(Path, sys.argv[1:4])
while not go.exists():
    time.sleep(0.01)

def build(out):
    with counter.open("a") as fh:
        fh.write("built\\n")
    for i in range(5):
        (out / f"part{i}").write_text(str(i) * 1000)
        time.sleep(0.1)

print(cached_dir("kind", "shared", build, root))
"""


def test_two_processes_build_one_entry_once(tmp_path: Path) -> None:
    root, go, counter = tmp_path / "cache", tmp_path / "go", tmp_path / "count"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    args = [sys.executable, "-c", CHILD, str(root), str(go), str(counter)]
    children = [
        subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    time.sleep(1.0)  # both are up and polling
    go.touch()
    results = [child.communicate(timeout=60) for child in children]
    assert [child.returncode for child in children] == [0, 0], results
    entry = root / "kind" / "shared"
    assert [out.strip() for out, _ in results] == [str(entry)] * 2
    assert counter.read_text() == "built\n"
    assert entry_problem(entry, full=True) is None
    assert sorted(p.name for p in entry.iterdir()) == [
        "accel-entry.json",
        *(f"part{i}" for i in range(5)),
    ]
    assert [p.name for p in (root / "kind").iterdir()] == ["shared"]


def test_the_lock_is_exclusive_and_removed_on_release(tmp_path: Path) -> None:
    entry = tmp_path / "e"
    with entry_lock(entry) as held:
        assert held and lock_held(entry)
        with entry_lock(entry, blocking=False) as second:
            assert not second  # another open file description: flock excludes it
        assert lock_path(entry).exists()
    assert not lock_path(entry).exists() and not lock_held(entry)
