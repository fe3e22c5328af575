"""Distillation techniques: a slimmed 4-layer student of the reference, plain and compressed.

The student is built in two cached stages: 4 of the reference's 6 layers are cut out and
trained with the distillation loss (``DISTILLED_RECIPE``); then half of every layer's
feed-forward neurons are removed by importance and the smaller student is fine-tuned again
(``DISTILLED_SLIMMING``, the structured pruning of ``accel.training.structured``).
``finetuned-student`` is the same student built on the labels alone (``alpha = 1`` in both
stages): the honest comparison for ``distilled``. The default recipe's ``alpha``,
``temperature`` and ``epochs`` come from ``accel distill-search`` (recorded in
``benchmarks/distill-search.json``).
"""

from __future__ import annotations

from accel.artifacts.models import Classifier
from accel.measure.predictors import Predictor
from accel.techniques.base import BuildContext
from accel.techniques.stages.onnx import lean_graph, ort_predictor, quantized_graph
from accel.techniques.stages.quantize import quantize_linear_int8
from accel.techniques.stages.students import (
    FINETUNED_RECIPE,
    FINETUNED_SLIMMING,
    distilled_student,
    student,
)
from accel.techniques.stages.torch import torch_predictor

# The student's int8 graph (distilled-ort-int8, and the lean graph made from it) has
# per-channel scales: on students slimmed with seeds 42, 43, 44 (test split, batches of 128),
# per-tensor int8 gave 0.8565, 0.8525, 0.8605 and per-channel 0.8595, 0.8558, 0.8615 (PyTorch:
# 0.8609, 0.8595, 0.8609), at 11.8-13.6x (README).
STUDENT_PER_CHANNEL = True


def _torch(name: str, clf: Classifier, ctx: BuildContext, quantize: bool = False) -> Predictor:
    return torch_predictor(
        name,
        quantize_linear_int8(clf.model) if quantize else clf.model,
        ctx,
        device="cpu" if quantize else None,
        trained_fingerprint=clf.fingerprint,
    )


def build_finetuned_student(ctx: BuildContext) -> Predictor:
    """The student trained on the labels alone (no teacher), PyTorch fp32."""
    return _torch("finetuned-student", student(ctx, FINETUNED_RECIPE, FINETUNED_SLIMMING), ctx)


def build_distilled(ctx: BuildContext) -> Predictor:
    """The distilled student, PyTorch fp32."""
    return _torch("distilled", distilled_student(ctx), ctx)


def build_distilled_torch_int8(ctx: BuildContext) -> Predictor:
    """The distilled student with PyTorch dynamic int8 quantization."""
    return _torch("distilled-torch-int8", distilled_student(ctx), ctx, quantize=True)


def build_distilled_ort_int8(ctx: BuildContext) -> Predictor:
    """The distilled student exported to ONNX, fused and int8-quantized in ONNX Runtime."""
    clf = distilled_student(ctx)
    return ort_predictor(
        "distilled-ort-int8",
        quantized_graph(ctx, clf, per_channel=STUDENT_PER_CHANNEL),
        ctx,
        trained_fingerprint=clf.fingerprint,
    )


def build_distilled_ort_lean(ctx: BuildContext) -> Predictor:
    """``distilled-ort-int8``'s graph with its layer norms split and its word embeddings in
    4-bit blocks (accel.techniques.stages.onnx_edits)."""
    clf = distilled_student(ctx)
    path, edits = lean_graph(ctx, clf, per_channel=STUDENT_PER_CHANNEL)
    predictor = ort_predictor("distilled-ort-lean", path, ctx, trained_fingerprint=clf.fingerprint)
    predictor.reported |= edits
    return predictor
