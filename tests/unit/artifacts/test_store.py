"""Usage records and `accel cache list | verify | prune` on a private cache."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from accel.artifacts.cache import cached_dir
from accel.artifacts.entries import MANIFEST
from accel.artifacts.locking import entry_lock, lock_path
from accel.artifacts.store import entry_id, read_uses, record_use, safe_cell_name, users
from accel.cli import main


def _fill(size: int) -> Callable[[Path], None]:
    def build(out: Path) -> None:
        (out / "model.bin").write_bytes(b"m" * size)

    return build


@pytest.fixture()
def cache(tmp_path: Path) -> Path:
    """Three entries: the teacher and onnx graph used by two cells, and an orphaned student."""
    root = tmp_path / "cache"
    teacher = cached_dir("teacher", "t" * 64, _fill(2_000_000), root)
    graph = cached_dir("onnx", "o" * 64, _fill(1_000_000), root)
    cached_dir("student", "s" * 64, _fill(3_000_000), root)
    record_use("fp32/cpu", [teacher], root)
    record_use("ort-int8/cpu", [teacher, graph / "model.bin"], root)
    return root


def test_usage_records_name_entries_by_kind_and_key(cache: Path) -> None:
    assert read_uses(cache) == {
        "fp32/cpu": ["teacher/" + "t" * 64],
        "ort-int8/cpu": ["onnx/" + "o" * 64, "teacher/" + "t" * 64],
    }
    assert users(cache)["teacher/" + "t" * 64] == ["fp32/cpu", "ort-int8/cpu"]
    assert safe_cell_name("ort-int8/cpu") == "ort-int8_cpu"
    doc = json.loads((cache / "uses" / "fp32_cpu.json").read_text())
    assert doc["cell"] == "fp32/cpu" and doc["recorded"].endswith("+00:00")
    assert entry_id("onnx/abc", cache) == "onnx/abc"
    assert entry_id(Path("/elsewhere/onnx/abc"), cache) == "onnx/abc"
    record_use("fp32/cpu", [], cache)  # the latest build replaces the record
    assert read_uses(cache)["fp32/cpu"] == []


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(["cache", *argv])
    return status, capsys.readouterr().out


def test_list_shows_each_entry_its_users_and_status(
    cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cache / "onnx" / ("o" * 64) / "model.bin").write_bytes(b"x")
    status, out = _run(capsys, "list", "--cache-dir", str(cache))
    lines = out.splitlines()
    assert status == 0
    assert lines[0].split() == ["kind", "key", "size", "age", "used", "by", "status"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert "o" * 12 in rows["onnx"] and "ort-int8/cpu" in rows["onnx"]
    assert "model.bin of 1 bytes" in rows["onnx"]
    assert "2.0 MB" in rows["teacher"] and "fp32/cpu,ort-int8/cpu" in rows["teacher"]
    assert "  -  " in rows["student"] and rows["student"].endswith("ok")


def test_list_reads_the_environments_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACCEL_CACHE_DIR", str(tmp_path))
    assert _run(capsys, "list") == (0, "the cache is empty\n")


def test_verify_names_each_bad_entry_and_fix_removes_them(
    cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    teacher, student = cache / "teacher" / ("t" * 64), cache / "student" / ("s" * 64)
    assert _run(capsys, "verify", "--cache-dir", str(cache)) == (0, "verified 3 entries: 0 bad\n")
    (teacher / "model.bin").write_bytes(b"M" + b"m" * 1_999_999)
    (student / MANIFEST).unlink()
    status, out = _run(capsys, "verify", "--cache-dir", str(cache))
    assert status == 1
    assert f"BAD {teacher}: has model.bin whose content differs" in out
    assert f"BAD {student}: has no manifest" in out and "2 bad" in out
    assert teacher.exists() and student.exists()
    status, out = _run(capsys, "verify", "--cache-dir", str(cache), "--fix")
    assert status == 1 and out.count("(removed)") == 2
    assert not teacher.exists() and not student.exists()
    assert _run(capsys, "verify", "--cache-dir", str(cache)) == (0, "verified 1 entries: 0 bad\n")


def test_prune_removes_what_no_cell_uses_and_leftovers(
    cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    student = cache / "student" / ("s" * 64)
    stray = cache / "onnx" / f".{'o' * 64}.build.abc123"
    stray.mkdir()
    (stray / "half").write_bytes(b"h" * 500_000)
    lock_path(cache / "teacher" / "old").touch()  # left by a killed build
    status, out = _run(capsys, "prune", "--cache-dir", str(cache), "--dry-run")
    assert status == 0
    assert f"would remove {student} (used by no cell, 3.0 MB)" in out
    assert f"would remove {stray} (stray temporary directory, 0.5 MB)" in out
    assert "old.lock (lock file of a finished build" in out
    assert "would remove 3 item(s), 3.5 MB" in out
    assert student.exists() and stray.exists() and lock_path(cache / "teacher" / "old").exists()
    status, out = _run(capsys, "prune", "--cache-dir", str(cache))
    assert status == 0 and "removed 3 item(s), 3.5 MB" in out
    assert sorted(p.name for p in (cache / "student").iterdir()) == []
    assert sorted(os.listdir(cache / "onnx")) == ["o" * 64]
    assert sorted(os.listdir(cache / "teacher")) == ["t" * 64]


def test_prune_leaves_an_entry_being_built(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    student = cache / "student" / ("s" * 64)
    building = cache / "student" / f".{'n' * 64}.build.xyz"
    building.mkdir()
    with entry_lock(student), entry_lock(cache / "student" / ("n" * 64)):
        status, out = _run(capsys, "prune", "--cache-dir", str(cache))
    assert status == 0 and "removed 0 item(s)" in out
    assert student.exists() and building.exists()


def test_prune_refuses_without_usage_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cached_dir("student", "s", _fill(10), tmp_path)
    assert main(["cache", "prune", "--cache-dir", str(tmp_path)]) == 1
    assert "no usage records" in capsys.readouterr().err
    assert (tmp_path / "student" / "s").exists()


def test_an_unreadable_usage_record_stops_prune(
    cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cache / "uses" / "bad.json").write_text("{")
    assert main(["cache", "prune", "--cache-dir", str(cache)]) == 1
    assert "unreadable usage record" in capsys.readouterr().err
    assert (cache / "student" / ("s" * 64)).exists()


def test_every_cache_option_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for action, option in (("list", "--full"), ("verify", "--fix"), ("prune", "--dry-run")):
        with pytest.raises(SystemExit):
            main(["cache", action, "--help"])
        text = capsys.readouterr().out
        assert "--cache-dir" in text and "ACCEL_CACHE_DIR" in text and option in text
