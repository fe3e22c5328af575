"""ONNX stages shared by technique families: export, ONNX Runtime fusions, int8, fp16.

The fusions are those of ONNX Runtime's optimizer for the model's family
(``accel.artifacts.families``).

Each graph is a cached artifact keyed on its recipe, its code and its source; families compose
them (``ort-int8`` and ``distilled-ort-int8`` both quantize a fused graph).
"""

from __future__ import annotations

import copy
import functools
import json
import shutil
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from accel.artifacts.families import family_of, optimizer_type
from accel.artifacts.models import Classifier
from accel.artifacts.provenance import Artifact
from accel.measure.predictors import OrtPredictor
from accel.techniques.base import BuildContext
from accel.techniques.stages.onnx_edits import (
    block_quantize_embeddings,
    embedding_layout,
    split_skip_layer_norms,
)

OPSET = 17


MODEL_FILE = "model.onnx"
EDITS_FILE = "edits.json"  # what lean_graph did (not part of the model's size: not model.*)
# The lean graph's word embeddings: 4-bit, one scale per 64 values (12.5 MB for the distilled
# student against 17.0 with int8 ones, the same accuracy: docs/techniques.md).
LEAN_EMBEDDINGS = {"bits": 4, "block": 64}


def export_onnx(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, out: Path) -> Path:
    """Export a sequence classifier to ONNX with dynamic batch and sequence axes.

    A private copy is traced, with eager attention: tracing alters the traced modules' later
    PyTorch outputs on padded batches, and ONNX Runtime's BERT fusions match the eager
    attention pattern (not the SDPA one).
    """
    sample = tokenizer(
        ["accel export sample", "a second, longer sample text"], padding=True, return_tensors="pt"
    )
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    model = copy.deepcopy(model).eval().cpu()
    model.set_attn_implementation("eager")

    class _Logits(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, inputs, strict=True))).logits

    path = out / MODEL_FILE
    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Logits(model),
            tuple(sample[n] for n in names),
            str(path),
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    return path


def optimize_graph(
    source: Path, out: Path, model_type: str, num_heads: int, hidden_size: int
) -> Path:
    """Apply ONNX Runtime's transformer fusions (attention, layer norm, GELU) offline, those of
    its optimizer's ``model_type`` (``"bert"`` for every family accel supports)."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(
        str(source),
        model_type=model_type,
        num_heads=num_heads,
        hidden_size=hidden_size,
        opt_level=1,
    )
    path = out / MODEL_FILE
    optimized.save_model_to_file(str(path))
    return path


def quantize_int8(source: Path, out: Path, per_channel: bool = False) -> Path:
    """Dynamic int8 quantization of the weights (MatMul, Attention, Gather) of a fused graph;
    ``per_channel`` gives every output channel of a weight its own scale."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path = out / MODEL_FILE
    quantize_dynamic(
        source,
        path,
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
        # needed for graphs with ORT contrib ops, whose output types the quantizer can't infer
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return path


def convert_fp16(source: Path, out: Path) -> Path:
    """The fused graph in float16 (weights and compute), with fp32 logits and int64 inputs.

    ONNX Runtime's transformer-aware conversion: symbolic shape inference types the fused
    contrib ops (Attention, SkipLayerNormalization), and the graph's inputs and outputs keep
    their types, so the predictor feeds and reads it like the fp32 graph. Meant for the CUDA
    execution provider: the CPU one has no fp16 kernels for most of these ops.
    """
    import onnx
    from onnxruntime.transformers.onnx_model import OnnxModel

    model = OnnxModel(onnx.load(str(source)))
    model.convert_float_to_float16(keep_io_types=True)
    path = out / MODEL_FILE
    model.save_model_to_file(str(path))
    return path


def _fused(ctx: BuildContext, student: Classifier | None) -> Artifact:
    if student is not None and not student.artifacts:
        raise ValueError("a model other than the reference must be a cached artifact")
    source = ctx.reference if student is None else student
    model = source.model
    config = model.config
    model_type = optimizer_type(model)

    def build(out: Path) -> None:
        raw = out / "raw"
        raw.mkdir()
        export_onnx(model, ctx.reference.tokenizer, raw)
        optimize_graph(
            raw / MODEL_FILE, out, model_type, config.num_attention_heads, config.hidden_size
        )
        shutil.rmtree(raw)

    recipe = {"stage": "ort-fused", "attention": "eager", "opset": OPSET, "fusions": model_type}
    return ctx.artifact("onnx", recipe, build, (source.identity(),))


def fused_graph(ctx: BuildContext, student: Classifier | None = None) -> Path:
    """The cached fused fp32 graph of the reference, or of ``student`` (a model built from it as
    a cached artifact: a distilled student)."""
    return _fused(ctx, student).path / MODEL_FILE


def _converted(
    ctx: BuildContext,
    fused: Artifact,
    recipe: Mapping[str, object],
    convert: Callable[[Path, Path], Path],
) -> Artifact:
    """A graph converted from a fused one by ``convert(source, out)``, keyed on ``recipe``, the
    conversion's code and the fused graph."""
    source = fused.path / MODEL_FILE

    def build(out: Path) -> None:
        convert(source, out)

    return ctx.artifact("onnx", recipe, build, (fused.identity(),))


def quantized_graph(
    ctx: BuildContext, student: Classifier | None = None, per_channel: bool = False
) -> Path:
    """The cached int8 graph of the reference or ``student``; see ``fused_graph`` and
    ``quantize_int8``."""
    return _quantized(ctx, _fused(ctx, student), per_channel).path / MODEL_FILE


def _quantized(ctx: BuildContext, fused: Artifact, per_channel: bool) -> Artifact:
    recipe = {"stage": "ort-int8", "per_channel": per_channel}
    convert = functools.partial(quantize_int8, per_channel=per_channel)
    return _converted(ctx, fused, recipe, convert)


def lean_graph(
    ctx: BuildContext, student: Classifier, per_channel: bool
) -> tuple[Path, dict[str, float]]:
    """The cached int8 graph of ``student`` (see ``quantized_graph``) with the edits of
    :mod:`accel.techniques.stages.onnx_edits` (split layer norms; 4-bit word embeddings where
    the family's embedding layout allows), and what was done (``skip_layer_norms_split``,
    ``embedding_bits``: 4, or 8 where the int8 table was kept)."""
    fused = _fused(ctx, student)
    int8 = _quantized(ctx, fused, per_channel)
    family = family_of(student.model).name

    def build(out: Path) -> None:
        import onnx

        model = onnx.load(str(int8.path / MODEL_FILE))
        edits = {"skip_layer_norms_split": float(split_skip_layer_norms(model))}
        source = onnx.load(str(fused.path / MODEL_FILE))
        block = LEAN_EMBEDDINGS["block"]
        why = embedding_layout(source, block) if family == "bert" else f"{family}, not bert"
        if why is None:
            edits["embedding_error"] = block_quantize_embeddings(model, source, **LEAN_EMBEDDINGS)
        edits["embedding_bits"] = float(LEAN_EMBEDDINGS["bits"] if why is None else 8)
        onnx.save(model, str(out / MODEL_FILE))
        (out / EDITS_FILE).write_text(json.dumps(edits | {"kept_int8": why}), encoding="utf-8")

    recipe = {"stage": "ort-lean", "embeddings": LEAN_EMBEDDINGS, "skip_layer_norm": "split"}
    artifact = ctx.artifact("onnx", recipe, build, (int8.identity(), fused.identity()))
    done = json.loads((artifact.path / EDITS_FILE).read_text(encoding="utf-8"))
    shown = ("skip_layer_norms_split", "embedding_bits")
    figures = {k: float(v) for k, v in done.items() if k in shown}
    return artifact.path / MODEL_FILE, figures


def fp16_graph(ctx: BuildContext) -> Path:
    """The cached fp16 graph of the reference (see ``convert_fp16``)."""
    return _converted(ctx, _fused(ctx, None), {"stage": "ort-fp16"}, convert_fp16).path / MODEL_FILE


def _providers(device: str) -> tuple[str, ...]:
    return ("CUDAExecutionProvider",) if device == "cuda" else ("CPUExecutionProvider",)


def ort_predictor(
    name: str, path: Path, ctx: BuildContext, trained_fingerprint: str | None = None
) -> OrtPredictor:
    """An ONNX Runtime predictor of ``path`` on the context's device, with its threads."""
    ref = ctx.reference
    return OrtPredictor(
        name,
        path,
        ref.tokenizer,
        ref.labels,
        threads=ctx.threads,
        providers=_providers(ctx.device),
        max_positions=ref.model.config.max_position_embeddings,
        trained_fingerprint=trained_fingerprint,
    )
