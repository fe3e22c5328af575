from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from accel.artifacts.cache import (
    CACHE_ENV,
    CACHE_ONLY_ENV,
    CacheMiss,
    CacheWarning,
    cache_root,
    cached_dir,
    fingerprint,
    write_atomic,
    write_json_atomic,
    write_text_atomic,
)
from accel.artifacts.entries import MANIFEST, VERIFY_ENV, content_digest, entry_problem


def test_fingerprint_is_order_independent() -> None:
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


@pytest.fixture()
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    monkeypatch.delenv(VERIFY_ENV, raising=False)
    return tmp_path


def test_built_once(private_cache: Path) -> None:
    calls = []

    def build(out: Path) -> None:
        calls.append(out)
        (out / "x").write_text("done")

    first = cached_dir("kind", "key1", build)
    second = cached_dir("kind", "key1", build)
    assert first == second == cache_root() / "kind" / "key1"
    assert len(calls) == 1 and (first / "x").read_text() == "done"


def test_a_cache_only_process_reads_entries_and_builds_none(
    private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def build(out: Path) -> None:
        (out / "x").write_text("done")

    built = cached_dir("kind", "there", build)
    monkeypatch.setenv(CACHE_ONLY_ENV, "1")
    assert cached_dir("kind", "there", build) == built
    with pytest.raises(CacheMiss, match=r"kind/missing is not in the cache .*ACCEL_CACHE_ONLY"):
        cached_dir("kind", "missing", build)
    assert not (cache_root() / "kind" / "missing").exists()
    monkeypatch.setenv(CACHE_ONLY_ENV, "0")  # "0" and "" mean off
    assert (cached_dir("kind", "missing", build) / "x").read_text() == "done"


def test_interrupted_build_leaves_nothing(private_cache: Path) -> None:
    def build(out: Path) -> None:
        (out / "partial").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cached_dir("kind", "key2", build)
    assert not (cache_root() / "kind" / "key2").exists()
    assert list((cache_root() / "kind").glob(".*")) == []


def test_atomic_text_write_replaces_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "f.json"
    write_text_atomic(path, "one")
    write_text_atomic(path, "two")
    assert path.read_text() == "two"
    assert [p.name for p in path.parent.iterdir()] == ["f.json"]


def test_atomic_write_publishes_what_the_writer_wrote_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "f.bin"
    write_atomic(path, lambda tmp: tmp.write_bytes(b"\x00\x01"))
    assert path.read_bytes() == b"\x00\x01"
    assert path.stat().st_mode & 0o777 == 0o644

    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, broken)
    assert path.read_bytes() == b"\x00\x01"
    assert [p.name for p in path.parent.iterdir()] == ["f.bin"]


def test_atomic_json_write_is_sorted_indented_and_ends_in_a_newline(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    write_json_atomic(path, {"b": 1, "a": [2]})
    assert path.read_text() == '{\n  "a": [\n    2\n  ],\n  "b": 1\n}\n'


def _files(out: Path) -> None:
    (out / "a.bin").write_bytes(b"\x00" * 1000)
    (out / "sub").mkdir()
    (out / "sub" / "b.txt").write_text("bee")


def test_manifest_records_what_built_the_entry(private_cache: Path) -> None:
    record = {"recipe": {"epochs": 2}, "code": "c0de", "versions": {"torch": "2.13"}}
    entry = cached_dir("kind", "k", _files, record=record)
    manifest = json.loads((entry / MANIFEST).read_text())
    assert manifest["kind"] == "kind" and manifest["key"] == "k"
    assert manifest["record"] == record
    assert manifest["size"] == 1003 and manifest["file_count"] == 2
    assert set(manifest["files"]) == {"a.bin", "sub/b.txt"}
    assert manifest["digest"] == content_digest(manifest["files"])
    assert manifest["created"].endswith("+00:00")
    assert entry_problem(entry) is None


def test_a_record_that_is_not_json_fails_before_the_build(private_cache: Path) -> None:
    def build(out: Path) -> None:
        raise AssertionError("built")

    with pytest.raises(TypeError):
        cached_dir("kind", "k", build, record={"x": object()})


def test_a_build_may_not_write_the_manifest_name(private_cache: Path) -> None:
    with pytest.raises(ValueError, match=MANIFEST):
        cached_dir("kind", "k", lambda out: (out / MANIFEST).write_text("{}"))
    assert not (private_cache / "kind" / "k").exists()


def _corrupt(entry: Path) -> None:
    (entry / "a.bin").write_bytes(b"\x01" + b"\x00" * 999)  # same size, other bytes


def _truncate(entry: Path) -> None:
    (entry / "a.bin").write_bytes(b"\x00")


def _delete_file(entry: Path) -> None:
    (entry / "sub" / "b.txt").unlink()


def _add_file(entry: Path) -> None:
    (entry / "stray").write_text("x")


def _delete_manifest(entry: Path) -> None:
    (entry / MANIFEST).unlink()


def _garble_manifest(entry: Path) -> None:
    (entry / MANIFEST).write_text("{")


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (_corrupt, "a.bin whose content differs"),
        (_truncate, "a.bin of 1 bytes, recorded as 1000"),
        (_delete_file, "missing 1 file(s): sub/b.txt"),
        (_add_file, "does not list: stray"),
        (_delete_manifest, "has no manifest"),
        (_garble_manifest, "unreadable manifest"),
    ],
)
def test_a_damaged_entry_is_named_and_rebuilt(
    private_cache: Path, damage: Callable[[Path], None], said: str
) -> None:
    calls = []

    def build(out: Path) -> None:
        calls.append(out)
        _files(out)

    entry = cached_dir("kind", "k", build)
    damage(entry)
    with pytest.warns(CacheWarning, match=re.escape(f"{entry} ")) as caught:
        again = cached_dir("kind", "k", build)
    assert said in str(caught[0].message) and "building it anew" in str(caught[0].message)
    assert again == entry and len(calls) == 2
    assert entry_problem(entry) is None and (entry / "a.bin").read_bytes() == b"\x00" * 1000
    assert sorted(p.name for p in (private_cache / "kind").iterdir()) == ["k"]


def test_sizes_mode_skips_hashing(private_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = cached_dir("kind", "k", _files)
    _corrupt(entry)
    monkeypatch.setenv(VERIFY_ENV, "sizes")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cached_dir("kind", "k", _files) == entry  # same names and sizes: not hashed
    assert entry_problem(entry, full=False) is None and entry_problem(entry) is not None
    monkeypatch.setenv(VERIFY_ENV, "everything")
    with pytest.raises(ValueError, match=VERIFY_ENV):
        cached_dir("kind", "k", _files)


def test_rebuild_replaces_a_valid_entry(private_cache: Path) -> None:
    calls = []

    def build(out: Path) -> None:
        calls.append(out)
        (out / "n").write_text(str(len(calls)))

    entry = cached_dir("kind", "k", build)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a rebuild on request is no warning
        again = cached_dir("kind", "k", build, rebuild=True)
    assert again == entry and (entry / "n").read_text() == "2" and entry_problem(entry) is None
    assert cached_dir("kind", "k", build) == entry and len(calls) == 2


def test_no_lock_or_temporary_file_is_left_behind(private_cache: Path) -> None:
    cached_dir("kind", "k", _files)
    cached_dir("kind", "k", _files, rebuild=True)
    assert [p.name for p in (private_cache / "kind").iterdir()] == ["k"]
