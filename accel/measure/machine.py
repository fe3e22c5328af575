"""The machine a measurement ran on, and whether two records describe the same one."""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Fields that must agree for raw milliseconds to be comparable (and the instruction sets, where
# both records have them).
MATCH_FIELDS = ("cpu", "threads", "device", "gpu")
# The instruction sets that decide which CPU kernels PyTorch and ONNX Runtime run (int8 dot
# products: VNNI, AMX-INT8; bf16: AVX512-BF16, AMX-BF16), in cpuinfo's spelling.
KERNEL_ISA = (
    "avx2",
    "avx512f",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
)


@dataclass(frozen=True)
class Incomparable:
    """Why a measurement's latency cannot be compared with a baseline's: it then only warns."""

    note: str  # the comparison row's note: "<note>, not gated"
    where: str  # the verdict's words: "warn: speedup on <where>"
    why: str  # a sentence for the failure message and the table's title


@lru_cache(maxsize=1)
def cpu_name() -> str:
    """The CPU's brand string (via py-cpuinfo, which pytest-benchmark already uses)."""
    try:
        import cpuinfo

        return str(cpuinfo.get_cpu_info().get("brand_raw") or platform.processor() or "unknown")
    except Exception:  # best effort: the record is informative, never gated on
        return platform.processor() or "unknown"


@lru_cache(maxsize=1)
def instruction_sets() -> tuple[str, ...]:
    """The :data:`KERNEL_ISA` this CPU has (cpuinfo's flags; empty where it cannot tell)."""
    try:
        import cpuinfo

        flags = {str(f).replace("_", "") for f in cpuinfo.get_cpu_info().get("flags", [])}
    except Exception:  # best effort, like the CPU's name
        return ()
    return tuple(name for name in KERNEL_ISA if name.replace("_", "") in flags)


def gpu_name(device: str) -> str | None:
    """The CUDA device's name, or None on CPU."""
    if device != "cuda":
        return None
    import torch

    return str(torch.cuda.get_device_name(0)) if torch.cuda.is_available() else None


def machine_record(device: str, threads: int) -> dict[str, Any]:
    """What the measurement ran on: hardware and the instruction sets its kernels use (and
    PyTorch's CPU dispatch level), thread count and library versions."""
    import onnxruntime
    import torch
    import transformers

    return {
        "cpu": cpu_name(),
        "isa": list(instruction_sets()),
        "torch_cpu_capability": str(torch.backends.cpu.get_cpu_capability()),
        "gpu": gpu_name(device),
        "device": device,
        "threads": threads,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnxruntime": onnxruntime.__version__,
    } | ({"cuda": torch.version.cuda} if device == "cuda" else {})


def same_machine(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """True when raw latencies from ``a`` and ``b`` can be compared."""
    return all(a.get(k) == b.get(k) for k in MATCH_FIELDS) and isa_difference(a, b) is None


def isa_difference(obtained: Mapping[str, Any], baseline: Mapping[str, Any]) -> str | None:
    """What differs between the two records' kernel instruction sets, or None (the same, or
    a record without them: an older baseline)."""
    mine, theirs = obtained.get("isa"), baseline.get("isa")
    if not isinstance(mine, list) or not isinstance(theirs, list) or set(mine) == set(theirs):
        return None
    lacks, adds = sorted(set(theirs) - set(mine)), sorted(set(mine) - set(theirs))
    parts = ([f"lacks {', '.join(lacks)}"] if lacks else []) + (
        [f"adds {', '.join(adds)}"] if adds else []
    )
    return f"this CPU's instruction sets differ from the baseline's ({'; '.join(parts)})"


def latency_incomparable(
    obtained: Mapping[str, Any], baseline: Mapping[str, Any]
) -> Incomparable | None:
    """Why ``obtained``'s latency figures (the speedup included) cannot be gated against
    ``baseline``'s, or None: another GPU model, or other kernel instruction sets (int8 and bf16
    kernels, and so the speedups, differ between them far more than between two runs)."""
    if gpu_differs(obtained, baseline):
        why = f"this GPU ({obtained.get('gpu')}) is not the baseline's ({baseline.get('gpu')})"
        return Incomparable("other GPU", "another GPU", why)
    isa = isa_difference(obtained, baseline)
    return Incomparable("other instruction sets", "other instruction sets", isa) if isa else None


def gpu_differs(obtained: Mapping[str, Any], baseline: Mapping[str, Any]) -> bool:
    """True for a GPU measurement whose GPU model is not the baseline's.

    Latency figures (speedup included) then only warn: kernels, clocks and memory bandwidth
    differ between GPU models far more than between two runs on one.
    """
    return obtained.get("device") == "cuda" and obtained.get("gpu") != baseline.get("gpu")


def execution_provider(predictor: object) -> dict[str, str]:
    """The ONNX Runtime execution provider an ONNX cell ran on (empty for other cells)."""
    providers = getattr(getattr(predictor, "session", None), "get_providers", None)
    return {"execution_provider": str(providers()[0])} if callable(providers) else {}
