"""Students of the reference and the teacher's logits: cached stages with their recipes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import datasets
import numpy as np
from transformers import AutoModelForSequenceClassification

from accel.artifacts.data import LABEL, TEXT, data_fingerprint, intent_names
from accel.artifacts.models import Classifier, state_dict_fingerprint
from accel.artifacts.provenance import Artifact, Identity
from accel.techniques.base import BuildContext
from accel.training.distillation import (
    KDConfig,
    StudentRecipe,
    class_ids,
    compute_teacher_logits,
    train_student,
)
from accel.training.finetune import TrainConfig
from accel.training.prune_training import StructuredRecipe, train_structured
from accel.training.structured import Structure, load_structured

LOGITS_FILE = "train_logits.npy"
LOGITS_THREADS = 2  # fixed, so that the logits' bytes do not depend on the run's threads


DISTILLED_RECIPE = StudentRecipe(
    # Keep the first and the last layer (whose output the head was tuned on) and two between.
    # Measured before any training, validation accuracy of the cut teacher: (0, 2, 3, 5) 0.849,
    # (0, 3, 4, 5) 0.845, (0, 1, 3, 5) 0.845, (0, 2, 4, 5) 0.844; 3 layers: (0, 3, 5) 0.738,
    # DistilBERT's every-other (0, 2, 4) 0.106. The 3-layer (0, 3, 5) student was 13x faster
    # in ONNX Runtime int8 but kept only 98.8% of the accuracy; this one, unslimmed, kept
    # 99.6% but was only 9.2-11x faster (README).
    layers=(0, 2, 3, 5),
    # The best of 8 Optuna trials (benchmarks/distill-search.json): validation accuracy 0.9245
    # against 0.9132-0.9242 for the others; the trials differ little.
    kd=KDConfig(alpha=0.566, temperature=4.31),
    train=TrainConfig(epochs=6, batch_size=32, learning_rate=2e-4, seed=42, threads=2),
)


FINETUNED_RECIPE = dataclasses.replace(DISTILLED_RECIPE, kd=KDConfig(alpha=1.0, temperature=1.0))


# Half the feed-forward neurons (768 of 1,536) of every student layer, then 2 epochs with the
# same loss. Measured on the 4-layer student: test accuracy 0.8611 -> 0.8609 in PyTorch, and in
# ONNX Runtime int8 0.8596 -> 0.8565 while the speedup went from 9.7x to 13.4x.
DISTILLED_SLIMMING = StructuredRecipe(
    structure=Structure(heads=1.0, neurons=0.5),
    kd=DISTILLED_RECIPE.kd,
    train=TrainConfig(epochs=2, batch_size=32, learning_rate=1e-4, seed=42, threads=2),
)


FINETUNED_SLIMMING = dataclasses.replace(DISTILLED_SLIMMING, kd=FINETUNED_RECIPE.kd)


def dataset(ctx: BuildContext) -> datasets.DatasetDict:
    """The context's dataset, which every technique that trains a model needs."""
    if ctx.data is None:
        raise ValueError("techniques that train a model need the dataset in the build context")
    return ctx.data


def train_split(ctx: BuildContext) -> tuple[list[str], list[int]]:
    """The train split's texts and their intents as the reference's class indices."""
    data = dataset(ctx)
    train = data["train"]
    return list(train[TEXT]), class_ids(ctx.reference.labels, intent_names(data), train[LABEL])


def teacher_logits(ctx: BuildContext, max_length: int) -> Artifact:
    """The reference's logits over the train split (``LOGITS_FILE``), computed once, cached."""
    data = dataset(ctx)

    def build(out: Path) -> None:
        logits = compute_teacher_logits(
            ctx.reference, data["train"][TEXT], max_length, threads=LOGITS_THREADS
        )
        np.save(out / LOGITS_FILE, logits)

    recipe = {"data": data_fingerprint(data), "max_length": max_length}
    return ctx.artifact("teacher-logits", recipe, build)


SoftTargets = tuple["np.ndarray | None", tuple[Identity, ...]]


def soft_targets(ctx: BuildContext, kd: KDConfig, max_length: int) -> SoftTargets:
    """The teacher's logits where the loss of ``kd`` reads them (``alpha < 1``), else None;
    and the inputs a model trained on them depends on: the reference, and those logits."""
    if kd.alpha >= 1.0:
        return None, (ctx.reference.identity(),)
    logits = teacher_logits(ctx, max_length)
    return np.load(logits.path / LOGITS_FILE), (ctx.reference.identity(), logits.identity())


def student(
    ctx: BuildContext, recipe: StudentRecipe, slimming: StructuredRecipe | None = None
) -> Classifier:
    """The cached student of the reference trained with ``recipe``, then (with ``slimming``)
    structurally pruned and fine-tuned again, also cached."""
    texts, labels = train_split(ctx)
    logits, inputs = soft_targets(ctx, recipe.kd, recipe.train.max_length)

    def build(out: Path) -> None:
        desc = "distilling the student" if logits is not None else "fine-tuning the student"
        train_student(ctx.reference, texts, labels, recipe, logits, out, desc)

    data = {"data": data_fingerprint(dataset(ctx))}
    trained = ctx.artifact("student", recipe.as_dict() | data, build, inputs)
    built: tuple[Artifact, ...] = (trained,)
    model = AutoModelForSequenceClassification.from_pretrained(str(trained.path)).eval()
    ref = ctx.reference
    if slimming is not None:
        first = Classifier(model, ref.tokenizer, ref.labels, str(trained.path), "")
        soft, more = soft_targets(ctx, slimming.kd, slimming.train.max_length)

        def slim(out: Path) -> None:
            train_structured(first, texts, labels, soft, slimming, out)

        inputs = (*more, trained.identity())
        built += (ctx.artifact("student", slimming.as_dict(), slim, inputs),)
        model = load_structured(built[-1].path)
    fingerprint = state_dict_fingerprint(model)
    return Classifier(model, ref.tokenizer, ref.labels, str(built[-1].path), fingerprint, built)


def distilled_student(ctx: BuildContext) -> Classifier:
    """The student of the ``distilled*`` cells: distilled, slimmed, distilled again."""
    return student(ctx, DISTILLED_RECIPE, DISTILLED_SLIMMING)
