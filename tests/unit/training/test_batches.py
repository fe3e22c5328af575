"""The order of training examples: every example once an epoch, batches grouped by length."""

from __future__ import annotations

import copy

import torch

from accel.artifacts.models import Classifier
from accel.training.finetune import TrainConfig, fine_tune

# 40 texts of 1 to 10 words: random batches mix short and long ones.
TEXTS = [" ".join(["word"] * (1 + i % 10)) for i in range(40)]
LABELS = [i % 4 + 1 for i in range(40)]


def _batches(classifier: Classifier, config: TrainConfig) -> list[list[int]]:
    """The example indices of each step of ``fine_tune`` under ``config``."""
    seen: list[list[int]] = []

    def loss(logits: torch.Tensor, gold: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        seen.append(idx.tolist())
        return torch.nn.functional.cross_entropy(logits, gold)

    model = copy.deepcopy(classifier.model)
    fine_tune(model, classifier.tokenizer, TEXTS, LABELS, config, loss_fn=loss)
    return seen


def _padded_words(batches: list[list[int]]) -> int:
    """Words computed when each batch is padded to its longest text."""
    return sum(max(1 + i % 10 for i in batch) * len(batch) for batch in batches)


def test_every_example_is_seen_once_an_epoch_in_both_orders(tiny_classifier: Classifier) -> None:
    for grouped in (True, False):
        config = TrainConfig(epochs=2, batch_size=3, threads=1, group_by_length=grouped)
        batches = _batches(tiny_classifier, config)
        assert len(batches) == 2 * 14  # ceil(40 / 3) steps an epoch, as training_steps says
        for epoch in (batches[:14], batches[14:]):
            assert sorted(i for batch in epoch for i in batch) == list(range(40))


def test_grouping_by_length_pads_less_and_still_shuffles(tiny_classifier: Classifier) -> None:
    grouped = _batches(tiny_classifier, TrainConfig(epochs=2, batch_size=2, threads=1))
    plain = _batches(
        tiny_classifier, TrainConfig(epochs=2, batch_size=2, threads=1, group_by_length=False)
    )
    assert _padded_words(grouped) < _padded_words(plain)
    assert grouped[:20] != grouped[20:]  # each epoch has its own order
