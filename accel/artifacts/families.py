"""Model families: where each supported architecture keeps what the techniques touch.

One entry per family (its ``config.model_type`` values): the module path of its transformer
layers, the config attribute that counts them, the model type of ONNX Runtime's transformer
optimizer, and the names of the modules that structured pruning resizes. A technique declares
what it needs of a model (``NEEDS``); :func:`unsupported` says why a family cannot give it,
and the gate skips that cell with the reason, naming the family.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accel.artifacts.models import EMBEDDED, encoder_dir

# What a technique may need of a model's family.
LAYERS = "layers"  # cut students from its layers, prune its encoder's Linear weights
ONNX = "onnx"  # ONNX Runtime's transformer fusions
STRUCTURED = "structured"  # remove whole attention heads and feed-forward neurons
NEEDS = (LAYERS, ONNX, STRUCTURED)


class FamilyError(ValueError):
    """A model whose family accel does not know; the message lists the supported ones."""


@dataclass(frozen=True)
class Structure:
    """Module names inside one layer, for structured pruning (heads and FFN neurons)."""

    attention: str  # the self-attention module, whose head count is rewritten
    projections: tuple[str, ...]  # query, key, value
    attention_out: str
    ffn_in: str
    ffn_out: str


@dataclass(frozen=True)
class Family:
    """What the techniques need to know of one architecture."""

    name: str
    model_types: tuple[str, ...]  # config.model_type values
    layers: str  # the layer list, relative to the model's base model (``model.base_model``)
    layer_count: str  # the config attribute holding the number of layers
    ort_model_type: str | None  # onnxruntime.transformers.optimizer's model_type
    structure: Structure | None
    missing: Mapping[str, str] = field(default_factory=dict)  # need -> why the family lacks it

    def __post_init__(self) -> None:
        for need, present in ((ONNX, self.ort_model_type), (STRUCTURED, self.structure)):
            if (present is None) != (need in self.missing):
                raise ValueError(f"family {self.name!r}: give {need} or say why it is missing")

    def lacks(self, need: str) -> str | None:
        """Why this family cannot give ``need``, or None."""
        if need not in NEEDS:
            raise ValueError(f"unknown need {need!r}; known: {', '.join(NEEDS)}")
        return self.missing.get(need)

    def layer_list(self, model: Any) -> list[Any]:
        """The transformer layers of ``model`` (a ``transformers`` model of this family)."""
        return list(model.base_model.get_submodule(self.layers))


BERT_STRUCTURE = Structure(
    attention="attention.self",
    projections=("attention.self.query", "attention.self.key", "attention.self.value"),
    attention_out="attention.output.dense",
    ffn_in="intermediate.dense",
    ffn_out="output.dense",
)

# ORT's "bert" optimizer fuses all four (checked on tiny random models with onnxruntime 1.32:
# Attention, SkipLayerNormalization and BiasGelu in every layer, logits within 1e-8).
FAMILIES: tuple[Family, ...] = (
    Family("bert", ("bert",), "encoder.layer", "num_hidden_layers", "bert", BERT_STRUCTURE),
    Family(
        "distilbert",
        ("distilbert",),
        "transformer.layer",
        "n_layers",
        "bert",
        None,
        missing={
            STRUCTURED: "structured pruning (accel.training.structured) resizes BERT's "
            "attention.self.query/key/value and intermediate/output.dense; DistilBERT's layers "
            "name them attention.q_lin/k_lin/v_lin/out_lin and ffn.lin1/lin2"
        },
    ),
    Family("roberta", ("roberta",), "encoder.layer", "num_hidden_layers", "bert", BERT_STRUCTURE),
    Family(
        "xlm-roberta",
        ("xlm-roberta",),
        "encoder.layer",
        "num_hidden_layers",
        "bert",
        BERT_STRUCTURE,
    ),
)
_BY_TYPE = {t: f for f in FAMILIES for t in f.model_types}


def supported() -> str:
    """The supported model types, for messages."""
    return ", ".join(_BY_TYPE)


def family(model_type: str) -> Family:
    """The family of ``config.model_type``; a :class:`FamilyError` lists the supported ones."""
    try:
        return _BY_TYPE[model_type]
    except KeyError:
        raise FamilyError(
            f"model type {model_type!r} is not a supported family; supported: {supported()} "
            "(accel.artifacts.families)"
        ) from None


def family_of(model: Any) -> Family:
    """The family of a ``transformers`` model (by its config's ``model_type``)."""
    return family(str(model.config.model_type))


def optimizer_type(model: Any) -> str:
    """The ``model_type`` of ONNX Runtime's optimizer for ``model``'s family; a
    :class:`FamilyError` says why there is none."""
    found = family_of(model)
    if found.ort_model_type is None:
        raise FamilyError(
            f"the {found.name} family has no ONNX Runtime fusions: {found.lacks(ONNX)}"
        )
    return found.ort_model_type


def unsupported(model_type: str | None, needs: Iterable[str], technique: str) -> str | None:
    """Why ``technique``, which needs ``needs`` of a model, cannot run on a ``model_type``
    model (a reason that names the family), or None. An unknown ``model_type`` (None) passes."""
    needs = tuple(needs)
    if not needs or model_type is None:
        return None
    if model_type not in _BY_TYPE:
        return (
            f"{technique} needs the model's {'/'.join(needs)} layout, known for the families "
            f"{supported()} only; this model's family is {model_type!r}"
        )
    found = family(model_type)
    for need in needs:
        why = found.lacks(need)
        if why:
            return f"{technique} does not support the {found.name} family: {why}"
    return None


def layer_key_pattern() -> re.Pattern[str]:
    """A state-dict key inside a transformer layer of any family: ``prefix``, ``index``,
    ``rest`` (``bert.encoder.layer.`` ``3`` ``.output.dense.weight``)."""
    paths = "|".join(re.escape(p) for p in sorted({f.layers for f in FAMILIES}))
    return re.compile(rf"^(?P<prefix>.*\b(?:{paths})\.)(?P<index>\d+)(?P<rest>\..*)$")


def layer_module_pattern() -> re.Pattern[str]:
    """A module name inside a transformer layer of any family (``bert.encoder.layer.3.``)."""
    paths = "|".join(re.escape(p) for p in sorted({f.layers for f in FAMILIES}))
    return re.compile(rf"(^|\.)(?:{paths})\.\d+\.")


@functools.lru_cache(maxsize=8)
def checkpoint_model_type(spec: str) -> str | None:
    """``model_type`` of a reference given as ``--accel-model``: the embedded teacher's encoder,
    a checkpoint directory's ``config.json``, or a hub id's config (read through
    ``transformers``, which may download it)."""
    location = encoder_dir() if str(spec) == EMBEDDED else Path(spec)
    config = location / "config.json"
    if config.is_file():
        found = json.loads(config.read_text(encoding="utf-8")).get("model_type")
        return None if found is None else str(found)
    from transformers import AutoConfig

    return str(AutoConfig.from_pretrained(str(spec)).model_type)


__all__ = [
    "FAMILIES",
    "LAYERS",
    "NEEDS",
    "ONNX",
    "STRUCTURED",
    "Family",
    "FamilyError",
    "Structure",
    "checkpoint_model_type",
    "family",
    "family_of",
    "layer_key_pattern",
    "layer_module_pattern",
    "optimizer_type",
    "supported",
    "unsupported",
]
