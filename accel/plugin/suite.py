"""The gate's tests, collected from the installed package: ``pytest --pyargs
accel.plugin.suite`` (what ``accel run`` does, and this repository's ``testpaths``).

Each technique x device cell is measured once per session and checked twice: against its
technique's contract (relative to the reference measured in the same run) and against its
reviewed baseline file.
"""

from __future__ import annotations

import numpy as np
import pytest

from accel.artifacts.models import EMBEDDED
from accel.measure.records import Cell
from accel.plugin.hooks import report
from accel.plugin.state import AccelState

# The embedded teacher's promised test accuracy (issue: >= 0.86; the book's BERT-base: 0.867).
EMBEDDED_TEACHER_FLOOR = 0.86
# fp32 ONNX Runtime vs PyTorch eager: max |logit difference| on real test utterances.
ORT_FP32_LOGIT_ATOL = 1e-3
LOGIT_SAMPLE = 256


def test_contract(accel_state: AccelState, accel_cell: Cell) -> None:
    """The technique's portable promises relative to the reference measured in this run."""
    report(accel_state, accel_cell, "contract")


def test_baseline(accel_state: AccelState, accel_cell: Cell) -> None:
    """No regression against baselines/<device>/<technique>.json."""
    report(accel_state, accel_cell, "baseline")


def test_embedded_teacher_accuracy(accel_state: AccelState) -> None:
    """The default teacher reaches its promised test accuracy."""
    if accel_state.run.model != EMBEDDED:
        pytest.skip(f"applies to --accel-model={EMBEDDED} only")
    if "fp32" not in accel_state.techniques or "cpu" not in accel_state.devices:
        pytest.skip("needs the fp32/cpu cell (--accel-techniques / --accel-device exclude it)")
    with accel_state.live_output():
        result = accel_state.matrix.measure(Cell("fp32", "cpu"))
    assert result.accuracy.accuracy >= EMBEDDED_TEACHER_FLOOR, (
        f"embedded teacher test accuracy {result.accuracy.accuracy:.4f} < {EMBEDDED_TEACHER_FLOOR}"
    )


def test_ort_fp32_logits_match_pytorch(accel_state: AccelState) -> None:
    """The fp32 ONNX graph (with fusions) gives PyTorch's logits within a stated tolerance."""
    if "ort-fp32" not in accel_state.techniques or "cpu" not in accel_state.devices:
        pytest.skip("needs the ort-fp32/cpu cell")
    import torch

    from accel.measure.predictors import OrtPredictor

    matrix = accel_state.matrix
    ort = matrix.predictor(Cell("ort-fp32", "cpu"))
    assert isinstance(ort, OrtPredictor)
    texts = matrix.test_texts[:: max(1, len(matrix.test_texts) // LOGIT_SAMPLE)][:LOGIT_SAMPLE]
    ref = matrix.reference
    encoded = ref.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    with torch.inference_mode():
        expected = ref.model(**encoded).logits.numpy()
    feeds = {n: encoded[n].numpy().astype(np.int64) for n in ort.input_names}
    (obtained,) = ort.session.run(None, feeds)
    worst = float(np.abs(obtained - expected).max())
    assert worst <= ORT_FP32_LOGIT_ATOL, f"max |logit diff| {worst:.2e} > {ORT_FP32_LOGIT_ATOL}"
