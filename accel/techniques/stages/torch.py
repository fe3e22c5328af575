"""The PyTorch predictor of a cell: any model that classifies with the reference's tokenizer."""

from __future__ import annotations

import torch

from accel.measure.predictors import TorchPredictor
from accel.techniques.base import BuildContext


def torch_predictor(
    name: str,
    model: torch.nn.Module,
    ctx: BuildContext,
    *,
    device: str | None = None,
    trained_fingerprint: str | None = None,
) -> TorchPredictor:
    """A PyTorch predictor of ``model`` on ``device`` (default: the context's), with the
    reference's tokenizer, intent names and input length limit.

    ``model`` is the reference transformed, or a model trained from it (a student, a pruned
    copy: then give its ``trained_fingerprint``), so it shares the reference's tokenizer,
    classes and position embeddings.
    """
    ref = ctx.reference
    return TorchPredictor(
        name,
        model,
        ref.tokenizer,
        ref.labels,
        device=ctx.device if device is None else device,
        max_positions=ref.model.config.max_position_embeddings,
        trained_fingerprint=trained_fingerprint,
    )
