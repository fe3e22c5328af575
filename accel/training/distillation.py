"""Knowledge distillation: the loss, a student cut from the teacher's layers, its training.

The student keeps the teacher's tokenizer, embeddings and classifier head and a subset of its
transformer layers (DistilBERT took every other one). It is trained on the train split with
``alpha * CE(labels) + (1 - alpha) * T^2 * KL(teacher_T || student_T)``; the teacher's logits
over the train split are computed once and cached. Students are cached like the teacher.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm
from transformers import AutoModelForSequenceClassification, PreTrainedModel

from accel.artifacts.families import layer_key_pattern
from accel.artifacts.models import Classifier
from accel.training.finetune import (
    LossFn,
    TrainConfig,
    fine_tune,
    freeze_word_embeddings,
    save_trained,
    torch_threads,
)
from accel.validation import check_in_range, check_positive

# A key inside a transformer layer, in every supported family (BERT's encoder.layer.<i>).
_LAYER_KEY = layer_key_pattern()


@dataclass(frozen=True)
class KDConfig:
    """Weights of the distillation loss: ``alpha`` on the labels, the rest on the teacher."""

    alpha: float
    temperature: float

    def __post_init__(self) -> None:
        check_in_range(self, "alpha", 0, 1, "[]")
        check_positive(self, "temperature")


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    config: KDConfig,
) -> torch.Tensor:
    """``alpha * CE(student, labels) + (1 - alpha) * T^2 * KL(p_teacher || p_student)``.

    Both terms are batch means; ``p = softmax(logits / T)``. The ``T^2`` factor keeps the
    soft-target gradient's scale roughly independent of ``T`` (Hinton et al. 2015). With
    ``alpha == 1`` the teacher's logits are not read at all.
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student logits {tuple(student_logits.shape)} and teacher logits "
            f"{tuple(teacher_logits.shape)} must have the same shape"
        )
    hard = F.cross_entropy(student_logits, labels)
    if config.alpha == 1.0:
        return hard
    t = config.temperature
    kl = F.kl_div(
        F.log_softmax(student_logits / t, dim=-1),
        F.log_softmax(teacher_logits.detach() / t, dim=-1),
        reduction="batchmean",
        log_target=True,
    ).clamp_min(0.0)  # KL >= 0; rounding can leave -1e-9 when the distributions match
    return config.alpha * hard + (1.0 - config.alpha) * t * t * kl


def kd_loss_fn(config: KDConfig, teacher_logits: np.ndarray | None, n: int) -> LossFn:
    """The fine-tuning loss of ``config`` over ``n`` texts: :func:`distillation_loss` against
    each batch's rows of ``teacher_logits``, which are needed unless ``alpha == 1`` (then
    they are not read)."""
    soft = None
    if config.alpha < 1.0:
        if teacher_logits is None or teacher_logits.shape[0] != n:
            raise ValueError("distillation with alpha < 1 needs one teacher logit row per text")
        soft = torch.from_numpy(teacher_logits)

    def loss(logits: torch.Tensor, gold: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return distillation_loss(logits, soft[idx] if soft is not None else logits, gold, config)

    return loss


def make_student(teacher: PreTrainedModel, layers: Sequence[int]) -> PreTrainedModel:
    """A copy of ``teacher`` keeping only the transformer ``layers`` (indices, in order).

    Embeddings, pooler and classifier head are the teacher's own; the student's layer ``j``
    starts from the teacher's layer ``layers[j]``.
    """
    total = int(teacher.config.num_hidden_layers)
    chosen = list(layers)
    if not chosen or len(chosen) >= total:
        raise ValueError(f"a student keeps 1 to {total - 1} of the teacher's {total} layers")
    if any(not 0 <= i < total for i in chosen) or chosen != sorted(set(chosen)):
        raise ValueError(f"layers must be increasing indices in [0, {total}), got {chosen}")
    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = len(chosen)
    student = AutoModelForSequenceClassification.from_config(config)
    source = {old: new for new, old in enumerate(chosen)}
    state = {}
    for key, tensor in teacher.state_dict().items():
        match = _LAYER_KEY.match(key)
        if match is None:
            state[key] = tensor
        elif int(match["index"]) in source:
            new = source[int(match["index"])]
            state[f"{match['prefix']}{new}{match['rest']}"] = tensor
    student.load_state_dict(state, strict=True)
    return student.eval()


@dataclass(frozen=True)
class StudentRecipe:
    """Everything that defines a trained student (its cache key, with the teacher and data)."""

    layers: tuple[int, ...]
    kd: KDConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    # The teacher's fine-tuned word embeddings (11.7M of the student's 17.4M parameters) stay
    # fixed: measured on 2 cores, an epoch takes 90 s instead of 144 s.
    freeze_word_embeddings: bool = True

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def class_ids(model_labels: Sequence[str], names: Sequence[str], ids: Sequence[int]) -> list[int]:
    """Map dataset label ids (indices into ``names``) to the model's class indices by name."""
    index = {name: i for i, name in enumerate(model_labels)}
    missing = sorted({names[i] for i in ids} - set(index))
    if missing:
        raise ValueError(
            f"the model has no class for the intent(s) {missing[:10]} found in the train split; "
            "its config's id2label must cover every intent it is trained on"
        )
    return [index[names[i]] for i in ids]


def compute_teacher_logits(
    teacher: Classifier, texts: Sequence[str], max_length: int, threads: int, batch_size: int = 256
) -> np.ndarray:
    """The teacher's logits for ``texts`` (float32, one row per text, in order)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), len(teacher.labels)), dtype=np.float32)
    with torch_threads(threads), torch.inference_mode():
        for start in tqdm(range(0, len(order), batch_size), desc="teacher logits", unit="batch"):
            idx = order[start : start + batch_size]
            batch = teacher.tokenizer(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            out[idx] = teacher.model(**batch).logits.float().numpy()
    return out


def train_student(
    teacher: Classifier,
    texts: Sequence[str],
    labels: Sequence[int],
    recipe: StudentRecipe,
    teacher_logits: np.ndarray | None,
    out: Path,
    desc: str = "distilling the student",
) -> list[float]:
    """Cut a student from ``teacher``, train it with the recipe's loss, save it to ``out``.

    ``teacher_logits`` (rows aligned with ``texts``) are needed unless ``alpha == 1``.
    """
    loss = kd_loss_fn(recipe.kd, teacher_logits, len(texts))
    student = make_student(teacher.model, recipe.layers)
    if recipe.freeze_word_embeddings:
        freeze_word_embeddings(student)
    losses = fine_tune(student, teacher.tokenizer, texts, labels, recipe.train, loss, desc)
    save_trained(student, teacher.tokenizer, out, recipe.as_dict(), epoch_losses=losses)
    return losses


__all__ = [
    "KDConfig",
    "StudentRecipe",
    "class_ids",
    "compute_teacher_logits",
    "distillation_loss",
    "kd_loss_fn",
    "make_student",
    "train_student",
]
