"""The serving child: ``python -m accel.measure.serve_child BUNDLE QUERIES --threads N``.

Run by :mod:`accel.measure.serving` in a fresh process per measurement. It imports what the
bundle's kind needs (a torch cell: torch, transformers and accel's TorchPredictor; an ONNX
Runtime cell: onnxruntime, numpy and the ``tokenizers`` library, no torch: transformers would
import it), records the resident memory (psutil), loads the tokenizer and the model from disk
and answers the first query (timed: ``load_seconds``), answers every query one by one
``--passes`` times, then prints one JSON line: ``import_rss_mb``, ``peak_rss_mb`` (see
:func:`peak_rss_bytes`), ``load_seconds``, the first pass's ``answers`` and a ``detail``
record.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil

MB = 1024 * 1024
Answer = Callable[[Sequence[str]], list[str]]


def peak_rss_bytes() -> tuple[int, str]:
    """The process's resident high-water mark and where it came from.

    Linux: ``VmHWM`` of ``/proc/self/status`` (this address space's peak). ``ru_maxrss`` is
    not used there, because Linux folds the address space a process replaced at ``exec`` into
    it, and a child started by ``vfork`` replaced its parent's: it would report the parent's
    peak. Elsewhere: ``ru_maxrss`` (bytes on macOS, KiB on the other BSDs).
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024, "VmHWM"
    import resource  # POSIX only

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (peak if sys.platform == "darwin" else peak * 1024), "ru_maxrss"


def _importer(spec: dict[str, Any], threads: int) -> Callable[[Path], Answer]:
    """Import what ``spec``'s kind needs; return the loader of its model (timed separately)."""
    if spec["kind"] == "torch":
        import torch
        from transformers import AutoTokenizer

        from accel.measure.predictors import TorchPredictor

        torch.set_num_threads(threads)

        def load_torch(bundle: Path) -> Answer:
            tokenizer = AutoTokenizer.from_pretrained(str(bundle / "tokenizer"))
            model = torch.load(bundle / "model.pt", weights_only=False, map_location="cpu")
            if spec["compile"]:
                import torch._inductor.config as inductor_config

                for key, value in spec["compile"]["inductor"].items():  # this process only
                    setattr(inductor_config, key, value)
                model = torch.compile(model, dynamic=spec["compile"]["dynamic"])
            predictor = TorchPredictor(
                spec["name"], model, tokenizer, spec["labels"], spec["device"],
                max_positions=spec["max_length"],
            )
            return predictor.predict

        return load_torch
    if spec["kind"] == "ort":
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer  # not transformers, which imports torch

        def load_ort(bundle: Path) -> Answer:
            tokenizer = Tokenizer.from_file(str(bundle / "tokenizer" / "tokenizer.json"))
            tokenizer.enable_truncation(spec["max_length"])
            tokenizer.enable_padding(pad_id=spec["pad_id"], pad_token=spec["pad_token"])
            options = ort.SessionOptions()  # as accel.measure.predictors.OrtPredictor's
            options.intra_op_num_threads = spec["threads"]
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            session = ort.InferenceSession(spec["onnx_path"], options, providers=spec["providers"])
            names = [i.name for i in session.get_inputs()]

            def answer(texts: Sequence[str]) -> list[str]:
                encoded = tokenizer.encode_batch(list(texts))
                fields = {
                    "input_ids": [e.ids for e in encoded],
                    "attention_mask": [e.attention_mask for e in encoded],
                    "token_type_ids": [e.type_ids for e in encoded],
                }
                feeds = {n: np.asarray(fields[n], dtype=np.int64) for n in names}
                (logits,) = session.run(None, feeds)
                return [spec["labels"][i] for i in logits.argmax(axis=-1).tolist()]

            return answer

        return load_ort
    raise ValueError(f"unknown bundle kind {spec['kind']!r} (known: torch, ort)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m accel.measure.serve_child")
    parser.add_argument("bundle", type=Path)
    parser.add_argument("queries", type=Path, help="a JSON list of texts")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args(argv)
    spec = json.loads((args.bundle / "bundle.json").read_text(encoding="utf-8"))
    queries = json.loads(args.queries.read_text(encoding="utf-8"))
    if not queries or not all(isinstance(q, str) for q in queries):
        parser.error(f"{args.queries}: expected a non-empty JSON list of texts")
    process = psutil.Process()
    loader = _importer(spec, args.threads)
    import_rss = process.memory_info().rss
    start, start_cpu = time.perf_counter(), time.process_time()
    answer = loader(args.bundle)
    first = answer(queries[:1])
    load_seconds = time.perf_counter() - start
    load_cpu_seconds = time.process_time() - start_cpu  # every thread of this process
    answers = first + [answer([q])[0] for q in queries[1:]]
    for _ in range(args.passes):
        for query in queries:
            answer([query])
    peak, source = peak_rss_bytes()
    report = {
        "import_rss_mb": import_rss / MB,
        "peak_rss_mb": peak / MB,
        "load_seconds": load_seconds,
        "load_cpu_seconds": load_cpu_seconds,
        "answers": answers,
        "detail": {
            "kind": spec["kind"],
            "threads": args.threads,
            "passes": args.passes,
            "queries": len(queries),
            "peak_source": source,
            "final_rss_mb": process.memory_info().rss / MB,
            "torch_imported": "torch" in sys.modules,
        },
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
