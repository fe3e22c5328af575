from __future__ import annotations

from pathlib import Path

import pytest

from accel.artifacts.cache import CACHE_ENV, cache_root, cached_dir, fingerprint, write_text_atomic


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
