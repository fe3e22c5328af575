"""What this machine can run: devices, instruction sets, compilers, execution providers.

Each check takes a device and returns why a cell cannot run there on this machine, or None
when it can. The plugin skips such a cell with that reason (or fails it when it is required:
``--accel-require``). A check catches only the exceptions that mean "not available here"; any
other exception (a detection bug, a private torch module moved by an upgrade) propagates and
is that cell's error, never a permanent skip.
"""

from __future__ import annotations

import functools
import platform
from collections.abc import Callable
from pathlib import Path

from accel.measure.machine import cpu_name

Requirement = Callable[[str], "str | None"]  # device -> why unavailable here, or None

CPUINFO = Path("/proc/cpuinfo")
# Flags of native bfloat16 arithmetic: x86 AVX-512 BF16 and AMX-BF16, Arm BF16.
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags, lower case (``/proc/cpuinfo`` on Linux, else py-cpuinfo)."""
    try:
        text = CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):  # x86, Arm
            return frozenset(value.lower().split())
    try:
        import cpuinfo
    except ImportError:  # no /proc/cpuinfo flags and no py-cpuinfo: no flag is known
        return frozenset()
    return frozenset(str(f).lower() for f in cpuinfo.get_cpu_info().get("flags", []))


def cuda_device(device: str) -> str | None:
    """A ``cuda`` cell needs a CUDA GPU that PyTorch can use."""
    if device != "cuda":
        return None
    import torch

    if not torch.cuda.is_available():
        return "no CUDA GPU on this machine (torch.cuda.is_available() is False)"
    return None


def native_bf16(device: str) -> str | None:
    """bf16 on the CPU needs native bfloat16 instructions; emulated, it is slower than fp32."""
    if device != "cpu":
        return None
    if not any(flag in cpu_flags() for flag in BF16_FLAGS):
        return (
            "needs a CPU with native bfloat16 instructions (AVX-512 BF16 or AMX on x86, BF16 "
            f"on Arm); this CPU ({cpu_name()}) has none of the flags {', '.join(BF16_FLAGS)}"
        )
    import torch

    if not (torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()):
        return f"this torch build ({torch.__version__}) has no oneDNN bfloat16 support"
    return None


@functools.lru_cache(maxsize=1)
def _cxx_compiler_error() -> str | None:
    # Imported outside the try: a module moved by a torch upgrade is a detection error.
    from torch._inductor.cpp_builder import get_cpp_compiler
    from torch._inductor.exc import InvalidCxxCompiler

    try:
        get_cpp_compiler()  # inductor's own search: $CXX or g++, each run with --version
    except InvalidCxxCompiler as exc:  # what the search raises when no compiler works
        return type(exc).__name__
    return None


def inductor_cpu(device: str) -> str | None:
    """torch.compile on the CPU (inductor) needs dynamo support and a working C++ compiler."""
    if device != "cpu":
        return None
    import torch

    if not torch._dynamo.is_dynamo_supported():
        return (
            f"torch.compile is not supported with Python {platform.python_version()} "
            f"in torch {torch.__version__}"
        )
    error = _cxx_compiler_error()
    if error:
        return (
            "torch.compile's CPU backend (inductor) needs a C++ compiler (g++, or the one "
            f"named by $CXX); none works here ({error})"
        )
    return None


def ort_cuda(device: str) -> str | None:
    """ONNX Runtime on ``cuda`` needs the CUDA execution provider (package onnxruntime-gpu)."""
    if device != "cuda":
        return None
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        return (
            "onnxruntime has no CUDAExecutionProvider: replace the onnxruntime package with "
            "onnxruntime-gpu (see the README, GPU cells)"
        )
    return None
