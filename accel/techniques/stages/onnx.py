"""ONNX stages shared by technique families: export, ONNX Runtime fusions, int8, fp16.

Each graph is a cached artifact keyed on its recipe; families compose them (``ort-int8`` and
``distilled-ort-int8`` both quantize a fused graph).
"""

from __future__ import annotations

import copy
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from accel.measure.predictors import OrtPredictor, Predictor
from accel.techniques.base import BuildContext

OPSET = 17


MODEL_FILE = "model.onnx"


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


def optimize_bert(source: Path, out: Path, num_heads: int, hidden_size: int) -> Path:
    """Apply ONNX Runtime's BERT fusions (attention, layer norm, GELU) offline."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(
        str(source), model_type="bert", num_heads=num_heads, hidden_size=hidden_size, opt_level=1
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


def _fused_recipe(source: Mapping[str, object] | None) -> dict[str, object]:
    recipe: dict[str, object] = {
        "stage": "ort-fused",
        "attention": "eager",
        "opset": OPSET,
        "torch": torch.__version__,
        "ort": _ort_version(),
    }
    if source is not None:  # a model derived from the reference (a student), by its recipe
        recipe["source"] = dict(source)
    return recipe


def fused_graph(
    ctx: BuildContext,
    model: PreTrainedModel | None = None,
    source: Mapping[str, object] | None = None,
) -> Path:
    """The cached fused fp32 graph of ``model`` (default: the reference).

    A model other than the reference must come with ``source``, the recipe it was built
    from, which keys its cache entry.
    """
    if (model is None) != (source is None):
        raise ValueError("give both `model` and its `source` recipe, or neither")
    model = ctx.reference.model if model is None else model
    config = model.config

    def build(out: Path) -> None:
        raw = out / "raw"
        raw.mkdir()
        export_onnx(model, ctx.reference.tokenizer, raw)
        optimize_bert(raw / MODEL_FILE, out, config.num_attention_heads, config.hidden_size)
        shutil.rmtree(raw)

    return ctx.artifact("onnx", _fused_recipe(source), build) / MODEL_FILE


def quantized_graph(
    ctx: BuildContext,
    model: PreTrainedModel | None = None,
    source: Mapping[str, object] | None = None,
    per_channel: bool = False,
) -> Path:
    """The cached int8 graph of ``model`` (default: the reference); see ``fused_graph`` and
    ``quantize_int8``."""
    fused = fused_graph(ctx, model, source)

    def build(out: Path) -> None:
        quantize_int8(fused, out, per_channel)

    recipe: dict[str, object] = {"stage": "ort-int8", "source": _fused_recipe(source)}
    if per_channel:  # only then: the per-tensor graphs keep their cache entries
        recipe["per_channel"] = True
    return ctx.artifact("onnx", recipe, build) / MODEL_FILE


def fp16_graph(ctx: BuildContext) -> Path:
    fused = fused_graph(ctx)

    def build(out: Path) -> None:
        convert_fp16(fused, out)

    recipe = {"stage": "ort-fp16", "keep_io_types": True, "source": _fused_recipe(None)}
    return ctx.artifact("onnx", recipe, build) / MODEL_FILE


def _ort_version() -> str:
    import onnxruntime

    return str(onnxruntime.__version__)


def _providers(device: str) -> tuple[str, ...]:
    return ("CUDAExecutionProvider",) if device == "cuda" else ("CPUExecutionProvider",)


def ort_predictor(
    name: str, path: Path, ctx: BuildContext, trained_fingerprint: str | None = None
) -> Predictor:
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
