"""Structured pruning of BERT-style encoders: whole attention heads and feed-forward neurons.

Importance is the first-order estimate of the loss change when a head or neuron is removed
(Michel et al. 2019; Molchanov et al. 2017): for each example, ``|sum(a * dL/da)|`` over the
head's context vectors or the neuron's activations, summed over a sample of the train split.
Every layer keeps the same number of heads and of neurons (a fraction of the model's), chosen
by that score, in smaller ``nn.Linear`` matrices. ``config.intermediate_size`` records the
neurons; the heads are recorded in ``config.accel_attention_heads`` (the head size stays
``hidden / num_attention_heads`` of the original config, which ``transformers`` cannot express
otherwise), so :func:`load_structured` rebuilds the shapes before loading the weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn
from tqdm.auto import tqdm
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from accel.artifacts.families import BERT_STRUCTURE
from accel.validation import check_in_range

HEADS_ATTRIBUTE = "accel_attention_heads"
WEIGHTS_FILE = "model.safetensors"
# loss(logits, labels) for the importance pass
ImportanceLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Structure:
    """The fraction of its attention heads and of its feed-forward neurons every layer keeps."""

    heads: float
    neurons: float

    def __post_init__(self) -> None:
        check_in_range(self, "heads", 0, 1, "(]")
        check_in_range(self, "neurons", 0, 1, "(]")

    def counts(self, heads: int, neurons: int) -> LayerShape:
        """Heads and neurons kept out of ``heads`` and ``neurons`` (at least one each)."""
        return LayerShape(
            heads=max(1, round(self.heads * heads)), neurons=max(1, round(self.neurons * neurons))
        )


@dataclass(frozen=True)
class LayerShape:
    """How many attention heads and feed-forward neurons a layer has."""

    heads: int
    neurons: int


@dataclass(frozen=True)
class Importance:
    """Importance scores: ``heads`` is (layers, heads), ``neurons`` is (layers, neurons)."""

    heads: torch.Tensor
    neurons: torch.Tensor


# The BERT layout (BERT, RoBERTa, XLM-RoBERTa; accel.artifacts.families): module names in a layer.
ATTENTION = BERT_STRUCTURE.attention
PROJECTIONS = BERT_STRUCTURE.projections
ATTENTION_OUT = BERT_STRUCTURE.attention_out
FFN_IN, FFN_OUT = BERT_STRUCTURE.ffn_in, BERT_STRUCTURE.ffn_out


def _linear(layer: nn.Module, path: str) -> nn.Linear:
    module = layer.get_submodule(path)
    if not isinstance(module, nn.Linear):
        raise ValueError(f"expected an nn.Linear at {path}, got {type(module).__name__}")
    return module


def _replace(layer: nn.Module, path: str, new: nn.Linear) -> None:
    parent, _, name = path.rpartition(".")
    setattr(layer.get_submodule(parent), name, new)


def _layers(model: PreTrainedModel) -> Sequence[nn.Module]:
    encoder = getattr(model.base_model, "encoder", None)
    if encoder is None or not hasattr(encoder, "layer"):
        raise ValueError(f"{type(model).__name__} has no BERT-style encoder.layer list")
    return list(encoder.layer)


def head_size(model: PreTrainedModel) -> int:
    return int(model.config.hidden_size // model.config.num_attention_heads)


def importance_scores(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    labels: Sequence[int],
    loss_fn: ImportanceLoss = nn.functional.cross_entropy,
    batch_size: int = 32,
    max_length: int = 64,
) -> Importance:
    """Per-example ``|activation x gradient|`` of every head and neuron, summed over ``texts``.

    The model is left unchanged (eval mode, gradients cleared).
    """
    layers = _layers(model)
    size = head_size(model)
    captured: dict[tuple[int, str], torch.Tensor] = {}

    def capture(key: tuple[int, str]) -> Callable[..., None]:
        def hook(_: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            inputs[0].retain_grad()
            captured[key] = inputs[0]

        return hook

    handles = []
    for i, layer in enumerate(layers):
        handles.append(_linear(layer, ATTENTION_OUT).register_forward_pre_hook(capture((i, "h"))))
        handles.append(_linear(layer, FFN_OUT).register_forward_pre_hook(capture((i, "n"))))
    heads = torch.zeros(len(layers), _linear(layers[0], ATTENTION_OUT).in_features // size)
    neurons = torch.zeros(len(layers), _linear(layers[0], FFN_OUT).in_features)
    model.eval()
    try:
        for start in tqdm(
            range(0, len(texts), batch_size), desc="importance of heads and neurons", unit="batch"
        ):
            batch = tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            gold = torch.tensor(list(labels[start : start + batch_size]), dtype=torch.long)
            loss_fn(model(**batch).logits, gold).backward()
            for i in range(len(layers)):
                for kind, sink in (("h", heads), ("n", neurons)):
                    act = captured[(i, kind)]
                    assert act.grad is not None
                    per_example = (act * act.grad).sum(dim=1)  # (batch, features)
                    if kind == "h":
                        per_example = per_example.view(len(gold), -1, size).sum(dim=-1)
                    sink[i] += per_example.abs().sum(dim=0).detach()
            captured.clear()
            model.zero_grad(set_to_none=True)
    finally:
        for handle in handles:
            handle.remove()
    return Importance(heads=heads, neurons=neurons)


def _rows(linear: nn.Linear, index: torch.Tensor) -> nn.Linear:
    out = nn.Linear(linear.in_features, len(index), bias=linear.bias is not None)
    with torch.no_grad():
        out.weight.copy_(linear.weight[index])
        if linear.bias is not None:
            out.bias.copy_(linear.bias[index])
    return out


def _columns(linear: nn.Linear, index: torch.Tensor) -> nn.Linear:
    out = nn.Linear(len(index), linear.out_features, bias=linear.bias is not None)
    with torch.no_grad():
        out.weight.copy_(linear.weight[:, index])
        if linear.bias is not None:
            out.bias.copy_(linear.bias)
    return out


def _top(scores: torch.Tensor, k: int) -> torch.Tensor:
    return scores.topk(k).indices.sort().values


def _set_heads(layer: nn.Module, heads: torch.Tensor, size: int) -> None:
    index = (heads[:, None] * size + torch.arange(size)).flatten()
    for path in PROJECTIONS:
        _replace(layer, path, _rows(_linear(layer, path), index))
    _replace(layer, ATTENTION_OUT, _columns(_linear(layer, ATTENTION_OUT), index))
    attention: Any = layer.get_submodule(ATTENTION)  # BertSelfAttention or alike
    attention.num_attention_heads = len(heads)
    attention.all_head_size = len(heads) * size


def _set_neurons(layer: nn.Module, neurons: torch.Tensor) -> None:
    _replace(layer, FFN_IN, _rows(_linear(layer, FFN_IN), neurons))
    _replace(layer, FFN_OUT, _columns(_linear(layer, FFN_OUT), neurons))


def prune_structure(
    model: PreTrainedModel, structure: Structure, importance: Importance
) -> LayerShape:
    """Keep the most important heads and neurons of every layer, in the fractions of
    ``structure``, in place (smaller matrices); the config records the new shape."""
    layers = _layers(model)
    size = head_size(model)
    if importance.heads.shape[0] != len(layers) or importance.neurons.shape[0] != len(layers):
        raise ValueError(f"importance scores must have one row per layer ({len(layers)})")
    shape = structure.counts(importance.heads.shape[1], importance.neurons.shape[1])
    for i, layer in enumerate(layers):
        _set_heads(layer, _top(importance.heads[i], shape.heads), size)
        _set_neurons(layer, _top(importance.neurons[i], shape.neurons))
    setattr(model.config, HEADS_ATTRIBUTE, shape.heads)
    model.config.intermediate_size = shape.neurons
    return shape


def shape_of(model: PreTrainedModel) -> LayerShape:
    """The heads and neurons per layer of ``model`` (pruned or not)."""
    layer = _layers(model)[0]
    return LayerShape(
        heads=_linear(layer, ATTENTION_OUT).in_features // head_size(model),
        neurons=_linear(layer, FFN_OUT).in_features,
    )


def load_structured(path: Path) -> PreTrainedModel:
    """Load a model saved (``save_pretrained``) after :func:`prune_structure`."""
    config = AutoConfig.from_pretrained(str(path))
    model = AutoModelForSequenceClassification.from_config(config)
    heads = getattr(config, HEADS_ATTRIBUTE, None)
    if heads is not None:
        size = head_size(model)
        for layer in _layers(model):
            _set_heads(layer, torch.arange(int(heads)), size)
    model.load_state_dict(load_file(str(path / WEIGHTS_FILE)), strict=True)
    return model.eval()


__all__ = [
    "HEADS_ATTRIBUTE",
    "Importance",
    "LayerShape",
    "Structure",
    "importance_scores",
    "load_structured",
    "prune_structure",
    "shape_of",
]
