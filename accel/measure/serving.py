"""Peak memory and load time of a cell, each measured in a fresh process (the parent side).

A cell's predictor is saved as a *serving bundle* (:func:`save_bundle`), and a fresh Python
process (:mod:`accel.measure.serve_child`) loads it, answers queries and reports:

- ``import_rss_mb``: resident memory after the imports the cell needs, before the model
  (psutil's ``memory_info().rss``);
- ``peak_rss_mb``: the process's resident high-water mark after serving the queries (Linux:
  ``VmHWM`` of ``/proc/self/status``, which belongs to the process's own address space;
  elsewhere ``resource.getrusage`` ``ru_maxrss``. Not ``ru_maxrss`` on Linux: after a
  ``vfork``/``exec`` it also holds the parent's peak);
- ``load_seconds``: from before the tokenizer and the model are read from disk to the first
  answer (a torch.compile cell compiles on that first answer: that is its time to answer),
  and ``load_cpu_seconds``, the CPU time of the same span (``time.process_time``, all
  threads), which the gated ``load_time_ratio`` compares.

A fresh process per measurement keeps cells from polluting each other (allocator caches,
loaded libraries, compiled kernels). The gate compares ratios to the reference (``fp32``)
measured the same way in the same run (:func:`figures`); see docs/serving.md. A run's cells are
served by :class:`accel.measure.serving_run.ServingRun`.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

import accel

if TYPE_CHECKING:  # importing this module imports no torch (the matrix imports it)
    from accel.measure.predictors import Predictor

CHILD_MODULE = "accel.measure.serve_child"
SPEC_FILE = "bundle.json"  # what the child reads first: kind, labels, max_length, ...
MODEL_FILE = "model.pt"  # a torch cell's whole module (torch.save)
TOKENIZER_DIR = "tokenizer"
QUERIES_FILE = "queries.json"
# Inductor options of the torch-compile cell, as accel.techniques.compiled.INDUCTOR_CONFIG
# (a unit test keeps them equal; measure may not import techniques).
COMPILE_INDUCTOR = {"freezing": True}
PASSES = 3  # times the child answers the queries, one by one, after its first answer
TIMEOUT_S = 600.0  # per child; a torch-compile cell compiles in it
STDERR_TAIL = 2000  # characters of a failed child's stderr in the error
# Devices whose serving figures are not measured, with the reason.
SKIPPED_DEVICES = {
    "cuda": "serving figures are measured on cpu only (host memory of a GPU process "
    "says little about the cell, and no GPU machine has checked this path)",
}

# The cell's ungated figures (``reported``) and gated ratios (``extra_metrics``).
PREFIX = "serving."
PEAK, IMPORT, LOAD = "peak_rss_mb", "import_rss_mb", "load_seconds"
LOAD_CPU = "load_cpu_seconds"  # the CPU time (all threads) of the same span
MEMORY_RATIO = "memory_ratio"  # cell peak RSS / reference peak RSS
# Cell load time / reference load time, in CPU seconds (all threads) from the artifact on disk
# to the first answer: the wall-clock ratio moved 3 times as much between runs on a loaded
# 2-core machine (docs/serving.md); the wall-clock seconds are reported.
LOAD_TIME_RATIO = "load_time_ratio"


class NotBundlable(ValueError):
    """A predictor that cannot be saved for a fresh process (a user's own Predictor type)."""


class ServingError(RuntimeError):
    """A serving child failed: the message names the cell, the exit code and its stderr."""


@dataclass(frozen=True)
class Serving:
    """What one child process measured."""

    import_rss_mb: float
    peak_rss_mb: float
    load_seconds: float
    answers: tuple[str, ...]  # the first pass's answers, one per query
    load_cpu_seconds: float = math.nan
    detail: dict[str, Any] = field(default_factory=dict)  # threads, torch imported, source


def save_bundle(predictor: Predictor, directory: Path) -> None:
    """Write what a fresh process needs to serve ``predictor`` into ``directory``.

    A :class:`TorchPredictor` saves its whole module (an OptimizedModule its original module,
    compiled again by the child); an :class:`OrtPredictor` names its ONNX file where it lies
    (the cached artifact itself). Raises :class:`NotBundlable` for any other predictor.
    """
    from accel.measure.predictors import OrtPredictor, TorchPredictor

    spec: dict[str, Any]
    directory.mkdir(parents=True, exist_ok=True)
    if isinstance(predictor, TorchPredictor):
        import torch

        model = predictor.model
        compiled = hasattr(model, "_orig_mod")  # torch._dynamo's OptimizedModule
        torch.save(getattr(model, "_orig_mod", model), directory / MODEL_FILE)
        spec = {"kind": "torch", "device": predictor.device}
        spec["compile"] = {"dynamic": True, "inductor": COMPILE_INDUCTOR} if compiled else None
    elif isinstance(predictor, OrtPredictor):
        if not getattr(predictor.tokenizer, "is_fast", False):
            raise NotBundlable(
                f"{predictor.name}: its tokenizer is not a fast (tokenizers) one, which an ONNX "
                "Runtime serving process loads without torch"
            )
        options = predictor.session.get_session_options()
        spec = {
            "kind": "ort",
            "pad_token": predictor.tokenizer.pad_token,
            "pad_id": predictor.tokenizer.pad_token_id,
            "onnx_path": str(Path(predictor.onnx_path).resolve()),
            "threads": options.intra_op_num_threads,
            "providers": list(predictor.session.get_providers()),
        }
    else:
        raise NotBundlable(
            f"{type(predictor).__name__} is neither a TorchPredictor nor an OrtPredictor, so no "
            "fresh process can load it: no peak memory or load time for this cell"
        )
    predictor.tokenizer.save_pretrained(str(directory / TOKENIZER_DIR))
    spec |= {"name": predictor.name, "labels": list(predictor.labels)}
    spec["max_length"] = predictor.max_length
    (directory / SPEC_FILE).write_text(json.dumps(spec, indent=2), encoding="utf-8")


def serve(
    bundle: Path, queries: Sequence[str], threads: int, cell: str,
    passes: int = PASSES, timeout: float = TIMEOUT_S,
) -> Serving:
    """Run a fresh child process on ``bundle`` and return what it measured (raises
    :class:`ServingError` naming ``cell`` if it fails, times out or answers nonsense)."""
    if not queries:
        raise ValueError("serving needs at least one query")
    (bundle / QUERIES_FILE).write_text(json.dumps(list(queries)), encoding="utf-8")
    command = [
        sys.executable, "-m", CHILD_MODULE, str(bundle), str(bundle / QUERIES_FILE),
        "--threads", str(threads), "--passes", str(passes),
    ]
    env = dict(os.environ)  # the child imports this very accel, wherever it was imported from
    root = str(Path(accel.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    child = psutil.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        _, err = child.communicate()
        raise ServingError(_failure(cell, f"timed out after {timeout:g} s", err)) from None
    except BaseException:  # interrupted: leave no child behind
        child.kill()
        child.wait()
        raise
    if child.returncode != 0:
        raise ServingError(_failure(cell, f"exited with code {child.returncode}", err))
    try:
        report = json.loads(out.decode().strip().splitlines()[-1])
        return Serving(
            import_rss_mb=float(report[IMPORT]),
            peak_rss_mb=float(report[PEAK]),
            load_seconds=float(report[LOAD]),
            load_cpu_seconds=float(report[LOAD_CPU]),
            answers=tuple(report["answers"]),
            detail=dict(report["detail"]),
        )
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ServingError(_failure(cell, f"printed no valid report ({exc})", err)) from None


def _failure(cell: str, what: str, stderr: bytes) -> str:
    tail = stderr.decode(errors="replace").strip()[-STDERR_TAIL:]
    return (
        f"{cell}: the serving process (python -m {CHILD_MODULE}) {what}; its stderr ends with:"
        f"\n{tail or '(empty)'}"
    )


def measure(
    predictor: Predictor, queries: Sequence[str], threads: int, cell: str,
    passes: int = PASSES, timeout: float = TIMEOUT_S,
) -> Serving:
    """Bundle ``predictor`` in a temporary directory and serve it in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="accel-serving-") as tmp:
        save_bundle(predictor, Path(tmp))
        return serve(Path(tmp), queries, threads, cell, passes, timeout)


def figures(
    cell: Serving, reference: Serving | None
) -> tuple[dict[str, float], dict[str, float]]:
    """(ungated ``reported`` figures, gated ``extra_metrics`` ratios) of a cell; no ratios
    without the reference's figures."""
    reported = {
        PREFIX + PEAK: cell.peak_rss_mb,
        PREFIX + IMPORT: cell.import_rss_mb,
        PREFIX + LOAD: cell.load_seconds,
        PREFIX + LOAD_CPU: cell.load_cpu_seconds,
    }
    if reference is None:
        return reported, {}
    reported[PREFIX + "reference_" + PEAK] = reference.peak_rss_mb
    reported[PREFIX + "reference_" + LOAD] = reference.load_seconds
    reported[PREFIX + "reference_" + LOAD_CPU] = reference.load_cpu_seconds
    ratios = {
        MEMORY_RATIO: cell.peak_rss_mb / reference.peak_rss_mb,
        LOAD_TIME_RATIO: cell.load_cpu_seconds / reference.load_cpu_seconds,
    }
    return reported, ratios


def describe(reported: dict[str, float]) -> str:
    """The table's text of a cell's serving figures (``reported`` keys without the prefix):
    ``serving: peak 612 MB (import 480; reference 650), load 1.90 s (cpu 1.80; reference 2.10)``.
    """
    ref_peak, ref_load = reported.get("reference_" + PEAK), reported.get("reference_" + LOAD)
    peak = f"peak {reported.get(PEAK, math.nan):.0f} MB"
    peak += f" (import {reported.get(IMPORT, math.nan):.0f}"
    peak += f"; reference {ref_peak:.0f})" if ref_peak is not None else ")"
    load = f"load {reported.get(LOAD, math.nan):.2f} s"
    load += f" (cpu {reported.get(LOAD_CPU, math.nan):.2f}"
    load += f"; reference {ref_load:.2f})" if ref_load is not None else ")"
    return f"serving: {peak}, {load}"

