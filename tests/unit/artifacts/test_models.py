from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from datasets import DatasetDict

from accel.artifacts.data import load_clinc
from accel.artifacts.models import Classifier, ModelError
from accel.training.finetune import TrainConfig
from accel.training.teacher import _looks_like_path, load_classifier, teacher_key
from tests.conftest import write_oos_eval


@pytest.fixture()
def small_data(tmp_path: Path) -> DatasetDict:
    return load_clinc(write_oos_eval(tmp_path / "d.json"))


def test_checkpoint_with_unknown_labels_is_rejected(
    tiny_classifier: Classifier, tmp_path: Path, small_data: DatasetDict
) -> None:
    tiny_classifier.model.save_pretrained(tmp_path / "ckpt")
    tiny_classifier.tokenizer.save_pretrained(tmp_path / "ckpt")
    with pytest.raises(ModelError) as err:
        load_classifier(str(tmp_path / "ckpt"), small_data)
    assert "timer" in str(err.value)  # the tiny model's label absent from the data


def test_checkpoint_with_known_labels_loads(tiny_classifier: Classifier, tmp_path: Path) -> None:
    tiny_classifier.model.save_pretrained(tmp_path / "ckpt")
    tiny_classifier.tokenizer.save_pretrained(tmp_path / "ckpt")
    path = write_oos_eval(tmp_path / "d.json")
    doc = json.loads(path.read_text())
    doc["test"].append(["set a timer", "timer"])  # every tiny label is now a known intent
    path.write_text(json.dumps(doc))
    loaded = load_classifier(str(tmp_path / "ckpt"), load_clinc(path))
    assert loaded.labels == tiny_classifier.labels
    assert loaded.fingerprint == tiny_classifier.fingerprint


def test_missing_checkpoint_is_a_clear_error(small_data: DatasetDict, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="Could not load the classifier") as err:
        load_classifier(str(tmp_path / "nowhere"), small_data)
    assert f"directory {tmp_path / 'nowhere'} does not exist" in str(err.value)
    assert "hub" not in str(err.value).split(".")[0]  # not reported as a malformed hub id


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ("./ckpt", True),
        ("~/ckpt", True),
        ("/abs/ckpt", True),
        ("runs/a/ckpt", True),
        ("win\\ckpt", True),
        ("owner/model", False),
        ("model", False),
    ],
)
def test_path_looking_specs(spec: str, path: bool) -> None:
    assert _looks_like_path(spec) is path


def test_relative_path_under_an_existing_folder_is_a_path(
    small_data: DatasetDict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "runs").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match="directory runs/ckpt does not exist"):
        load_classifier("runs/ckpt", small_data)


def test_label_mismatch_is_listed_both_ways(tiny_classifier: Classifier, tmp_path: Path) -> None:
    tiny_classifier.model.save_pretrained(tmp_path / "ckpt")
    tiny_classifier.tokenizer.save_pretrained(tmp_path / "ckpt")
    path = write_oos_eval(tmp_path / "d.json")
    doc = json.loads(path.read_text())
    doc["test"].append(["wake me up", "alarm"])  # a label the tiny model cannot predict
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelError) as err:
        load_classifier(str(tmp_path / "ckpt"), load_clinc(path))
    message = str(err.value)
    assert "['timer']" in message and "['alarm']" in message
    assert "dataset's labels" in message and "CLINC150" not in message


def test_teacher_key_depends_on_data(tmp_path: Path, small_data: DatasetDict) -> None:
    other = load_clinc(write_oos_eval(tmp_path / "other.json", per_intent=3))
    assert teacher_key(small_data) == teacher_key(small_data) != teacher_key(other)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"epochs": 0}, "epochs"),
        ({"learning_rate": 2.0}, "learning_rate"),
        ({"threads": 0}, "threads"),
    ],
)
def test_train_config_validates(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"`{field}`"):
        TrainConfig(**kwargs)
