"""Variants of the distilled student's lean graph, timed beside the reference like the matrix.

Usage: ``python benchmarks/lean_variants.py [--rounds 20] [--variants lean,nbits8,...]
[--out benchmarks/lean-variants.json]`` with ``$ACCEL_CLINC_PATH`` set and a cache that holds
the distilled student and its graphs (a gate run made them; nothing is trained here if it
does). Each variant is built into a temporary folder from the cached fused fp32 graph, scored
on the 5,500 test utterances as the gate scores them and timed beside the fp32 reference with the
gate's own round-robin timing (one thread, the gate's 25 latency queries, blocks of 25 calls).
Nothing here is gated; it records what a graph change would give before a cell is made of it
(docs/techniques.md#distilled-ort-lean-towards-20x).

The variants:

* ``lean``: the cell's own graph (``distilled-ort-lean``), from the cache.
* ``nbits{4,8}[b{block}]``: every MatMul of the fused graph as ``MatMulNBits`` (``bits`` 4 or
  8, symmetric, blocks of ``block`` (default 32) along the input axis, ``accuracy_level`` 4:
  int8 compute; ONNX Runtime's ``MatMulNBitsQuantizer``, which needs ``pip install onnx-ir``), the
  attention and the embeddings int8 as in the cell, then the cell's two edits.
* ``<variant>-fastgelu``: that variant with ``BiasGelu`` replaced by ``FastGelu``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from accel.artifacts.data import columns, intent_names, load_clinc
from accel.matrix import LATENCY_QUERIES
from accel.measure.accuracy import measure_accuracy
from accel.measure.machine import machine_record
from accel.measure.timing import TimingPlan, measure_speedups
from accel.techniques import BuildContext
from accel.techniques.distilled import STUDENT_PER_CHANNEL
from accel.techniques.pytorch import build_fp32
from accel.techniques.stages.onnx import (
    LEAN_EMBEDDINGS,
    fused_graph,
    lean_graph,
    ort_predictor,
)
from accel.techniques.stages.onnx_edits import block_quantize_embeddings, split_skip_layer_norms
from accel.techniques.stages.students import distilled_student
from accel.training.teacher import load_classifier


def nbits_graph(fused: Path, out: Path, bits: int, block: int = 32) -> Path:
    """The fused fp32 graph with its MatMuls as ``MatMulNBits`` (int8 compute), its attention
    and embeddings dynamically int8 (per channel), its layer norms split and its word
    embeddings in 4-bit blocks, as the lean cell has them."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    nbits = MatMulNBitsQuantizer(
        onnx.load(str(fused)),
        bits=bits,
        block_size=block,
        is_symmetric=True,
        accuracy_level=4,
        op_types_to_quantize=("MatMul",),
    )
    nbits.process()
    step = out / "nbits.onnx"
    nbits.model.save_model_to_file(str(step))
    int8 = out / "int8.onnx"
    quantize_dynamic(
        step,
        int8,
        weight_type=QuantType.QInt8,
        per_channel=STUDENT_PER_CHANNEL,
        op_types_to_quantize=["Attention", "EmbedLayerNormalization"],
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    model = onnx.load(str(int8))
    split_skip_layer_norms(model)
    block_quantize_embeddings(model, onnx.load(str(fused)), **LEAN_EMBEDDINGS)
    path = out / "model.onnx"
    onnx.save(model, str(path))
    return path


def fast_gelu(source: Path, out: Path) -> Path:
    """``source`` with every ``BiasGelu`` (exact, erf) replaced by ``FastGelu`` (the tanh
    approximation, same inputs): lossy, by at most about 1e-3 of each activation."""
    import onnx

    model = onnx.load(str(source))
    for node in model.graph.node:
        if node.op_type == "BiasGelu":
            node.op_type = "FastGelu"
    path = out / "fastgelu.onnx"
    onnx.save(model, str(path))
    return path


def main() -> None:
    with contextlib.ExitStack() as stack:
        run(stack)


def run(stack: contextlib.ExitStack) -> None:
    """Build, score and time the variants; their graphs live in a folder ``stack`` removes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="timing rounds (the gate's: 20)")
    parser.add_argument(
        "--variants", default="lean,nbits8,nbits4", help="comma-separated variants to build"
    )
    parser.add_argument(
        "--no-timing", action="store_true", help="build and score the variants only (no timing)"
    )
    parser.add_argument("--out", type=Path, help="write the figures to this JSON file")
    args = parser.parse_args()

    data = load_clinc()
    reference = load_classifier("embedded", data)
    ctx = BuildContext(reference=reference, data=data, device="cpu", threads=1)
    student = distilled_student(ctx)
    fused = fused_graph(ctx, student)
    texts, labels = columns(data["test"])
    names = intent_names(data)
    truth = [names[i] for i in labels]

    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lean-variants-")))

    def builder(name: str) -> Callable[[Path], Path]:
        if name.endswith("-fastgelu"):
            inner = builder(name.removesuffix("-fastgelu"))
            return lambda out: fast_gelu(inner(out), out)
        if name == "lean":
            return lambda out: lean_graph(ctx, student, STUDENT_PER_CHANNEL)[0]
        match = re.fullmatch(r"nbits(4|8)(?:b(\d+))?", name)
        if match is None:
            raise SystemExit(f"--variants: unknown {name!r} (lean, nbits4, nbits8b128, ...)")
        bits, block = int(match[1]), int(match[2] or 32)
        return lambda out: nbits_graph(fused, out, bits, block)

    predictors, figures = {}, {}
    for name in args.variants.split(","):
        out = tmp / name
        out.mkdir()
        began = time.perf_counter()
        path = builder(name)(out)
        built = time.perf_counter() - began
        predictor = ort_predictor(name, path, ctx, trained_fingerprint=student.fingerprint)
        accuracy = measure_accuracy(predictor, texts, truth).accuracy
        size = path.stat().st_size
        figures[name] = {"accuracy": accuracy, "size_mb": size / 1e6, "build_s": built}
        predictors[name] = predictor
        print(f"{name}: accuracy {accuracy:.4f}, {size / 1e6:.2f} MB", flush=True)

    ref = build_fp32(ctx)
    ref_accuracy = measure_accuracy(ref, texts, truth).accuracy
    print(f"fp32 reference: accuracy {ref_accuracy:.4f}", flush=True)
    step = max(1, len(texts) // LATENCY_QUERIES)
    queries = texts[::step][:LATENCY_QUERIES]
    plan = TimingPlan(rounds=args.rounds)
    speedups = {} if args.no_timing else measure_speedups(ref, predictors, queries, plan)
    for name, s in speedups.items():
        figures[name] |= {
            "speedup": s.speedup,
            "speedup_interval": [s.interval.low, s.interval.high],
            "p50_ms": s.cell.p50,
            "reference_p50_ms": s.reference.p50,
            "accuracy_drop_points": (ref_accuracy - figures[name]["accuracy"]) * 100,
        }
        print(
            f"{name}: {s.interval.describe()} (p50 {s.cell.p50:.3f} ms, reference "
            f"{s.reference.p50:.2f} ms), accuracy {figures[name]['accuracy']:.4f} "
            f"({figures[name]['accuracy_drop_points']:+.2f} points below {ref_accuracy:.4f})",
            flush=True,
        )
    if args.out:
        record = {
            "machine": machine_record("cpu", ctx.threads),
            "reference_accuracy": ref_accuracy,
            "rounds": args.rounds,
            "variants": figures,
        }
        args.out.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
