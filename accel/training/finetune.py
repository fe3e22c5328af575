"""A small, seeded fine-tuning loop for sequence classifiers (CPU-friendly, with progress)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase, get_linear_schedule_with_warmup
from transformers.trainer_pt_utils import get_length_grouped_indices

from accel.artifacts.cache import write_text_atomic
from accel.validation import check_at_least, check_in_range

RECORD = "accel_recipe.json"  # beside a trained model: its recipe and training results

# loss(student_logits, labels, batch_indices) -> scalar tensor
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
# on_step(step) runs before each optimizer step's forward pass (steps count from 0); what it
# returns is shown in the progress bar (e.g. the current sparsity).
StepHook = Callable[[int], Mapping[str, str] | None]


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one fine-tuning run."""

    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.0
    max_length: int = 64
    seed: int = 42
    threads: int = 2
    # Batches of texts of similar length (transformers' length-grouped order: shuffled, sorted
    # within mega-batches of 50 batches), so fewer pad tokens are computed. Measured on
    # CLINC150's train split with batches of 32: 173k padded tokens an epoch instead of 305k
    # (168k real), and a teacher step in 0.30 s instead of 0.52 s on 2 cores.
    group_by_length: bool = True

    def __post_init__(self) -> None:
        check_at_least(self, "epochs", 1)
        check_at_least(self, "batch_size", 1)
        check_in_range(self, "learning_rate", 0, 1, "()")
        check_in_range(self, "warmup_ratio", 0, 1, "[)")
        check_at_least(self, "max_length", 8)
        check_at_least(self, "threads", 1)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch threads, then restore the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def freeze_word_embeddings(model: PreTrainedModel) -> None:
    """Keep ``model``'s input word embeddings fixed in training (no gradient)."""
    model.get_input_embeddings().weight.requires_grad_(False)


def save_trained(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    out: Path,
    recipe: Mapping[str, Any],
    **results: Any,
) -> None:
    """Save a trained ``model`` with its ``tokenizer`` to ``out``, and its record."""
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    write_record(out, recipe, **results)


def write_record(out: Path, recipe: Mapping[str, Any], **results: Any) -> None:
    """Write ``out/accel_recipe.json``: the recipe a model was trained with and ``results``."""
    write_text_atomic(out / RECORD, json.dumps({"recipe": recipe} | results, indent=2))


def training_steps(n_examples: int, config: TrainConfig) -> int:
    """How many optimizer steps ``fine_tune`` takes over ``n_examples``."""
    return (n_examples + config.batch_size - 1) // config.batch_size * config.epochs


def cross_entropy_loss(logits: torch.Tensor, labels: torch.Tensor, _: torch.Tensor) -> torch.Tensor:
    """Plain cross-entropy on the labels (the default loss)."""
    return torch.nn.functional.cross_entropy(logits, labels)


def fine_tune(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    labels: Sequence[int],
    config: TrainConfig,
    loss_fn: LossFn = cross_entropy_loss,
    desc: str = "fine-tuning",
    on_step: StepHook | None = None,
    extra_param_groups: Sequence[Mapping[str, Any]] = (),
) -> list[float]:
    """Train ``model`` in place with AdamW and linear decay; return the mean loss per epoch.

    ``extra_param_groups`` are AdamW groups with their own settings (e.g. pruning scores with
    their own learning rate); their parameters are left out of the default groups.
    """
    seed_everything(config.seed)
    with torch_threads(config.threads):
        encoded = tokenizer(list(texts), truncation=True, max_length=config.max_length)
        label_tensor = torch.tensor(list(labels), dtype=torch.long)
        n = len(label_tensor)
        lengths = [len(ids) for ids in encoded["input_ids"]]
        steps_per_epoch = (n + config.batch_size - 1) // config.batch_size
        total = steps_per_epoch * config.epochs
        optimizer = torch.optim.AdamW(
            _param_groups(model, config, extra_param_groups), lr=config.learning_rate
        )
        scheduler = get_linear_schedule_with_warmup(
            optimizer, int(config.warmup_ratio * total), total
        )
        generator = torch.Generator().manual_seed(config.seed)
        model.train()
        epoch_losses: list[float] = []
        try:
            with tqdm(total=total, desc=desc, unit="step", mininterval=5.0) as bar:
                for epoch in range(config.epochs):
                    order = _epoch_order(lengths, config, generator)
                    running = 0.0
                    for step in range(steps_per_epoch):
                        shown = on_step(epoch * steps_per_epoch + step) if on_step else None
                        idx = order[step * config.batch_size : (step + 1) * config.batch_size]
                        batch = tokenizer.pad(
                            {k: [encoded[k][i] for i in idx.tolist()] for k in encoded},
                            return_tensors="pt",
                        )
                        logits = model(**batch).logits
                        loss = loss_fn(logits, label_tensor[idx], idx)
                        loss.backward()
                        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                        optimizer.step()
                        scheduler.step()
                        optimizer.zero_grad(set_to_none=True)
                        running += loss.item()
                        bar.update(1)
                        bar.set_postfix(
                            epoch=epoch + 1,
                            loss=f"{running / (step + 1):.4f}",
                            **(shown or {}),
                            refresh=False,
                        )
                    epoch_losses.append(running / steps_per_epoch)
        finally:
            model.eval()
    return epoch_losses


def _epoch_order(
    lengths: Sequence[int], config: TrainConfig, generator: torch.Generator
) -> torch.Tensor:
    """One epoch's order of the examples: shuffled, then grouped by length if configured."""
    if not config.group_by_length:
        return torch.randperm(len(lengths), generator=generator)
    grouped = get_length_grouped_indices(list(lengths), config.batch_size, generator=generator)
    return torch.tensor(grouped, dtype=torch.long)


def _param_groups(
    model: PreTrainedModel, config: TrainConfig, extra: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """AdamW groups: weight decay except on biases and layer norms, then ``extra`` (whose
    parameters are left out of the first two)."""
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    taken = {id(p) for group in extra for p in group["params"]}
    named = [(name, p) for name, p in model.named_parameters() if id(p) not in taken]
    return [
        {
            "params": [p for name, p in named if not name.endswith(no_decay)],
            "weight_decay": config.weight_decay,
        },
        {
            "params": [p for name, p in named if name.endswith(no_decay)],
            "weight_decay": 0.0,
        },
        *(dict(group) for group in extra),
    ]
