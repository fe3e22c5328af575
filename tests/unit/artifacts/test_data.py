from __future__ import annotations

import json
import os
from pathlib import Path

import datasets
import pytest

from accel.artifacts.data import (
    CLINC_PATH_ENV,
    DataError,
    data_fingerprint,
    intent_names,
    load_clinc,
)
from tests.conftest import write_oos_eval


def test_local_file_builds_plus_splits(tmp_path: Path) -> None:
    data = load_clinc(write_oos_eval(tmp_path / "d.json"))
    assert {k: len(v) for k, v in data.items()} == {"train": 7, "validation": 7, "test": 8}
    assert intent_names(data) == ["balance", "oos", "transfer", "weather"]
    test = data["test"]
    names = intent_names(data)
    assert [names[i] for i in test["intent"]][-2:] == ["oos", "oos"]
    assert test["text"][-1] == "test oos b"


def test_env_variable_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CLINC_PATH_ENV, str(write_oos_eval(tmp_path / "d.json")))
    assert len(load_clinc()["test"]) == 8


def test_fingerprint_depends_on_content_not_path(tmp_path: Path) -> None:
    a = load_clinc(write_oos_eval(tmp_path / "a.json"))
    b = load_clinc(write_oos_eval(tmp_path / "b.json"))
    c = load_clinc(write_oos_eval(tmp_path / "c.json", per_intent=3))
    assert data_fingerprint(a) == data_fingerprint(b) != data_fingerprint(c)


def test_no_source_names_both_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CLINC_PATH_ENV, raising=False)

    def offline(*_: object, **__: object) -> None:
        raise ConnectionError("hub unreachable")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError) as err:
        load_clinc()
    message = str(err.value)
    assert (
        CLINC_PATH_ENV in message and "clinc_oos/plus" in message and "hub unreachable" in message
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"train": []}', "missing key 'oos_train'"),
    ],
)
def test_bad_files_are_named(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=expected) as err:
        load_clinc(path)
    assert str(path) in str(err.value)


def test_bad_row_is_named(tmp_path: Path) -> None:
    path = write_oos_eval(tmp_path / "d.json")
    doc = json.loads(path.read_text())
    doc["test"][1] = ["text only"]
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=r"test\[1\] must be \[text, intent\]"):
        load_clinc(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_clinc(tmp_path / "nope.json")


@pytest.mark.skipif(not os.environ.get(CLINC_PATH_ENV), reason=f"${CLINC_PATH_ENV} is not set")
def test_real_clinc_plus_sizes() -> None:
    data = load_clinc()
    assert {k: len(v) for k, v in data.items()} == {
        "train": 15250,
        "validation": 3100,
        "test": 5500,
    }
    names = intent_names(data)
    assert len(names) == 151 and "oos" in names
