"""Pruning recipes and their training: sparse (magnitude, movement) and structured.

Both start from a copy of the fine-tuned reference and train on the train split with the
distillation loss against the reference's cached logits (the reference is its own teacher).
A sparse model is saved as its config, tokenizer and compressed weights
(:mod:`accel.sparse_format`); a structured one with ``save_pretrained`` (see
:func:`accel.training.structured.load_structured`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from transformers import AutoConfig, AutoModelForSequenceClassification, PreTrainedModel

from accel.artifacts.models import Classifier
from accel.training.distillation import KDConfig, kd_loss_fn
from accel.training.finetune import (
    TrainConfig,
    fine_tune,
    freeze_word_embeddings,
    save_trained,
    torch_threads,
    training_steps,
    write_record,
)
from accel.training.pruning import (
    SCORE_INITS,
    CubicSchedule,
    MagnitudePruner,
    MovementPruner,
    ScoreInit,
    encoder_linears,
    progress,
    weight_sparsity,
)
from accel.training.sparse_format import load_sparse, save_sparse
from accel.training.structured import LayerShape, Structure, importance_scores, prune_structure
from accel.validation import check_at_least, check_in_range, check_one_of, check_positive

SPARSE_WEIGHTS = "model.sparse.safetensors"
METHODS = ("magnitude", "movement")


@dataclass(frozen=True)
class SparseRecipe:
    """Unstructured pruning of the encoder's Linear weights during fine-tuning.

    The schedule holds the initial sparsity for the first ``warmup`` fraction of the steps,
    follows the cubic to ``sparsity`` and holds it for the last ``cooldown`` fraction.
    """

    method: Literal["magnitude", "movement"]
    sparsity: float
    kd: KDConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    warmup: float = 0.1
    cooldown: float = 0.2
    update_every: int = 10  # steps between mask updates
    score_learning_rate: float = 1e-2  # movement scores (Sanh et al. used 1e-2)
    score_init: ScoreInit = "constant"  # movement: see accel.pruning
    freeze_word_embeddings: bool = True

    def __post_init__(self) -> None:
        check_one_of(self, "method", METHODS)
        for name in ("sparsity", "warmup", "cooldown"):
            check_in_range(self, name, 0, 1, "[)")
        if self.warmup + self.cooldown >= 1.0:
            raise ValueError(
                f"`warmup` + `cooldown` must be < 1, got {self.warmup} + {self.cooldown}"
            )
        check_at_least(self, "update_every", 1)
        check_one_of(self, "score_init", SCORE_INITS)
        check_positive(self, "score_learning_rate")

    def schedule(self, initial: float, steps: int) -> CubicSchedule:
        """The cubic schedule from ``initial`` over ``steps`` optimizer steps."""
        return CubicSchedule(
            initial=initial,
            final=max(self.sparsity, initial),
            begin_step=round(self.warmup * steps),
            end_step=round((1.0 - self.cooldown) * steps),
        )

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class StructuredRecipe:
    """Remove the least important heads and neurons, then fine-tune the smaller model."""

    structure: Structure
    kd: KDConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    importance_examples: int = 2048  # a seeded sample of the train split
    freeze_word_embeddings: bool = True

    def __post_init__(self) -> None:
        check_at_least(self, "importance_examples", 1)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _copy(reference: Classifier, freeze: bool) -> PreTrainedModel:
    model = copy.deepcopy(reference.model)
    if freeze:
        freeze_word_embeddings(model)
    return model


def train_sparse(
    reference: Classifier,
    texts: Sequence[str],
    labels: Sequence[int],
    teacher_logits: np.ndarray | None,
    recipe: SparseRecipe,
    out: Path,
) -> PreTrainedModel:
    """Prune a copy of the reference while fine-tuning it; save it compressed to ``out``.

    Returns the pruned model (as saved: dense, with zeros where pruned).
    """
    loss = kd_loss_fn(recipe.kd, teacher_logits, len(texts))
    model = _copy(reference, recipe.freeze_word_embeddings)
    layers = list(encoder_linears(model).values())
    schedule = recipe.schedule(weight_sparsity(layers), training_steps(len(texts), recipe.train))
    pruner: MagnitudePruner | MovementPruner
    groups: list[dict[str, Any]] = []
    if recipe.method == "magnitude":
        pruner = MagnitudePruner(layers, schedule, recipe.update_every)
    else:
        pruner = MovementPruner(layers, schedule, recipe.update_every, recipe.score_init)
        groups = [
            {"params": pruner.scores(), "lr": recipe.score_learning_rate, "weight_decay": 0.0}
        ]
    losses = fine_tune(
        model,
        reference.tokenizer,
        texts,
        labels,
        recipe.train,
        loss,
        desc=f"{recipe.method} pruning",
        on_step=lambda step: progress(pruner.update(step)),
        extra_param_groups=groups,
    )
    pruner.finish()
    model.config.save_pretrained(str(out))
    reference.tokenizer.save_pretrained(str(out))
    save_sparse(model.state_dict(), out / SPARSE_WEIGHTS)
    write_record(out, recipe.as_dict(), epoch_losses=losses, sparsity=weight_sparsity(layers))
    return model


def load_sparse_model(path: Path) -> PreTrainedModel:
    """The model saved by :func:`train_sparse` in ``path``, dense in memory."""
    config = AutoConfig.from_pretrained(str(path))
    model = AutoModelForSequenceClassification.from_config(config)
    model.load_state_dict(load_sparse(path / SPARSE_WEIGHTS), strict=True)
    return model.eval()


def train_structured(
    reference: Classifier,
    texts: Sequence[str],
    labels: Sequence[int],
    teacher_logits: np.ndarray | None,
    recipe: StructuredRecipe,
    out: Path,
) -> LayerShape:
    """Score heads and neurons on a train sample, remove the least important, fine-tune the
    smaller copy of the reference and save it to ``out``."""
    loss = kd_loss_fn(recipe.kd, teacher_logits, len(texts))
    model = _copy(reference, recipe.freeze_word_embeddings)
    rng = np.random.default_rng(recipe.train.seed)
    sample = rng.permutation(len(texts))[: recipe.importance_examples].tolist()
    with torch_threads(recipe.train.threads):
        importance = importance_scores(
            model,
            reference.tokenizer,
            [texts[i] for i in sample],
            [labels[i] for i in sample],
            max_length=recipe.train.max_length,
        )
    shape = prune_structure(model, recipe.structure, importance)
    losses = fine_tune(
        model,
        reference.tokenizer,
        texts,
        labels,
        recipe.train,
        loss,
        desc="fine-tuning the pruned structure",
    )
    save_trained(
        model,
        reference.tokenizer,
        out,
        recipe.as_dict(),
        epoch_losses=losses,
        head_importance=importance.heads.tolist(),
        neuron_importance_sum=importance.neurons.sum(dim=1).tolist(),
        shape=asdict(shape),
    )
    return shape


__all__ = [
    "SPARSE_WEIGHTS",
    "SparseRecipe",
    "StructuredRecipe",
    "load_sparse_model",
    "train_sparse",
    "train_structured",
]
