"""ONNX Runtime techniques: export, BERT graph fusions, int8 quantization, fp16 conversion."""

from __future__ import annotations

from accel.measure.predictors import Predictor
from accel.techniques.base import BuildContext
from accel.techniques.stages.onnx import fp16_graph, fused_graph, ort_predictor, quantized_graph


def build_ort_fp32(ctx: BuildContext) -> Predictor:
    """The reference exported to ONNX with ONNX Runtime's BERT fusions, fp32."""
    return ort_predictor("ort-fp32", fused_graph(ctx), ctx)


def build_ort_int8(ctx: BuildContext) -> Predictor:
    """The fused graph with int8 dynamic quantization."""
    return ort_predictor("ort-int8", quantized_graph(ctx), ctx)


def build_ort_fp16(ctx: BuildContext) -> Predictor:
    """The fused graph converted to float16, for ONNX Runtime's CUDA execution provider."""
    return ort_predictor("ort-fp16", fp16_graph(ctx), ctx)
