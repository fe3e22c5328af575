"""Reused accuracy passes: read back exactly, keyed on everything that shapes the outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from transformers import AutoTokenizer

from accel.artifacts.cache import CacheWarning
from accel.artifacts.data import load_clinc
from accel.artifacts.models import Classifier, encoder_dir
from accel.artifacts.store import read_uses
from accel.matrix import Matrix, RunConfig
from accel.measure.behaviour import Outputs
from accel.measure.predictors import TorchPredictor
from accel.measure.records import Cell
from accel.measure.reuse import (
    ACCURACY_PASS_SECONDS,
    OUTPUTS,
    OUTPUTS_REUSED,
    OutputsPlan,
    accuracy_pass,
    plan_outputs,
    reused_outputs,
    tokenizer_digest,
)
from accel.techniques import builtin_registry
from accel.techniques.pytorch import build_fp32, build_torch_int8
from tests.conftest import write_oos_eval

TEXTS = ["what is my balance", "send money to mom", "will it rain", "set a timer", "hi"]


def _predictor(tiny_classifier: Classifier) -> TorchPredictor:
    c = tiny_classifier
    return TorchPredictor("tiny", c.model, c.tokenizer, c.labels)


def _pass(tiny_classifier: Classifier, root: Path, **change: Any) -> tuple[Outputs, dict]:
    """The outputs and figures of one accuracy pass of the tiny model (cache under ``root``)."""
    args: dict[str, Any] = {
        "build": build_fp32,
        "artifacts": (),
        "reference": tiny_classifier,
        "batch_size": 2,
        "device": "cpu",
        "threads": 1,
        "root": root,
    } | change
    texts = args.pop("texts", TEXTS)
    done = accuracy_pass(_predictor(tiny_classifier), texts, **args)
    assert done.entry.startswith(f"{OUTPUTS}/") and (root / done.entry).is_dir()
    return done.outputs, done.figures


def test_a_second_pass_reads_the_same_outputs_back(
    tiny_classifier: Classifier, tmp_path: Path
) -> None:
    first, how = _pass(tiny_classifier, tmp_path)
    assert set(how) == {ACCURACY_PASS_SECONDS}
    again, how = _pass(tiny_classifier, tmp_path)
    assert how == {OUTPUTS_REUSED: 1.0}
    assert again.labels == first.labels and again.classes == first.classes
    assert first.probabilities is not None and again.probabilities is not None
    np.testing.assert_array_equal(again.probabilities, first.probabilities)
    assert len([p for p in (tmp_path / OUTPUTS).iterdir() if p.is_dir()]) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"texts": [*TEXTS[:-1], "hello"]},
        {"batch_size": 3},  # another padding
        {"threads": 2},
        {"build": build_torch_int8},  # other code builds the cell
    ],
    ids=["texts", "batch size", "threads", "builder code"],
)
def test_any_change_measures_afresh(
    tiny_classifier: Classifier, tmp_path: Path, change: dict[str, Any]
) -> None:
    _pass(tiny_classifier, tmp_path)
    _, how = _pass(tiny_classifier, tmp_path, **change)
    assert set(how) == {ACCURACY_PASS_SECONDS}


def test_the_key_covers_the_model_the_tokenizer_and_the_machine(
    tiny_classifier: Classifier,
) -> None:
    predictor = _predictor(tiny_classifier)
    base: dict[str, Any] = {
        "predictor": predictor,
        "build": build_fp32,
        "artifacts": ["a"],
        "reference": {"weights": "w", "definition": "d", "config": "c"},
        "texts": TEXTS,
        "batch_size": 2,
        "machine": {"cpu": "x", "isa": ["avx2"]},
    }
    key = plan_outputs(**base).key
    assert plan_outputs(**base).key == key  # stable
    changes: list[dict[str, Any]] = [
        {"artifacts": ["b"]},
        {"reference": {"weights": "w2", "definition": "d", "config": "c"}},
        {"reference": {"weights": "w", "definition": "d", "config": "c2"}},
        {"machine": {"cpu": "x", "isa": ["avx2", "avx512_vnni"]}},
        {"predictor": TorchPredictor("tiny", predictor.model, predictor.tokenizer, ["x"] * 5)},
    ]
    keys = {plan_outputs(**(base | change)).key for change in changes}
    assert key not in keys and len(keys) == len(changes)


def test_the_tokenizer_digest_follows_its_pipeline() -> None:
    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir()))  # not the session's one
    before = tokenizer_digest(tokenizer)
    assert tokenizer_digest(AutoTokenizer.from_pretrained(str(encoder_dir()))) == before
    tokenizer(["a call sets padding and truncation"], padding=True, truncation=True, max_length=8)
    assert tokenizer_digest(tokenizer) == before
    tokenizer.add_tokens(["zzzunseenzzz"])
    assert tokenizer_digest(tokenizer) != before


def test_fresh_measures_again_and_replaces_the_entry(tmp_path: Path) -> None:
    calls: list[int] = []

    def compute() -> Outputs:
        calls.append(1)
        return Outputs(("a", "b"), np.array([[0.9, 0.1], [0.2, 0.8]], np.float32), ("a", "b"))

    plan = OutputsPlan("k" * 64, {"what": "test"})
    assert reused_outputs(plan, compute, root=tmp_path)[1] is False
    assert reused_outputs(plan, compute, root=tmp_path)[1] is True
    assert reused_outputs(plan, compute, root=tmp_path, fresh=True)[1] is False
    assert len(calls) == 2


def test_a_damaged_entry_is_measured_again_with_a_warning(tmp_path: Path) -> None:
    plan = OutputsPlan("d" * 64, {})
    outputs = Outputs(("a",), np.array([[1.0]], np.float32), ("a",))
    reused_outputs(plan, lambda: outputs, root=tmp_path)
    (tmp_path / OUTPUTS / plan.key / "labels.json").write_text('["b"]', encoding="utf-8")
    with pytest.warns(CacheWarning, match="labels.json"):
        again, reused = reused_outputs(plan, lambda: outputs, root=tmp_path)
    assert not reused and again.labels == ("a",)


def test_a_matrix_reuses_an_unchanged_cells_pass_and_not_with_no_reuse(
    tiny_classifier: Classifier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCEL_CACHE_DIR", str(tmp_path / "cache"))
    data = load_clinc(write_oos_eval(tmp_path / "tiny.json"))

    def run(**config: Any) -> Matrix:
        m = Matrix(RunConfig(serving=False, scaling=False, **config), builtin_registry())
        m.__dict__["data"], m.__dict__["reference"] = data, tiny_classifier
        m.score(Cell("torch-int8", "cpu"))
        return m

    first, second, third = run(), run(), run(reuse=False)
    cell = "torch-int8/cpu"
    assert set(first._accuracy_pass[cell]) == {ACCURACY_PASS_SECONDS}
    assert second._accuracy_pass[cell] == {OUTPUTS_REUSED: 1.0}
    assert set(third._accuracy_pass[cell]) == {ACCURACY_PASS_SECONDS}
    assert first._scores[cell] == second._scores[cell] == third._scores[cell]
    used = read_uses(tmp_path / "cache")[cell]  # `accel cache prune` keeps the outputs
    assert sum(e.startswith(f"{OUTPUTS}/") for e in used) == 1
