"""PyTorch techniques: the fp32 reference and dynamic int8 quantization of Linear layers."""

from __future__ import annotations

import copy

from accel.measure.predictors import Predictor, TorchPredictor
from accel.techniques.base import BuildContext
from accel.techniques.stages.quantize import quantize_linear_int8


def build_fp32(ctx: BuildContext) -> Predictor:
    """The reference model, eager PyTorch fp32."""
    ref = ctx.reference
    # The CPU reference is shared by every cell; another device gets its own copy.
    model = ref.model if ctx.device == "cpu" else copy.deepcopy(ref.model)
    return TorchPredictor(
        "fp32",
        model,
        ref.tokenizer,
        ref.labels,
        device=ctx.device,
        max_positions=ref.model.config.max_position_embeddings,
    )


def build_torch_int8(ctx: BuildContext) -> Predictor:
    """Dynamic quantization of every ``nn.Linear`` to int8 (activations quantized per call)."""
    ref = ctx.reference
    return TorchPredictor(
        "torch-int8",
        quantize_linear_int8(ref.model),
        ref.tokenizer,
        ref.labels,
        device="cpu",
        max_positions=ref.model.config.max_position_embeddings,
    )
