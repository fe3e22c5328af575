"""Pruning techniques: unstructured sparsity (magnitude, movement) and structured pruning.

The sparse cells are loaded back from their compressed artifact, so the accuracy measured is
that artifact's. Their ``size_mb`` is the dense serialized state dict (sparsity saves nothing
there); ``compressed_size_mb`` (the bit-mask file) and ``sparsity`` (zero weights in the
pruned layers) are gated metrics of their own. The structured cell really has smaller
matrices: its dense size and its latency drop.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from transformers import PreTrainedModel

from accel.artifacts.data import data_fingerprint
from accel.artifacts.models import state_dict_fingerprint
from accel.measure.accuracy import MB
from accel.measure.predictors import Predictor, TorchPredictor
from accel.techniques.base import BuildContext
from accel.techniques.stages.students import (
    DISTILLED_RECIPE,
    dataset,
    soft_targets,
    train_split,
)
from accel.techniques.stages.torch import torch_predictor
from accel.training.finetune import TrainConfig
from accel.training.prune_training import (
    SPARSE_WEIGHTS,
    SparseRecipe,
    StructuredRecipe,
    load_sparse_model,
    train_sparse,
    train_structured,
)
from accel.training.pruning import encoder_linears, weight_sparsity
from accel.training.structured import Structure, load_structured, shape_of

# The reference teaches its pruned copies with the distillation search's loss weights.
PRUNING_KD = DISTILLED_RECIPE.kd
SPARSE_TRAIN = TrainConfig(epochs=1, batch_size=32, learning_rate=1e-4, seed=42, threads=2)
# 50%: on a 30% train sample (143 steps), validation accuracy (in-scope and out-of-scope
# weighted as in the test split) went from the reference's 0.905 to 0.892 (magnitude) and
# 0.894 (movement); at 70% to 0.831 and 0.817, at 80% (magnitude) to 0.67.
MAGNITUDE_RECIPE = SparseRecipe(method="magnitude", sparsity=0.5, kd=PRUNING_KD, train=SPARSE_TRAIN)
MOVEMENT_RECIPE = SparseRecipe(
    method="movement",
    sparsity=0.5,
    kd=PRUNING_KD,
    train=SPARSE_TRAIN,
    score_learning_rate=1e-2,
    # Constant-initialized scores pruned at random here (0.6% validation accuracy at 50%):
    # the reference is already fine-tuned, see accel.pruning.
    score_init="magnitude",
)
# Half the heads (6 of 12) and half the neurons (768 of 1,536) of every layer: measured at 1
# thread, 1.66x the reference's speed; after 2 epochs of KD, validation accuracy (weighted as
# the test split) 0.902 against the reference's 0.905 (0.883 after 143 steps on 30%).
STRUCTURED_RECIPE = StructuredRecipe(
    structure=Structure(heads=0.5, neurons=0.5),
    kd=PRUNING_KD,
    train=TrainConfig(epochs=2, batch_size=32, learning_rate=1e-4, seed=42, threads=2),
)


def _pruned_artifact(
    ctx: BuildContext,
    recipe: SparseRecipe | StructuredRecipe,
    train: Callable[..., object],
) -> Path:
    """The cached directory of the reference pruned with ``recipe`` by ``train``."""

    soft, inputs = soft_targets(ctx, recipe.kd, recipe.train.max_length)

    def build(out: Path) -> None:
        texts, labels = train_split(ctx)
        train(ctx.reference, texts, labels, soft, recipe, out)

    key = recipe.as_dict() | {"data": data_fingerprint(dataset(ctx))}
    return ctx.artifact("pruned", key, build, inputs).path


def sparse_artifact(ctx: BuildContext, recipe: SparseRecipe) -> Path:
    """The cached directory of the reference pruned with ``recipe`` (trained on first use)."""
    return _pruned_artifact(ctx, recipe, train_sparse)


def structured_artifact(ctx: BuildContext, recipe: StructuredRecipe) -> Path:
    """The cached directory of the structurally pruned, fine-tuned reference."""
    return _pruned_artifact(ctx, recipe, train_structured)


def _predictor(name: str, model: PreTrainedModel, ctx: BuildContext) -> TorchPredictor:
    return torch_predictor(name, model, ctx, trained_fingerprint=state_dict_fingerprint(model))


def sparse_predictor(name: str, ctx: BuildContext, recipe: SparseRecipe) -> TorchPredictor:
    """The pruned model loaded from its compressed artifact, with its sparsity and the
    artifact's size as gated metrics."""
    path = sparse_artifact(ctx, recipe)
    model = load_sparse_model(path)
    predictor = _predictor(name, model, ctx)
    predictor.extra_metrics.update(
        sparsity=weight_sparsity(list(encoder_linears(model).values())),
        compressed_size_mb=(path / SPARSE_WEIGHTS).stat().st_size / MB,
    )
    return predictor


def build_pruned_magnitude(ctx: BuildContext) -> Predictor:
    """Gradual magnitude pruning of the encoder's Linear weights during fine-tuning."""
    return sparse_predictor("pruned-magnitude", ctx, MAGNITUDE_RECIPE)


def build_pruned_movement(ctx: BuildContext) -> Predictor:
    """Movement pruning (learned scores, top-k masks) during fine-tuning."""
    return sparse_predictor("pruned-movement", ctx, MOVEMENT_RECIPE)


def build_pruned_structured(ctx: BuildContext) -> Predictor:
    """Fewer attention heads and feed-forward neurons in every layer, fine-tuned with KD."""
    model = load_structured(structured_artifact(ctx, STRUCTURED_RECIPE))
    predictor = _predictor("pruned-structured", model, ctx)
    shape = shape_of(model)
    predictor.reported.update(heads_per_layer=shape.heads, ffn_neurons_per_layer=shape.neurons)
    return predictor


__all__ = [
    "MAGNITUDE_RECIPE",
    "MOVEMENT_RECIPE",
    "STRUCTURED_RECIPE",
    "build_pruned_magnitude",
    "build_pruned_movement",
    "build_pruned_structured",
    "sparse_artifact",
    "sparse_predictor",
    "structured_artifact",
]
