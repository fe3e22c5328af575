"""16-bit floating point: the reference cast to bfloat16 (CPU) or float16 (GPU), eager PyTorch.

Every weight and activation is 16-bit (``model.to(dtype)``), so the artifact is half the
size. Checked on the embedded teacher (1 thread, loaded machine): a plain cast and
``torch.autocast`` gave the same accuracy and latency within noise, and autocast keeps fp32
weights (no size gain) and casts them on every call, so the plain cast is used.
"""

from __future__ import annotations

import copy

import torch

from accel.measure.predictors import Predictor
from accel.techniques.base import BuildContext
from accel.techniques.stages.torch import torch_predictor


def _cast(ctx: BuildContext, name: str, dtype: torch.dtype) -> Predictor:
    model: torch.nn.Module = copy.deepcopy(ctx.reference.model)
    return torch_predictor(name, model.to(dtype=dtype), ctx)


def build_bf16(ctx: BuildContext) -> Predictor:
    """The reference in bfloat16 (needs native bf16 instructions to pay off on a CPU)."""
    return _cast(ctx, "bf16", torch.bfloat16)


def build_fp16(ctx: BuildContext) -> Predictor:
    """The reference in float16 (``.half()``), meant for the GPU."""
    return _cast(ctx, "fp16", torch.float16)
