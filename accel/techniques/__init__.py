"""The technique registry: name -> recipe, devices and contract.

Heavy imports (onnxruntime) happen inside the builders that need them.
"""

from __future__ import annotations

from accel.techniques.base import BuildContext, Contract, Technique
from accel.techniques.distilled import (
    build_distilled,
    build_distilled_ort_int8,
    build_distilled_torch_int8,
    build_finetuned_student,
)
from accel.techniques.onnx_runtime import build_ort_fp32, build_ort_int8
from accel.techniques.pytorch import build_fp32, build_torch_int8

REFERENCE = "fp32"
CPU_AND_CUDA = frozenset({"cpu", "cuda"})
CPU = frozenset({"cpu"})

TECHNIQUES: dict[str, Technique] = {
    t.name: t
    for t in (
        Technique(
            name=REFERENCE,
            description="the reference model, PyTorch eager fp32",
            build=build_fp32,
            devices=CPU_AND_CUDA,
            contract=Contract(),
        ),
        Technique(
            name="torch-int8",
            description="PyTorch dynamic int8 quantization of the Linear layers",
            build=build_torch_int8,
            devices=CPU,
            contract=Contract(min_accuracy_ratio=0.99, max_size_ratio=0.7, min_speedup=1.2),
        ),
        Technique(
            name="ort-fp32",
            description="ONNX export, ONNX Runtime with its BERT fusions, fp32",
            build=build_ort_fp32,
            devices=CPU_AND_CUDA,
            contract=Contract(min_accuracy_ratio=0.999, max_size_ratio=1.02, min_speedup=1.2),
        ),
        Technique(
            name="ort-int8",
            description="the ort-fp32 graph with ONNX Runtime dynamic int8 quantization",
            build=build_ort_int8,
            devices=CPU,
            contract=Contract(min_accuracy_ratio=0.99, max_size_ratio=0.3, min_speedup=2.0),
        ),
        Technique(
            name="finetuned-student",
            description="the 3-layer student trained on the labels alone (no teacher), fp32",
            build=build_finetuned_student,
            devices=CPU,
            # It drops half the layers: it must at least be faster; its accuracy is what
            # `distilled` must beat.
            contract=Contract(min_speedup=1.5),
        ),
        Technique(
            name="distilled",
            description="the 3-layer student distilled from the reference, PyTorch fp32",
            build=build_distilled,
            devices=CPU,
            contract=Contract(min_accuracy_ratio=0.99, min_speedup=1.5, beats="finetuned-student"),
        ),
        Technique(
            name="distilled-torch-int8",
            description="the distilled student with PyTorch dynamic int8 quantization",
            build=build_distilled_torch_int8,
            devices=CPU,
            contract=Contract(min_accuracy_ratio=0.98, max_size_ratio=0.5, min_speedup=3.0),
        ),
        Technique(
            name="distilled-ort-int8",
            description="the distilled student in ONNX Runtime, fused and int8-quantized",
            build=build_distilled_ort_int8,
            devices=CPU,
            contract=Contract(min_accuracy_ratio=0.99, max_size_ratio=0.25, min_speedup=10.0),
        ),
    )
}

DEVICES = ("cpu", "cuda")

__all__ = ["DEVICES", "REFERENCE", "TECHNIQUES", "BuildContext", "Contract", "Technique"]
