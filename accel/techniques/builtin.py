"""The built-in techniques: name, builder (imported on first use), devices, contract, and
what each needs of the model's family (``accel.artifacts.families``).

Listing them imports no torch: each builder is named as ``module:function``.
"""

from __future__ import annotations

from typing import TypedDict

from accel.artifacts.families import LAYERS, ONNX, STRUCTURED
from accel.gate.contracts import Contract
from accel.measure.capabilities import inductor_cpu, native_bf16, ort_cuda
from accel.techniques.base import Technique
from accel.techniques.registry import REFERENCE

# Unstructured zeros save space only in the compressed artifact (the embeddings, half the
# model, stay dense: 71.2 of 91.1 MB at 50%) and no time in dense kernels: the dense size stays,
# and the speed must merely not drop.
SPARSE_CONTRACT = Contract(
    max_accuracy_drop=0.02,
    max_size_ratio=1.02,
    min_speedup=0.9,
    min_sparsity=0.495,
    max_compressed_size_ratio=0.8,
    min_agreement=0.92,
    max_class_drop=0.2,
)
# Behaviour floors (min_agreement, max_class_drop) from benchmarks/behaviour-cpu.json, every
# CPU cell on CLINC150's 5,500 test utterances (docs/behaviour.md): a cell that only changes
# the runtime agrees on every utterance; int8 agreed on 96.0-96.9%, the pruned models on
# 93.3-94.2%, the students on 91.5-92.8%; no class with 20+ test utterances lost more than
# 0.1 (3 of 30). Ceilings are in multiples of one utterance in 30 (0.033).


class _Behaviour(TypedDict):
    min_agreement: float
    max_class_drop: float


SAME_MODEL: _Behaviour = {"min_agreement": 0.999, "max_class_drop": 0.034}
INT8: _Behaviour = {"min_agreement": 0.95, "max_class_drop": 0.15}
STUDENT: _Behaviour = {"min_agreement": 0.9, "max_class_drop": 0.2}
# Students are cut from the reference's layers, then slimmed by structured pruning.
STUDENT_NEEDS = (LAYERS, STRUCTURED)
CPU_AND_CUDA = frozenset({"cpu", "cuda"})
CPU = frozenset({"cpu"})
CUDA = frozenset({"cuda"})

# The contracts of bf16, torch-compile, fp16 and ort-fp16 are provisional: bf16's and
# torch-compile's come from quick checks on a loaded 2-core AMD EPYC (1 thread), the cuda ones
# from no measurement at all (no GPU was at hand). Revisit them from a quiet-machine run and a
# real GPU run.
BUILTINS: tuple[Technique, ...] = (
    Technique(
        name=REFERENCE,
        description="the reference model, PyTorch eager fp32",
        build="accel.techniques.pytorch:build_fp32",
        devices=CPU_AND_CUDA,
        contract=Contract(),
    ),
    Technique(
        name="torch-int8",
        description="PyTorch dynamic int8 quantization of the Linear layers",
        build="accel.techniques.pytorch:build_torch_int8",
        devices=CPU,
        contract=Contract(min_accuracy_ratio=0.99, max_size_ratio=0.7, min_speedup=1.2, **INT8),
    ),
    Technique(
        name="ort-fp32",
        description="ONNX export, ONNX Runtime with its BERT fusions, fp32",
        build="accel.techniques.onnx_runtime:build_ort_fp32",
        needs=(ONNX,),
        devices=CPU_AND_CUDA,
        contract=Contract(
            min_accuracy_ratio=0.999, max_size_ratio=1.02, min_speedup=1.2, **SAME_MODEL
        ),
        requires=(ort_cuda,),
    ),
    Technique(
        name="ort-int8",
        description="the ort-fp32 graph with ONNX Runtime dynamic int8 quantization",
        build="accel.techniques.onnx_runtime:build_ort_int8",
        needs=(ONNX,),
        devices=CPU,
        contract=Contract(min_accuracy_ratio=0.99, max_size_ratio=0.3, min_speedup=2.0, **INT8),
    ),
    Technique(
        name="bf16",
        description="the reference cast to bfloat16, PyTorch eager",
        build="accel.techniques.half_precision:build_bf16",
        devices=CPU,
        # Quick check: same accuracy as fp32 (1,100 test utterances), 0.50x the size,
        # 1.4x faster (the issue measured 1.6x on a quieter machine).
        contract=Contract(
            min_accuracy_ratio=0.99,
            max_size_ratio=0.55,
            min_speedup=1.2,
            min_agreement=0.995,
            max_class_drop=0.1,
        ),
        requires=(native_bf16,),
    ),
    Technique(
        name="torch-compile",
        description="the reference through torch.compile (inductor, dynamic shapes, "
        "frozen weights); compile time reported apart",
        build="accel.techniques.compiled:build_torch_compile",
        devices=CPU,
        # Quick check: the same predictions as eager fp32, the same weights, 1.6x faster.
        contract=Contract(
            min_accuracy_ratio=0.999, max_size_ratio=1.02, min_speedup=1.3, **SAME_MODEL
        ),
        requires=(inductor_cpu,),
    ),
    Technique(
        name="finetuned-student",
        description="the slimmed 4-layer student trained on the labels alone (no teacher), fp32",
        build="accel.techniques.distilled:build_finetuned_student",
        needs=STUDENT_NEEDS,
        devices=CPU,
        # It drops a third of the layers and half their FFN neurons: it must at least be
        # faster. It is `distilled` without the teacher's logits: the table shows both.
        contract=Contract(min_speedup=1.5, **STUDENT),
    ),
    Technique(
        name="distilled",
        description="the 4-layer student distilled from the reference, half its FFN "
        "neurons pruned and distilled again, PyTorch fp32",
        build="accel.techniques.distilled:build_distilled",
        needs=STUDENT_NEEDS,
        devices=CPU,
        # No promise to beat `finetuned-student`: since training groups batches by length, two
        # cold retrains found it 0.37 and 0.36 points below (docs/distillation.md).
        contract=Contract(min_accuracy_ratio=0.99, min_speedup=1.5, **STUDENT),
    ),
    Technique(
        name="distilled-torch-int8",
        description="the distilled student with PyTorch dynamic int8 quantization",
        build="accel.techniques.distilled:build_distilled_torch_int8",
        needs=STUDENT_NEEDS,
        devices=CPU,
        # Dynamic quantization leaves the embeddings (11.7M parameters) in fp32: measured
        # 52.7 MB, 0.58x the reference.
        contract=Contract(min_accuracy_ratio=0.98, max_size_ratio=0.65, min_speedup=3.0, **STUDENT),
    ),
    Technique(
        name="distilled-ort-int8",
        description="the distilled student in ONNX Runtime, fused and int8-quantized per channel",
        build="accel.techniques.distilled:build_distilled_ort_int8",
        needs=(*STUDENT_NEEDS, ONNX),
        devices=CPU,
        contract=Contract(
            min_accuracy_ratio=0.99, max_size_ratio=0.25, min_speedup=10.0, **STUDENT
        ),
    ),
    Technique(
        name="distilled-ort-lean",
        description="distilled-ort-int8's graph with ONNX Runtime's SkipLayerNormalization "
        "split into Add and LayerNormalization and 4-bit block-quantized word embeddings",
        build="accel.techniques.distilled:build_distilled_ort_lean",
        needs=(*STUDENT_NEEDS, ONNX),
        devices=CPU,
        # The frontier cell (issue 17): at most a sixth of the reference's bytes (12.5 MB of
        # 91.1), and faster than distilled-ort-int8 (docs/techniques.md#distilled-ort-lean).
        contract=Contract(
            min_accuracy_ratio=0.99, max_size_ratio=0.16, min_speedup=15.0, **STUDENT
        ),
    ),
    Technique(
        name="pruned-magnitude",
        description="half the encoder's Linear weights pruned by magnitude while "
        "fine-tuning (cubic schedule, KD); stored as bit mask + nonzeros",
        build="accel.techniques.pruned:build_pruned_magnitude",
        needs=(LAYERS,),
        devices=CPU,
        contract=SPARSE_CONTRACT,
    ),
    Technique(
        name="pruned-movement",
        description="half the encoder's Linear weights pruned by movement (learned "
        "scores, top-k masks) while fine-tuning (cubic schedule, KD); bit mask + nonzeros",
        build="accel.techniques.pruned:build_pruned_movement",
        needs=(LAYERS,),
        devices=CPU,
        contract=SPARSE_CONTRACT,
    ),
    Technique(
        name="pruned-structured",
        description="half the attention heads and feed-forward neurons of every layer "
        "removed by importance, then fine-tuned with KD",
        build="accel.techniques.pruned:build_pruned_structured",
        needs=(STRUCTURED,),
        devices=CPU,
        contract=Contract(
            max_accuracy_drop=0.02,
            max_size_ratio=0.9,
            min_speedup=1.3,
            min_agreement=0.92,
            max_class_drop=0.2,
        ),
    ),
    Technique(
        name="fp16",
        description="the reference cast to float16 on the GPU, PyTorch eager",
        build="accel.techniques.half_precision:build_fp16",
        devices=CUDA,
        # Batch-1 latency of a 6-layer MiniLM on a GPU is bound by kernel launches, so fp16
        # need not be faster there (its gain shows in the reported throughput); it must not
        # be slower.
        contract=Contract(max_accuracy_drop=0.003, max_size_ratio=0.55, min_speedup=0.9),
    ),
    Technique(
        name="ort-fp16",
        description="the ort-fp32 graph converted to float16, ONNX Runtime CUDA provider",
        build="accel.techniques.onnx_runtime:build_ort_fp16",
        needs=(ONNX,),
        devices=CUDA,
        contract=Contract(max_accuracy_drop=0.003, max_size_ratio=0.55, min_speedup=1.2),
        requires=(ort_cuda,),
    ),
)
