"""Property tests of every technique's predictor, built from a tiny random BERT."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accel.models import Classifier
from accel.predictors import OrtPredictor, Predictor
from accel.techniques import TECHNIQUES, BuildContext
from tests.conftest import TINY_LABELS

CPU_TECHNIQUES = [name for name, t in TECHNIQUES.items() if "cpu" in t.devices]
EDGE_TEXTS = ["", " ", "\t\n", "🙂🚀", "a" * 10_000, "what's my balance? " * 600]
texts = st.one_of(st.sampled_from(EDGE_TEXTS), st.text(max_size=300))
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module", params=CPU_TECHNIQUES)
def predictor(request: pytest.FixtureRequest, tiny_context: BuildContext) -> Predictor:
    return TECHNIQUES[request.param].build(tiny_context)


@SETTINGS
@given(batch=st.lists(texts, min_size=1, max_size=6))
def test_any_text_gives_a_known_intent(predictor: Predictor, batch: list[str]) -> None:
    labels = predictor.predict(batch)
    assert len(labels) == len(batch)
    assert set(labels) <= set(TINY_LABELS)


@SETTINGS
@given(batch=st.lists(texts, min_size=1, max_size=6))
def test_batch_equals_one_by_one(predictor: Predictor, batch: list[str]) -> None:
    assert predictor.predict(batch) == [predictor.predict([t])[0] for t in batch]


def test_empty_batch(predictor: Predictor) -> None:
    assert predictor.predict([]) == []


def test_size_is_measured_from_the_artifact(predictor: Predictor) -> None:
    assert predictor.size_bytes() > 0


def test_int8_is_smaller_than_fp32(tiny_context: BuildContext) -> None:
    sizes = {n: TECHNIQUES[n].build(tiny_context).size_bytes() for n in CPU_TECHNIQUES}
    assert sizes["ort-int8"] < 0.5 * sizes["ort-fp32"]
    assert sizes["torch-int8"] < sizes["fp32"]


@SETTINGS
@given(batch=st.lists(texts, min_size=1, max_size=4))
def test_onnx_fp32_agrees_with_pytorch(
    tiny_context: BuildContext, tiny_classifier: Classifier, batch: list[str]
) -> None:
    ort = TECHNIQUES["ort-fp32"].build(tiny_context)
    assert isinstance(ort, OrtPredictor)
    enc = tiny_classifier.tokenizer(
        batch, padding=True, truncation=True, max_length=ort.max_length, return_tensors="pt"
    )
    with torch.inference_mode():
        expected = tiny_classifier.model(**enc).logits.numpy()
    (obtained,) = ort.session.run(
        None, {n: enc[n].numpy().astype(np.int64) for n in ort.input_names}
    )
    np.testing.assert_allclose(obtained, expected, atol=1e-4, rtol=1e-3)


def test_building_techniques_leaves_the_reference_untouched(
    tiny_classifier: Classifier,
    tiny_context: BuildContext,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Exporting or quantizing must not change the reference's own outputs (padded batch)."""
    batch = ["hi", "what is the balance of my checking account right now", "set a timer"]
    enc = tiny_classifier.tokenizer(batch, padding=True, return_tensors="pt")

    def logits() -> np.ndarray:
        with torch.inference_mode():
            return tiny_classifier.model(**enc).logits.numpy()

    before = logits()
    ctx = BuildContext(
        tiny_classifier, tiny_context.data, "cpu", 1, tmp_path_factory.mktemp("fresh")
    )
    for name in CPU_TECHNIQUES:
        TECHNIQUES[name].build(ctx)
    np.testing.assert_array_equal(logits(), before)


def test_fused_graph_has_bert_fusions(tiny_context: BuildContext) -> None:
    import onnx

    ort = TECHNIQUES["ort-fp32"].build(tiny_context)
    assert isinstance(ort, OrtPredictor)
    ops = {node.op_type for node in onnx.load(str(ort.onnx_path)).graph.node}
    assert {"Attention", "SkipLayerNormalization"} <= ops, sorted(ops)
