"""Realistic performance regressions of an ONNX Runtime int8 cell, for the gate's fidelity
benchmark (test-only, never used by accel/; see also ``benchmarks/slowdown.py``).

Each variant is a mistake a change could plausibly make to ``ort-int8`` or
``distilled-ort-int8``: the same model, tokenizer, labels and threads as the cell, built
differently or run differently, so it predicts (almost) the same labels but slower.
"""

from __future__ import annotations

import argparse
import shutil
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from accel.artifacts.families import optimizer_type
from accel.measure.predictors import OrtPredictor, Predictor
from accel.measure.records import Cell
from accel.techniques.base import BuildContext
from accel.techniques.distilled import STUDENT_PER_CHANNEL
from accel.techniques.stages.onnx import (
    MODEL_FILE,
    export_onnx,
    fused_graph,
    ort_predictor,
    quantize_int8,
)
from accel.techniques.stages.students import distilled_student

if TYPE_CHECKING:
    import onnxruntime
    from transformers import PreTrainedModel
    from transformers import PreTrainedTokenizerBase as Tokenizer

    from accel.matrix import Matrix

TECHNIQUES = ("ort-int8", "distilled-ort-int8")
PAD_TO = 64  # padded-64: every query padded to this many tokens
WORKDIR = Path("/tmp/accel-regressions")


def _unoptimized(path: Path, threads: int, providers: list[str]) -> onnxruntime.InferenceSession:
    """An InferenceSession of ``path`` as OrtPredictor makes one, but with
    ``ORT_DISABLE_ALL`` graph optimizations."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), options, providers=providers)


def _fused_without_attention(model: PreTrainedModel, tokenizer: Tokenizer, out: Path) -> Path:
    """``model`` exported and optimized into ``out`` as ``accel.techniques.stages.onnx._fused``
    does (which keeps no unoptimized export), but with attention fusion off."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    model_type = optimizer_type(model)
    (out / "raw").mkdir(parents=True)
    options = FusionOptions(model_type)
    options.enable_attention = False
    optimize_model(
        str(export_onnx(model, tokenizer, out / "raw")),
        model_type=model_type,
        num_heads=model.config.num_attention_heads,
        hidden_size=model.config.hidden_size,
        opt_level=1,
        optimization_options=options,
    ).save_model_to_file(str(out / MODEL_FILE))
    shutil.rmtree(out / "raw")
    return out / MODEL_FILE


def _layer_nodes(path: Path, layer: int) -> dict[str, str]:
    """Name -> op type of the weight-carrying nodes (MatMul, fused Attention) of encoder
    ``layer`` (the fused Attention is named by its output)."""
    import onnx

    tag = f"/encoder/layer.{layer}/"
    return {
        n.name: str(n.op_type)
        for n in onnx.load(str(path)).graph.node
        if n.op_type in ("MatMul", "Attention") and any(tag in s for s in (n.name, *n.output))
    }


def _pad_inputs(predictor: OrtPredictor, length: int) -> None:
    """Make ``predictor`` pad every batch to at least ``length`` tokens (its Rust pipeline's
    fixed-length padding; truncation unchanged, so the labels stay the cell's)."""
    direct = predictor._direct
    if direct is None:
        raise ValueError(f"{predictor.name}: padding needs a fast tokenizer")
    tok = predictor.tokenizer
    direct.enable_padding(
        direction=tok.padding_side,
        pad_id=tok.pad_token_id,
        pad_type_id=tok.pad_token_type_id,
        pad_token=str(tok.pad_token),
        length=length,
    )


def _quantize_excluding(
    source: Path, out: Path, per_channel: bool, excluded: Iterable[str]
) -> Path:
    """``accel.techniques.stages.onnx.quantize_int8`` with ``nodes_to_exclude``."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path = out / MODEL_FILE
    quantize_dynamic(
        source,
        path,
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
        nodes_to_exclude=list(excluded),
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return path


def realistic_heads(
    matrix: Matrix, technique: str, workdir: Path
) -> dict[str, tuple[Predictor, str]]:
    """name -> (predictor, one-line description of the regression) for ``technique`` in
    ("ort-int8", "distilled-ort-int8"); new graphs are written under ``workdir``."""
    if technique not in TECHNIQUES:
        raise ValueError(f"technique must be one of {TECHNIQUES}, not {technique!r}")
    cell = matrix.predictor(Cell(technique, "cpu"))
    if not isinstance(cell, OrtPredictor):
        raise TypeError(f"{technique}/cpu is not an OrtPredictor")
    ctx = BuildContext(matrix.reference, matrix.data, "cpu", matrix.config.threads)
    student = distilled_student(ctx) if technique == "distilled-ort-int8" else None
    per_channel = STUDENT_PER_CHANNEL if student is not None else False
    workdir = workdir / technique
    shutil.rmtree(workdir, ignore_errors=True)

    def predictor(name: str, path: Path, fp: str | None = cell.trained_fingerprint) -> OrtPredictor:
        return ort_predictor(f"{technique}+{name}", path, ctx, trained_fingerprint=fp)

    opt_off = predictor("graph-opt-off", cell.onnx_path)
    opt_off.session = _unoptimized(cell.onnx_path, ctx.threads, cell.session.get_providers())
    for name in ("fusion-lost", "fp32-layer"):
        (workdir / name).mkdir(parents=True)
    source = student or ctx.reference
    unfused = _fused_without_attention(source.model, ctx.reference.tokenizer, workdir / "fp32")
    quantize_int8(unfused, workdir / "fusion-lost", per_channel)
    shutil.rmtree(workdir / "fp32")
    layers = int(source.model.config.num_hidden_layers)
    fused = fused_graph(ctx, student)
    excluded = _layer_nodes(fused, layers // 2)
    _quantize_excluding(fused, workdir / "fp32-layer", per_channel, excluded)
    padded = predictor(f"padded-{PAD_TO}", cell.onnx_path)
    _pad_inputs(padded, PAD_TO)
    ops = ", ".join(f"{k} {op}" for op, k in sorted(Counter(excluded.values()).items()))
    return {
        "graph-opt-off": (opt_off, "the cell's graph run with ORT_DISABLE_ALL graph optimizations"),
        "fusion-lost": (
            predictor("fusion-lost", workdir / "fusion-lost" / MODEL_FILE),
            f"re-exported, fused without attention (so without embed-layer-norm) fusion, int8 "
            f"(per_channel={per_channel})",
        ),
        "fp32-layer": (
            predictor("fp32-layer", workdir / "fp32-layer" / MODEL_FILE),
            f"the fused graph in int8 but layer {layers // 2} of {layers} in fp32 ({ops} excluded)",
        ),
        f"padded-{PAD_TO}": (padded, f"the cell's graph, every query padded to {PAD_TO} tokens"),
    }


def main() -> None:
    """Build the variants of one cell and print their size and label agreement with it."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("technique", choices=TECHNIQUES, help="the ONNX Runtime cell to regress")
    parser.add_argument("--workdir", type=Path, default=WORKDIR, help="scratch folder for graphs")
    parser.add_argument("-n", type=int, default=50, help="test texts to compare on")
    args = parser.parse_args()

    from accel.matrix import Matrix, RunConfig
    from accel.techniques import builtin_registry

    matrix = Matrix(RunConfig(threads=1, scaling=False), builtin_registry())
    texts = matrix.test_texts[: args.n]
    cell = matrix.predictor(Cell(args.technique, "cpu"))
    expected = cell.predict(texts)
    print(f"{cell.name}: {cell.size_bytes() / 1e6:.1f} MB")
    for name, (head, why) in realistic_heads(matrix, args.technique, args.workdir).items():
        same = sum(a == b for a, b in zip(head.predict(texts), expected, strict=True))
        print(f"{name}: {same}/{len(texts)} labels agree, {head.size_bytes() / 1e6:.1f} MB; {why}")


if __name__ == "__main__":
    main()
