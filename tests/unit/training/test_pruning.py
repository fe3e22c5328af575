"""Unstructured pruning: the cubic schedule (properties), magnitude and movement masks, the
compressed artifact, and the sparse cells built from the tiny model."""

from __future__ import annotations

import copy
import io
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from accel.artifacts.models import Classifier
from accel.measure.predictors import TorchPredictor
from accel.techniques import BuildContext, builtin_registry
from accel.techniques.pruned import MAGNITUDE_RECIPE, MOVEMENT_RECIPE
from accel.training.distillation import KDConfig
from accel.training.finetune import TrainConfig
from accel.training.prune_training import SparseRecipe, load_sparse_model, train_sparse
from accel.training.pruning import (
    CubicSchedule,
    MagnitudePruner,
    MovementPruner,
    ScoredMask,
    encoder_linears,
    weight_sparsity,
)
from accel.training.sparse_format import load_sparse, save_sparse

TECHNIQUES = builtin_registry()


fractions = st.floats(0.0, 0.99, allow_nan=False)


@st.composite
def schedules(draw: st.DrawFn) -> CubicSchedule:
    initial = draw(fractions)
    final = draw(st.floats(initial, 0.99, allow_nan=False))
    begin = draw(st.integers(0, 200))
    end = draw(st.integers(begin, begin + 500))
    return CubicSchedule(initial, final, begin, end)


@settings(max_examples=300, deadline=None)
@given(schedule=schedules(), a=st.integers(0, 1000), b=st.integers(0, 1000))
def test_schedule_is_monotone_between_its_ends(schedule: CubicSchedule, a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert schedule.at(lo) <= schedule.at(hi) + 1e-12
    assert schedule.initial - 1e-12 <= schedule.at(a) <= schedule.final + 1e-12


@settings(max_examples=300, deadline=None)
@given(schedule=schedules(), before=st.integers(0, 200), after=st.integers(0, 200))
def test_schedule_starts_at_the_initial_and_hits_the_target(
    schedule: CubicSchedule, before: int, after: int
) -> None:
    if schedule.begin_step > 0:
        assert schedule.at(min(before, schedule.begin_step - 1)) == schedule.initial
    if schedule.end_step > schedule.begin_step:  # else the schedule jumps at begin_step
        assert schedule.at(schedule.begin_step) == schedule.initial
    assert schedule.at(schedule.end_step + after) == schedule.final


def test_schedule_prunes_fast_first() -> None:
    schedule = CubicSchedule(0.0, 0.9, 0, 100)
    assert schedule.at(50) == pytest.approx(0.9 * (1 - 0.5**3))
    assert schedule.at(10) - schedule.at(0) > schedule.at(100) - schedule.at(90)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"initial": -0.1}, "initial"),
        ({"final": 1.0}, "final"),
        ({"final": 1.2}, "final"),
        ({"initial": 0.6, "final": 0.5}, "final"),
        ({"begin_step": -1}, "begin_step"),
        ({"begin_step": 10, "end_step": 5}, "end_step"),
    ],
)
def test_bad_schedules_are_clear_errors(kwargs: dict[str, float], field: str) -> None:
    settings_ = {"initial": 0.0, "final": 0.5, "begin_step": 0, "end_step": 10} | kwargs
    with pytest.raises(ValueError, match=f"`{field}`"):
        CubicSchedule(**settings_)  # type: ignore[arg-type]


KD = KDConfig(0.5, 2.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sparsity": 1.0}, "sparsity"),
        ({"sparsity": 1.2}, "sparsity"),
        ({"sparsity": -0.1}, "sparsity"),
        ({"method": "random"}, "method"),
        ({"warmup": 0.6, "cooldown": 0.4}, "warmup"),
        ({"cooldown": -0.1}, "cooldown"),
        ({"update_every": 0}, "update_every"),
        ({"score_learning_rate": 0.0}, "score_learning_rate"),
        ({"score_init": "uniform"}, "score_init"),
    ],
)
def test_bad_sparse_recipes_are_clear_errors(kwargs: dict[str, object], field: str) -> None:
    recipe = {"method": "magnitude", "sparsity": 0.5, "kd": KD} | kwargs
    with pytest.raises(ValueError, match=f"`{field}`"):
        SparseRecipe(**recipe)  # type: ignore[arg-type]


def _layers(model: nn.Module) -> list[nn.Linear]:
    return list(encoder_linears(model).values())


def _layer_sparsity(layer: nn.Linear) -> float:
    return float((layer.weight == 0).float().mean())


def test_encoder_linears_are_the_transformer_layers_only(tiny_classifier: Classifier) -> None:
    names = list(encoder_linears(tiny_classifier.model))
    assert len(names) == 6 * 6  # q, k, v, attention output, intermediate, output per layer
    assert all(".encoder.layer." in f".{n}" for n in names)
    assert not any("classifier" in n or "pooler" in n for n in names)


def test_magnitude_masks_follow_the_schedule(tiny_classifier: Classifier) -> None:
    model = copy.deepcopy(tiny_classifier.model)
    layers = _layers(model)
    schedule = CubicSchedule(0.0, 0.75, 2, 12)
    pruner = MagnitudePruner(layers, schedule)
    previous = [torch.ones_like(layer.weight, dtype=torch.bool) for layer in layers]
    for step in range(15):
        pruner.update(step)
        target = schedule.at(step)
        for layer, before in zip(layers, previous, strict=True):
            assert _layer_sparsity(layer) == pytest.approx(target, abs=1.5 / layer.weight.numel())
            kept = layer.weight != 0
            assert not (kept & ~before).any()  # pruned weights stay pruned
            magnitude = layer.get_parameter("weight_orig").detach().abs()
            if (~kept).any():  # the weights do not change here: the smallest go first
                assert magnitude[kept].min() >= magnitude[~kept].max()
            before.copy_(kept)
    pruner.finish()
    for layer in layers:
        assert not hasattr(layer, "weight_orig")
        assert isinstance(layer.weight, nn.Parameter)
    assert weight_sparsity(layers) == pytest.approx(0.75, abs=0.01)


def test_first_magnitude_step_prunes_the_smallest_weights(tiny_classifier: Classifier) -> None:
    model = copy.deepcopy(tiny_classifier.model)
    layers = _layers(model)
    original = [layer.weight.detach().abs().clone() for layer in layers]
    MagnitudePruner(layers, CubicSchedule(0.0, 0.5, 0, 0)).update(0)
    for layer, magnitude in zip(layers, original, strict=True):
        kept = layer.weight != 0
        assert magnitude[kept].min() >= magnitude[~kept].max()


def test_magnitude_finish_reaches_the_target_when_training_stops_early(
    tiny_classifier: Classifier,
) -> None:
    layers = _layers(copy.deepcopy(tiny_classifier.model))
    pruner = MagnitudePruner(layers, CubicSchedule(0.0, 0.6, 0, 1000), update_every=10)
    pruner.update(0)
    pruner.finish()
    assert weight_sparsity(layers) == pytest.approx(0.6, abs=0.01)


def test_movement_masks_follow_the_schedule_and_scores_learn(
    tiny_classifier: Classifier,
) -> None:
    model = copy.deepcopy(tiny_classifier.model).train()
    layers = _layers(model)
    schedule = CubicSchedule(0.0, 0.8, 1, 6)
    pruner = MovementPruner(layers, schedule, update_every=1)
    optimizer = torch.optim.AdamW(pruner.scores(), lr=0.1)
    batch = tiny_classifier.tokenizer(
        ["check my balance", "set a timer"], return_tensors="pt", padding=True
    )
    for step in range(8):
        sparsity = pruner.update(step)
        assert sparsity == pytest.approx(schedule.at(step), abs=0.01)
        for layer in layers:
            assert _layer_sparsity(layer) == pytest.approx(schedule.at(step), abs=0.01)
        model(**batch).logits.sum().backward()
        optimizer.step()
        optimizer.zero_grad()
    assert all(mask.scores.abs().sum() > 0 for mask in pruner.masks)
    pruner.finish()
    assert not any(parametrize_left(layer) for layer in layers)
    assert weight_sparsity(layers) == pytest.approx(0.8, abs=0.01)
    assert isinstance(layers[0].weight, nn.Parameter)


def parametrize_left(layer: nn.Linear) -> bool:
    return hasattr(layer, "parametrizations")


def test_movement_scores_get_the_straight_through_gradient() -> None:
    """dL/dS = dL/dW' * W, where W' = W * mask (Sanh et al. 2020, eq. for TopK)."""
    torch.manual_seed(0)
    layer = nn.Linear(4, 3)
    pruner = MovementPruner([layer], CubicSchedule(0.0, 0.5, 0, 0))
    pruner.update(0)
    x = torch.randn(5, 4)
    out = layer(x)
    masked = layer.weight.detach().clone().requires_grad_(True)
    (out**2).sum().backward()
    expected_out = nn.functional.linear(x, masked, layer.bias.detach())
    (expected_out**2).sum().backward()
    weight = layer.parametrizations.weight.original.detach()  # type: ignore[union-attr]
    torch.testing.assert_close(pruner.scores()[0].grad, masked.grad * weight)


def test_magnitude_initialized_scores_start_from_the_magnitude_mask() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(16, 8)
    magnitude = layer.weight.detach().abs().clone()
    pruner = MovementPruner([layer], CubicSchedule(0.0, 0.5, 0, 0), init="magnitude")
    pruner.update(0)
    kept = layer.weight != 0
    assert int(kept.sum()) == 64
    assert magnitude[kept].min() >= magnitude[~kept].max()
    assert pruner.scores()[0].detach().mean() == pytest.approx(1.0)


def test_unknown_score_init_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="`init`"):
        ScoredMask(torch.ones(2, 2), "random")  # type: ignore[arg-type]


def test_tied_scores_still_keep_the_scheduled_count() -> None:
    mask = ScoredMask(torch.randn(10, 10))  # untrained: every score is 0
    mask.refresh(0.5)
    assert int(mask.mask.sum()) == 50


@pytest.mark.parametrize("sparsity", [0.5, 0.9])
def test_bitmask_file_is_smaller_than_dense_and_csr(tmp_path: Path, sparsity: float) -> None:
    torch.manual_seed(0)
    weight = torch.randn(384, 1536)
    weight[torch.rand_like(weight) < sparsity] = 0.0
    save_sparse({"w": weight}, tmp_path / "w.safetensors")
    ours = (tmp_path / "w.safetensors").stat().st_size
    dense, csr = io.BytesIO(), io.BytesIO()
    torch.save({"w": weight}, dense)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        torch.save({"w": weight.to_sparse_csr()}, csr)
    assert ours < dense.getbuffer().nbytes
    assert ours < csr.getbuffer().nbytes
    expected = weight.numel() / 8 + int(torch.count_nonzero(weight)) * 4
    assert ours == pytest.approx(expected, rel=0.01)


@settings(max_examples=50, deadline=None)
@given(
    sparsity=st.floats(0.0, 1.0),
    shape=st.lists(st.integers(1, 40), min_size=1, max_size=3),
    seed=st.integers(0, 1000),
)
def test_sparse_state_round_trips_exactly(sparsity: float, shape: list[int], seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(*shape, generator=generator)
    weight[torch.rand(*shape, generator=generator) < sparsity] = 0.0
    state = {"w": weight, "ids": torch.arange(7), "half": weight.half()}
    with tempfile.TemporaryDirectory() as tmp:
        save_sparse(state, Path(tmp) / "s.safetensors")
        loaded = load_sparse(Path(tmp) / "s.safetensors")
    assert set(loaded) == set(state)
    for name, tensor in state.items():
        assert loaded[name].dtype == tensor.dtype and loaded[name].shape == tensor.shape
        assert torch.equal(loaded[name], tensor), name


def test_a_foreign_file_is_refused(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(ValueError, match="not an accel-bitmask"):
        load_sparse(tmp_path / "plain.safetensors")


TEXTS = ["check my balance", "send money to mom", "is it raining", "set a timer", "hi there"]
LABELS = [1, 2, 3, 4, 0]


@pytest.mark.parametrize("method", ["magnitude", "movement"])
def test_compressed_artifact_gives_the_same_predictions(
    tiny_classifier: Classifier, tmp_path: Path, method: str
) -> None:
    recipe = SparseRecipe(
        method,  # type: ignore[arg-type]
        0.7,
        KDConfig(0.5, 2.0),
        TrainConfig(epochs=2, batch_size=2, threads=1),
        update_every=1,
    )
    soft = np.random.default_rng(0).normal(size=(len(TEXTS), 5)).astype("f4")
    trained = train_sparse(tiny_classifier, TEXTS, LABELS, soft, recipe, tmp_path)
    loaded = load_sparse_model(tmp_path)
    assert weight_sparsity(_layers(loaded)) == pytest.approx(0.7, abs=0.01)
    for name, tensor in trained.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    tok, labels = tiny_classifier.tokenizer, tiny_classifier.labels
    batch = [*TEXTS, "what's the weather like in paris this weekend", "🙂"]
    a = TorchPredictor("a", trained, tok, labels).predict(batch)
    assert TorchPredictor("b", loaded, tok, labels).predict(batch) == a
    record = json.loads((tmp_path / "accel_recipe.json").read_text())
    assert record["recipe"]["method"] == method and len(record["epoch_losses"]) == 2
    dense_bytes = sum(t.numel() * t.element_size() for t in trained.state_dict().values())
    assert (tmp_path / "model.sparse.safetensors").stat().st_size < dense_bytes


@pytest.mark.parametrize("name", ["pruned-magnitude", "pruned-movement"])
def test_sparse_cells_report_sparsity_and_compressed_size(
    tiny_context: BuildContext, name: str
) -> None:
    predictor = TECHNIQUES[name].builder()(tiny_context)
    assert isinstance(predictor, TorchPredictor)
    extra = predictor.extra_metrics
    recipe = MAGNITUDE_RECIPE if name == "pruned-magnitude" else MOVEMENT_RECIPE
    assert extra["sparsity"] == pytest.approx(recipe.sparsity, abs=0.01)
    dense_mb = predictor.size_bytes() / 1e6
    assert 0 < extra["compressed_size_mb"] < dense_mb
    assert predictor.trained_fingerprint is not None
    again = TECHNIQUES[name].builder()(tiny_context)  # cached: the same trained model
    assert again.trained_fingerprint == predictor.trained_fingerprint  # type: ignore[attr-defined]
