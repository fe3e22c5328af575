from __future__ import annotations

from pathlib import Path

import pytest

from accel.artifacts.cache import (
    CACHE_ENV,
    cache_root,
    cached_dir,
    fingerprint,
    write_atomic,
    write_json_atomic,
    write_text_atomic,
)


def test_fingerprint_is_order_independent() -> None:
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


@pytest.fixture()
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
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
