"""Predictors: text in, intent names (and class probabilities) out, plus the artifact's size."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from numpy.typing import NDArray
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


@runtime_checkable
class ScoringPredictor(Predictor, Protocol):
    """A predictor that also gives each text's class probabilities (what KL divergence and
    calibration need); a plain :class:`Predictor` gets the label-only figures."""

    labels: tuple[str, ...]

    def classify(self, texts: Sequence[str]) -> tuple[list[str], NDArray[np.float32]]:
        """Intent names and class probabilities (one row per text, columns in ``labels``
        order) of one forward pass."""
        ...


def softmax(logits: NDArray[np.float32]) -> NDArray[np.float32]:
    """Row-wise softmax, computed stably in float32."""
    shifted = logits.astype(np.float32) - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp / exp.sum(axis=-1, keepdims=True), dtype=np.float32)


def check_texts(texts: Sequence[object]) -> None:
    """Raise a ``TypeError`` naming the first item of ``texts`` that is not a ``str`` (a
    tokenizer's own error would name neither the item nor its index)."""
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"a predictor takes a batch of str; item {i} is a {type(text).__name__}: "
                f"{text!r:.80}"
            )


def _max_length(tokenizer: PreTrainedTokenizerBase, positions: int) -> int:
    limit = getattr(tokenizer, "model_max_length", DEFAULT_MAX_LENGTH) or DEFAULT_MAX_LENGTH
    return int(min(limit, positions, DEFAULT_MAX_LENGTH))


# The model inputs the Rust pipeline gives, by the name of its Encoding's field.
_FIELDS = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}


def direct_tokenizer(tokenizer: PreTrainedTokenizerBase, max_length: int) -> Any | None:
    """A private copy of a fast tokenizer's Rust pipeline that truncates to ``max_length`` and
    pads a batch to its longest text, as the tokenizer's own call with ``padding=True,
    truncation=True`` does (same ids, masks and token types), without that call's Python
    (about 0.02 ms of a 0.35 ms query). None for a tokenizer without one, without a pad token,
    or whose model takes an input the pipeline does not give (the call then stays).
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or tokenizer.pad_token_id is None:
        return None
    if not set(tokenizer.model_input_names) <= _FIELDS.keys():
        return None
    from tokenizers import Tokenizer

    copy = Tokenizer.from_str(backend.to_str())
    copy.enable_truncation(max_length, direction=tokenizer.truncation_side)
    copy.enable_padding(
        direction=tokenizer.padding_side,
        pad_id=tokenizer.pad_token_id,
        pad_type_id=tokenizer.pad_token_type_id,
        pad_token=str(tokenizer.pad_token),
    )
    return copy


class _TokenizingPredictor:
    """Shared path of every predictor: tokenize (padded, truncated), logits, intent names."""

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
        self._direct = direct_tokenizer(tokenizer, self.max_length)
        self._inputs = list(tokenizer.model_input_names)
        # Ungated figures measured while building (e.g. ``compile_seconds``), reported as is.
        self.reported: dict[str, float] = {}
        # Gated figures beyond accuracy, size and speed (e.g. ``sparsity``): compared with the
        # baseline like the others (see accel.gate.baselines.DIRECTIONS).
        self.extra_metrics: dict[str, float] = {}

    def predict(self, texts: Sequence[str]) -> list[str]:
        if not texts:
            return []
        return [self.labels[i] for i in self._logits(self._encode(texts)).argmax(axis=-1)]

    def classify(self, texts: Sequence[str]) -> tuple[list[str], NDArray[np.float32]]:
        """Intent names (the logits' argmax, as :meth:`predict`) and class probabilities."""
        if not texts:
            return [], np.zeros((0, len(self.labels)), dtype=np.float32)
        logits = self._logits(self._encode(texts))
        return [self.labels[i] for i in logits.argmax(axis=-1)], softmax(logits)

    def _encode(self, texts: Sequence[str]) -> dict[str, NDArray[np.int64]]:
        """The model's inputs for ``texts``: int64 arrays, padded to the longest text and
        truncated to ``max_length``; the Rust tokenizer's own when there is one."""
        check_texts(texts)
        if self._direct is None:
            encoded: BatchEncoding = self.tokenizer(
                list(texts),
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="np",
            )
            return {k: np.asarray(v, dtype=np.int64) for k, v in encoded.items()}
        rows = (
            [self._direct.encode(texts[0])]
            if len(texts) == 1
            else self._direct.encode_batch(list(texts))
        )
        return {
            name: np.array([getattr(r, _FIELDS[name]) for r in rows], dtype=np.int64)
            for name in self._inputs
        }

    def _logits(self, encoded: dict[str, NDArray[np.int64]]) -> NDArray[np.float32]:
        """The model's logits, float32 on the host, one row per text."""
        raise NotImplementedError


class TorchPredictor(_TokenizingPredictor):
    """A PyTorch sequence classifier (eager, quantized, 16-bit or compiled) on one device.

    On a GPU, ``predict`` synchronizes before it returns, so a timer around it measures the
    finished work, not just the kernel launches.
    """

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

    def _logits(self, encoded: dict[str, NDArray[np.int64]]) -> NDArray[np.float32]:
        with torch.inference_mode():
            inputs = {k: torch.from_numpy(v).to(self.device) for k, v in encoded.items()}
            logits = self.model(**inputs).logits
            if logits.is_cuda:
                torch.cuda.synchronize(logits.device)
            return np.asarray(logits.float().cpu().numpy(), dtype=np.float32)

    def size_bytes(self) -> int:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "state_dict.pt"
            torch.save(self.model.state_dict(), path)
            return path.stat().st_size


class OrtPredictor(_TokenizingPredictor):
    """An ONNX model run by ONNX Runtime with a fixed thread count."""

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

    def _logits(self, encoded: dict[str, NDArray[np.int64]]) -> NDArray[np.float32]:
        feeds = {name: encoded[name] for name in self.input_names}
        (logits,) = self.session.run(None, feeds)
        return np.asarray(logits, dtype=np.float32)

    def size_bytes(self) -> int:
        folder = self.onnx_path.parent
        return sum(
            os.path.getsize(folder / f)
            for f in os.listdir(folder)
            if f.startswith(self.onnx_path.stem)
        )
