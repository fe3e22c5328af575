"""Shared fixtures: a tiny random BERT classifier (real tokenizer) and a private cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from accel.artifacts.data import load_clinc
from accel.artifacts.models import Classifier, encoder_dir, state_dict_fingerprint
from accel.techniques import BuildContext

TINY_LABELS = ("oos", "balance", "transfer", "weather", "timer")


@pytest.fixture(scope="session")
def tiny_classifier() -> Classifier:
    """The tiny model of :func:`tiny_model`."""
    return tiny_model()


def tiny_model() -> Classifier:
    """A 6-layer (like the teacher), 32-wide BERT with random weights (seeded: the same in every
    process) and the embedded encoder's tokenizer."""
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir()))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=6,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=len(TINY_LABELS),
        id2label=dict(enumerate(TINY_LABELS)),
        label2id={n: i for i, n in enumerate(TINY_LABELS)},
    )
    model = BertForSequenceClassification(config).eval()
    return Classifier(model, tokenizer, TINY_LABELS, "tiny", state_dict_fingerprint(model))


@pytest.fixture(scope="session")
def tiny_context(
    tiny_classifier: Classifier, tmp_path_factory: pytest.TempPathFactory
) -> BuildContext:
    """Builds the tiny model's artifacts (students included, from a tiny dataset) in a private
    cache, never the user's."""
    data = load_clinc(write_oos_eval(tmp_path_factory.mktemp("data") / "tiny.json"))
    return BuildContext(
        reference=tiny_classifier,
        data=data,
        device="cpu",
        threads=1,
        cache_dir=tmp_path_factory.mktemp("accel-cache"),
    )


def write_oos_eval(path: Path, per_intent: int = 2) -> Path:
    """A small valid oos-eval 'plus' JSON with three intents plus oos."""
    intents = ["balance", "transfer", "weather"]

    def rows(tag: str) -> list[list[str]]:
        return [[f"{tag} {i} {n}", i] for i in intents for n in range(per_intent)]

    doc = {
        "train": rows("train"),
        "val": rows("val"),
        "test": rows("test"),
        "oos_train": [["train oos", "oos"]],
        "oos_val": [["val oos", "oos"]],
        "oos_test": [["test oos a", "oos"], ["test oos b", "oos"]],
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path
