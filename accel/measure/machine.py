"""The machine a measurement ran on, and whether two records describe the same one."""

from __future__ import annotations

import platform
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

# Fields that must agree for raw milliseconds to be comparable.
MATCH_FIELDS = ("cpu", "threads", "device", "gpu")


@lru_cache(maxsize=1)
def cpu_name() -> str:
    """The CPU's brand string (via py-cpuinfo, which pytest-benchmark already uses)."""
    try:
        import cpuinfo

        return str(cpuinfo.get_cpu_info().get("brand_raw") or platform.processor() or "unknown")
    except Exception:  # best effort: the record is informative, never gated on
        return platform.processor() or "unknown"


def gpu_name(device: str) -> str | None:
    """The CUDA device's name, or None on CPU."""
    if device != "cuda":
        return None
    import torch

    return str(torch.cuda.get_device_name(0)) if torch.cuda.is_available() else None


def machine_record(device: str, threads: int) -> dict[str, Any]:
    """What the measurement ran on: hardware, thread count and library versions."""
    import onnxruntime
    import torch
    import transformers

    return {
        "cpu": cpu_name(),
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
    return all(a.get(k) == b.get(k) for k in MATCH_FIELDS)


def gpu_differs(obtained: Mapping[str, Any], baseline: Mapping[str, Any]) -> bool:
    """True for a GPU measurement whose GPU model is not the baseline's.

    Latency figures (speedup included) then only warn: kernels, clocks and memory bandwidth
    differ between GPU models far more than between two runs on one.
    """
    return obtained.get("device") == "cuda" and obtained.get("gpu") != baseline.get("gpu")
