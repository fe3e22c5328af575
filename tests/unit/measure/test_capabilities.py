"""Skip reasons: a cell whose instruction set, compiler or provider is missing is skipped with
the reason, never failed. Detection is monkeypatched; nothing here needs the hardware."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from accel.measure import capabilities
from accel.techniques import builtin_registry

TECHNIQUES = builtin_registry()



@pytest.fixture()
def no_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capabilities, "cpu_flags", lambda: frozenset({"avx2", "avx512f"}))


@pytest.fixture()
def no_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capabilities, "_cxx_compiler_error", lambda: "InvalidCxxCompiler")


def test_bf16_needs_native_instructions(no_bf16: None) -> None:
    reason = TECHNIQUES.unavailable("bf16", "cpu")
    assert reason is not None
    assert "native bfloat16 instructions" in reason and "avx512_bf16" in reason


@pytest.mark.parametrize("flag", capabilities.BF16_FLAGS)
def test_any_bf16_flag_will_do(monkeypatch: pytest.MonkeyPatch, flag: str) -> None:
    monkeypatch.setattr(capabilities, "cpu_flags", lambda: frozenset({"sse2", flag}))
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert capabilities.native_bf16("cpu") is None


def test_bf16_needs_onednn_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capabilities, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert "no oneDNN bfloat16 support" in str(capabilities.native_bf16("cpu"))


def test_torch_compile_needs_a_cxx_compiler(no_compiler: None) -> None:
    reason = TECHNIQUES.unavailable("torch-compile", "cpu")
    assert reason is not None
    assert "needs a C++ compiler" in reason and "InvalidCxxCompiler" in reason


def test_torch_compile_needs_dynamo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch._dynamo, "is_dynamo_supported", lambda: False)
    assert "torch.compile is not supported" in str(TECHNIQUES.unavailable("torch-compile", "cpu"))


def test_missing_requirements_leave_other_cells_alone(no_bf16: None, no_compiler: None) -> None:
    for name in ("fp32", "torch-int8", "ort-fp32", "ort-int8"):
        assert TECHNIQUES.unavailable(name, "cpu") is None


def test_cuda_cells_need_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for name, technique in ((t.name, t) for t in TECHNIQUES):
        if "cuda" in technique.devices:
            assert "no CUDA GPU" in str(TECHNIQUES.unavailable(name, "cuda"))


def test_ort_cuda_cells_need_the_cuda_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    for name in ("ort-fp32", "ort-fp16"):
        assert "onnxruntime-gpu" in str(TECHNIQUES.unavailable(name, "cuda"))
    assert TECHNIQUES.unavailable("fp16", "cuda") is None
    assert TECHNIQUES.unavailable("ort-fp32", "cpu") is None  # the CPU provider will do
    monkeypatch.setattr(
        onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPU"]
    )
    assert TECHNIQUES.unavailable("ort-fp16", "cuda") is None


def test_cpu_flags_come_from_proc_cpuinfo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nflags\t\t: fpu AVX512_BF16 avx512f\n")
    monkeypatch.setattr(capabilities, "CPUINFO", path)
    capabilities.cpu_flags.cache_clear()
    try:
        assert {"avx512_bf16", "avx512f"} <= capabilities.cpu_flags()
    finally:
        capabilities.cpu_flags.cache_clear()


def test_a_moved_private_torch_module_is_an_error_not_a_skip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A torch upgrade that moves inductor's compiler search must not skip torch-compile for
    good: the import error propagates (the plugin makes it the cell's ERROR)."""
    import sys

    monkeypatch.setitem(sys.modules, "torch._inductor.cpp_builder", None)
    capabilities._cxx_compiler_error.cache_clear()
    try:
        with pytest.raises(ImportError):
            capabilities.inductor_cpu("cpu")
    finally:
        capabilities._cxx_compiler_error.cache_clear()


def test_only_a_missing_compiler_means_no_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    from torch._inductor import cpp_builder, exc

    def missing() -> str:
        raise exc.InvalidCxxCompiler()

    def broken() -> str:
        raise RuntimeError("a bug in the search")

    capabilities._cxx_compiler_error.cache_clear()
    try:
        monkeypatch.setattr(cpp_builder, "get_cpp_compiler", missing)
        assert capabilities._cxx_compiler_error() == "InvalidCxxCompiler"
        capabilities._cxx_compiler_error.cache_clear()
        monkeypatch.setattr(cpp_builder, "get_cpp_compiler", broken)
        with pytest.raises(RuntimeError, match="a bug in the search"):
            capabilities._cxx_compiler_error()
    finally:
        capabilities._cxx_compiler_error.cache_clear()


def test_cpu_flags_without_py_cpuinfo_are_none_but_its_errors_surface(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sys
    import types

    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\n")  # no flags line: py-cpuinfo is asked
    monkeypatch.setattr(capabilities, "CPUINFO", path)
    capabilities.cpu_flags.cache_clear()
    try:
        monkeypatch.setitem(sys.modules, "cpuinfo", None)  # not installed
        assert capabilities.cpu_flags() == frozenset()
        capabilities.cpu_flags.cache_clear()
        broken = types.ModuleType("cpuinfo")

        def get_cpu_info() -> dict[str, object]:
            raise OSError("cpuid failed")

        setattr(broken, "get_cpu_info", get_cpu_info)  # noqa: B010 (a module built at run time)
        monkeypatch.setitem(sys.modules, "cpuinfo", broken)
        with pytest.raises(OSError, match="cpuid failed"):
            capabilities.cpu_flags()
    finally:
        capabilities.cpu_flags.cache_clear()
