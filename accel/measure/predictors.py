"""Predictors: text in, intent names out, plus the size of the serialized artifact."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from transformers import BatchEncoding, PreTrainedTokenizerBase

DEFAULT_MAX_LENGTH = 512


@runtime_checkable
class Predictor(Protocol):
    """Anything that maps texts to intent names and knows its serialized size."""

    name: str

    def predict(self, texts: Sequence[str]) -> list[str]:
        """Intent names for ``texts``, one per text, in order."""
        ...

    def size_bytes(self) -> int:
        """Bytes of the serialized model artifact."""
        ...


def _max_length(tokenizer: PreTrainedTokenizerBase, positions: int) -> int:
    limit = getattr(tokenizer, "model_max_length", DEFAULT_MAX_LENGTH) or DEFAULT_MAX_LENGTH
    return int(min(limit, positions, DEFAULT_MAX_LENGTH))


class _TokenizingPredictor:
    """Shared path of every predictor: tokenize (padded, truncated), class ids, intent names."""

    tensors: str  # "pt" or "np": what the tokenizer returns for ``_class_ids``

    def __init__(
        self,
        name: str,
        tokenizer: PreTrainedTokenizerBase,
        labels: Sequence[str],
        max_positions: int,
        trained_fingerprint: str | None = None,
    ) -> None:
        self.name = name
        # The fingerprint of a model trained for this cell (a student), None when the cell
        # only transforms the reference: a baseline is exact only for the same trained model.
        self.trained_fingerprint = trained_fingerprint
        self.tokenizer = tokenizer
        self.labels = tuple(labels)
        self.max_length = _max_length(tokenizer, max_positions)
        # Ungated figures measured while building (e.g. ``compile_seconds``), reported as is.
        self.reported: dict[str, float] = {}
        # Gated figures beyond accuracy, size and speed (e.g. ``sparsity``): compared with the
        # baseline like the others (see accel.gate.baselines.DIRECTIONS).
        self.extra_metrics: dict[str, float] = {}

    def predict(self, texts: Sequence[str]) -> list[str]:
        if not texts:
            return []
        encoded = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors=self.tensors,
        )
        return [self.labels[i] for i in self._class_ids(encoded)]

    def _class_ids(self, encoded: BatchEncoding) -> list[int]:
        raise NotImplementedError


class TorchPredictor(_TokenizingPredictor):
    """A PyTorch sequence classifier (eager, quantized, 16-bit or compiled) on one device.

    On a GPU, ``predict`` synchronizes before it returns, so a timer around it measures the
    finished work, not just the kernel launches.
    """

    tensors = "pt"

    def __init__(
        self,
        name: str,
        model: torch.nn.Module,
        tokenizer: PreTrainedTokenizerBase,
        labels: Sequence[str],
        device: str = "cpu",
        max_positions: int = DEFAULT_MAX_LENGTH,
        trained_fingerprint: str | None = None,
    ) -> None:
        super().__init__(name, tokenizer, labels, max_positions, trained_fingerprint)
        self.model = model.eval().to(device)
        self.device = device

    def _class_ids(self, encoded: BatchEncoding) -> list[int]:
        with torch.inference_mode():
            ids = self.model(**encoded.to(self.device)).logits.argmax(dim=-1)
            if ids.is_cuda:
                torch.cuda.synchronize(ids.device)
        return [int(i) for i in ids.tolist()]

    def size_bytes(self) -> int:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "state_dict.pt"
            torch.save(self.model.state_dict(), path)
            return path.stat().st_size


class OrtPredictor(_TokenizingPredictor):
    """An ONNX model run by ONNX Runtime with a fixed thread count."""

    tensors = "np"

    def __init__(
        self,
        name: str,
        onnx_path: Path,
        tokenizer: PreTrainedTokenizerBase,
        labels: Sequence[str],
        threads: int,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        max_positions: int = DEFAULT_MAX_LENGTH,
        trained_fingerprint: str | None = None,
    ) -> None:
        import onnxruntime as ort

        super().__init__(name, tokenizer, labels, max_positions, trained_fingerprint)
        self.onnx_path = onnx_path
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(onnx_path), options, providers=list(providers))
        self.input_names = [i.name for i in self.session.get_inputs()]

    def _class_ids(self, encoded: BatchEncoding) -> list[int]:
        feeds = {name: np.asarray(encoded[name], dtype=np.int64) for name in self.input_names}
        (logits,) = self.session.run(None, feeds)
        return [int(i) for i in logits.argmax(axis=-1).tolist()]

    def size_bytes(self) -> int:
        folder = self.onnx_path.parent
        return sum(
            os.path.getsize(folder / f)
            for f in os.listdir(folder)
            if f.startswith(self.onnx_path.stem)
        )
