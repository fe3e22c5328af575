"""PyTorch techniques: the fp32 reference and dynamic int8 quantization of Linear layers."""

from __future__ import annotations

import copy

from accel.measure.predictors import Predictor
from accel.techniques.base import BuildContext
from accel.techniques.stages.quantize import quantize_linear_int8
from accel.techniques.stages.torch import torch_predictor


def build_fp32(ctx: BuildContext) -> Predictor:
    """The reference model, eager PyTorch fp32."""
    ref = ctx.reference
    # The CPU reference is shared by every cell; another device gets its own copy.
    model = ref.model if ctx.device == "cpu" else copy.deepcopy(ref.model)
    return torch_predictor("fp32", model, ctx)


def build_torch_int8(ctx: BuildContext) -> Predictor:
    """Dynamic quantization of every ``nn.Linear`` to int8 (activations quantized per call)."""
    return torch_predictor(
        "torch-int8", quantize_linear_int8(ctx.reference.model), ctx, device="cpu"
    )
