"""Structured pruning: importance, smaller matrices, a model that runs, saves and loads."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import PreTrainedModel

from accel.artifacts.models import Classifier
from accel.measure.predictors import TorchPredictor
from accel.techniques import BuildContext, builtin_registry
from accel.training.distillation import KDConfig
from accel.training.finetune import TrainConfig
from accel.training.prune_training import StructuredRecipe, train_structured
from accel.training.structured import (
    HEADS_ATTRIBUTE,
    Importance,
    LayerShape,
    Structure,
    importance_scores,
    load_structured,
    prune_structure,
    shape_of,
)

TECHNIQUES = builtin_registry()

TEXTS = ["check my balance", "send money to mom", "is it raining", "set a timer", "hi there"]
LABELS = [1, 2, 3, 4, 0]
BATCH = ["hi", "what is the balance of my checking account right now", "set a timer", "🙂"]


def _logits(clf: Classifier, model: PreTrainedModel) -> torch.Tensor:
    enc = clf.tokenizer(BATCH, padding=True, return_tensors="pt")
    with torch.inference_mode():
        return model(**enc).logits


@pytest.fixture()
def wide(tiny_classifier: Classifier) -> PreTrainedModel:
    """A copy of the tiny model with 4 heads of 8 dimensions (hidden 32) to choose from."""
    model = copy.deepcopy(tiny_classifier.model)
    model.config.num_attention_heads = 4
    for layer in model.bert.encoder.layer:
        layer.attention.self.attention_head_size = 8
        layer.attention.self.num_attention_heads = 4
        layer.attention.self.scaling = 8**-0.5
    return model.eval()


def test_importance_scores_every_head_and_neuron(
    tiny_classifier: Classifier, wide: PreTrainedModel
) -> None:

    before = {k: v.clone() for k, v in wide.state_dict().items()}
    importance = importance_scores(wide, tiny_classifier.tokenizer, TEXTS, LABELS, batch_size=2)
    assert importance.heads.shape == (6, 4)
    assert importance.neurons.shape == (6, 64)
    assert (importance.heads >= 0).all() and (importance.heads > 0).any()
    assert (importance.neurons >= 0).all() and (importance.neurons > 0).any()
    assert all(p.grad is None for p in wide.parameters())
    assert all(torch.equal(v, before[k]) for k, v in wide.state_dict().items())


def test_importance_is_the_loss_change_of_removing_a_head(
    tiny_classifier: Classifier, wide: PreTrainedModel
) -> None:
    """First-order check on one example: zeroing the least important head of a layer changes
    the loss less than zeroing the most important one."""
    tok = tiny_classifier.tokenizer
    importance = importance_scores(wide, tok, TEXTS[:1], LABELS[:1])
    enc = tok(TEXTS[:1], return_tensors="pt")
    gold = torch.tensor(LABELS[:1])

    def loss_without(layer: int, head: int) -> float:
        model = copy.deepcopy(wide)
        dense = model.bert.encoder.layer[layer].attention.output.dense
        with torch.no_grad():
            dense.weight[:, head * 8 : (head + 1) * 8] = 0.0
        with torch.inference_mode():
            return float(torch.nn.functional.cross_entropy(model(**enc).logits, gold))

    with torch.inference_mode():
        base = float(torch.nn.functional.cross_entropy(wide(**enc).logits, gold))
    layer = int(importance.heads.max(dim=1).values.argmax())
    low, high = int(importance.heads[layer].argmin()), int(importance.heads[layer].argmax())
    assert abs(loss_without(layer, low) - base) <= abs(loss_without(layer, high) - base) + 1e-6


def test_pruned_model_has_smaller_matrices_and_keeps_the_top_scored(
    tiny_classifier: Classifier, wide: PreTrainedModel
) -> None:
    heads = torch.tensor([[0.1, 0.9, 0.5, 0.2]] * 6)
    neurons = torch.arange(64, dtype=torch.float32).repeat(6, 1)
    original = copy.deepcopy(wide)
    shape = prune_structure(wide, Structure(heads=0.5, neurons=0.25), Importance(heads, neurons))
    assert shape == LayerShape(heads=2, neurons=16) == shape_of(wide)
    for new, old in zip(wide.bert.encoder.layer, original.bert.encoder.layer, strict=True):
        kept = torch.cat([torch.arange(8, 16), torch.arange(16, 24)])  # heads 1 and 2
        assert new.attention.self.query.weight.shape == (16, 32)
        assert torch.equal(new.attention.self.query.weight, old.attention.self.query.weight[kept])
        assert torch.equal(
            new.attention.output.dense.weight, old.attention.output.dense.weight[:, kept]
        )
        assert new.intermediate.dense.weight.shape == (16, 32)
        assert torch.equal(new.output.dense.weight, old.output.dense.weight[:, 48:])
    assert wide.config.intermediate_size == 16
    assert getattr(wide.config, HEADS_ATTRIBUTE) == 2
    logits = _logits(tiny_classifier, wide)
    assert logits.shape == (len(BATCH), len(tiny_classifier.labels))
    assert torch.isfinite(logits).all()
    params = sum(p.numel() for p in wide.bert.encoder.parameters())
    assert params < sum(p.numel() for p in original.bert.encoder.parameters())


def test_keeping_everything_changes_nothing(
    tiny_classifier: Classifier, wide: PreTrainedModel
) -> None:
    expected = _logits(tiny_classifier, wide)
    importance = Importance(torch.rand(6, 4), torch.rand(6, 64))
    prune_structure(wide, Structure(heads=1.0, neurons=1.0), importance)
    torch.testing.assert_close(_logits(tiny_classifier, wide), expected)


def test_pruned_model_saves_and_loads(
    tiny_classifier: Classifier, wide: PreTrainedModel, tmp_path: Path
) -> None:
    importance = Importance(torch.rand(6, 4), torch.rand(6, 64))
    prune_structure(wide, Structure(heads=0.25, neurons=0.5), importance)
    wide.save_pretrained(str(tmp_path))
    loaded = load_structured(tmp_path)
    assert shape_of(loaded) == LayerShape(heads=1, neurons=32)
    assert torch.equal(_logits(tiny_classifier, loaded), _logits(tiny_classifier, wide))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"heads": 0.0}, "heads"),
        ({"heads": 1.5}, "heads"),
        ({"neurons": 0.0}, "neurons"),
        ({"neurons": -0.5}, "neurons"),
    ],
)
def test_bad_structures_are_clear_errors(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=f"`{field}`"):
        Structure(**({"heads": 0.5, "neurons": 0.5} | kwargs))


def test_bad_structured_recipe_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="`importance_examples`"):
        StructuredRecipe(Structure(0.5, 0.5), KDConfig(0.5, 2.0), importance_examples=0)


def test_importance_of_the_wrong_model_is_refused(wide: PreTrainedModel) -> None:
    with pytest.raises(ValueError, match="one row per layer"):
        prune_structure(wide, Structure(0.5, 0.5), Importance(torch.rand(3, 4), torch.rand(3, 64)))


def test_structured_training_saves_a_loadable_smaller_model(
    tiny_classifier: Classifier, tmp_path: Path
) -> None:
    recipe = StructuredRecipe(
        Structure(heads=0.5, neurons=0.5),
        KDConfig(0.5, 2.0),
        TrainConfig(epochs=1, batch_size=2, threads=1),
        importance_examples=4,
    )
    soft = np.random.default_rng(0).normal(size=(len(TEXTS), 5)).astype("f4")
    shape = train_structured(tiny_classifier, TEXTS, LABELS, soft, recipe, tmp_path)
    assert shape == LayerShape(heads=1, neurons=32)
    model = load_structured(tmp_path)
    assert shape_of(model) == shape
    record = json.loads((tmp_path / "accel_recipe.json").read_text())
    assert record["shape"] == {"heads": 1, "neurons": 32}
    assert np.array(record["head_importance"]).shape == (6, 2)
    labels = TorchPredictor("s", model, tiny_classifier.tokenizer, tiny_classifier.labels)
    assert set(labels.predict(BATCH)) <= set(tiny_classifier.labels)


def test_structured_cell_is_smaller_and_cached(tiny_context: BuildContext) -> None:
    cell = TECHNIQUES["pruned-structured"].builder()(tiny_context)
    reference = TECHNIQUES["fp32"].builder()(tiny_context)
    assert cell.size_bytes() < reference.size_bytes()
    assert cell.reported == {"heads_per_layer": 1, "ffn_neurons_per_layer": 32}  # type: ignore[attr-defined]
    again = TECHNIQUES["pruned-structured"].builder()(tiny_context)
    assert again.trained_fingerprint == cell.trained_fingerprint  # type: ignore[attr-defined]
