"""Property tests of every technique's predictor, built from a tiny random BERT."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accel.artifacts.models import Classifier
from accel.measure.predictors import OrtPredictor, Predictor, ScoringPredictor, TorchPredictor
from accel.techniques import BuildContext, builtin_registry
from tests.conftest import TINY_LABELS

TECHNIQUES = builtin_registry()
# Builds every CPU technique on the tiny model (torch.compile alone takes tens of seconds).
pytestmark = pytest.mark.slow

CPU_TECHNIQUES = [t.name for t in TECHNIQUES if "cpu" in t.devices]
# What this machine can build (bf16 needs native bf16 instructions, torch-compile a compiler).
RUNNABLE = [name for name in CPU_TECHNIQUES if TECHNIQUES.unavailable(name, "cpu") is None]


def _build(name: str, ctx: BuildContext) -> Predictor:
    reason = TECHNIQUES.unavailable(name, "cpu")
    if reason:
        pytest.skip(f"{name}/cpu: {reason}")
    return TECHNIQUES[name].builder()(ctx)


EDGE_TEXTS = ["", " ", "\t\n", "🙂🚀", "a" * 10_000, "what's my balance? " * 600]
texts = st.one_of(st.sampled_from(EDGE_TEXTS), st.text(max_size=300))
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# Dynamo's count of compiled graphs right after each build (torch-compile's: two).
BUILT_GRAPHS: dict[str, int] = {}


@pytest.fixture(scope="module", params=CPU_TECHNIQUES)
def predictor(request: pytest.FixtureRequest, tiny_context: BuildContext) -> Predictor:
    from torch._dynamo.utils import counters

    built = _build(request.param, tiny_context)
    BUILT_GRAPHS[request.param] = counters["stats"]["unique_graphs"]
    return built


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


@SETTINGS
@given(batch=st.lists(texts, min_size=1, max_size=6))
def test_classify_gives_the_labels_and_their_probabilities(
    predictor: Predictor, batch: list[str]
) -> None:
    """Every built-in predictor scores: one distribution per text, over its labels, whose
    argmax is what ``predict`` answers."""
    assert isinstance(predictor, ScoringPredictor)
    labels, probabilities = predictor.classify(batch)
    assert labels == predictor.predict(batch)
    assert probabilities.shape == (len(batch), len(predictor.labels))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert [predictor.labels[i] for i in probabilities.argmax(axis=1)] == labels


def test_int8_is_smaller_than_fp32(tiny_context: BuildContext) -> None:
    names = ("fp32", "torch-int8", "ort-fp32", "ort-int8")
    sizes = {n: TECHNIQUES[n].builder()(tiny_context).size_bytes() for n in names}
    assert sizes["ort-int8"] < 0.5 * sizes["ort-fp32"]
    assert sizes["torch-int8"] < sizes["fp32"]


@SETTINGS
@given(batch=st.lists(texts, min_size=1, max_size=4))
def test_onnx_fp32_agrees_with_pytorch(
    tiny_context: BuildContext, tiny_classifier: Classifier, batch: list[str]
) -> None:
    ort = TECHNIQUES["ort-fp32"].builder()(tiny_context)
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


def test_fused_graph_has_bert_fusions(tiny_context: BuildContext) -> None:
    import onnx

    ort = TECHNIQUES["ort-fp32"].builder()(tiny_context)
    assert isinstance(ort, OrtPredictor)
    ops = {node.op_type for node in onnx.load(str(ort.onnx_path)).graph.node}
    assert {"Attention", "SkipLayerNormalization"} <= ops, sorted(ops)


def test_bf16_is_the_reference_in_bfloat16(tiny_context: BuildContext) -> None:
    bf16 = _build("bf16", tiny_context)
    assert isinstance(bf16, TorchPredictor)
    assert {p.dtype for p in bf16.model.parameters()} == {torch.bfloat16}
    fp32 = TECHNIQUES["fp32"].builder()(tiny_context)
    assert 0.45 < bf16.size_bytes() / fp32.size_bytes() < 0.55
    assert tiny_context.reference.model.dtype == torch.float32  # a private copy was cast
    batch = ["hi", "what is the balance of my checking account right now", "🙂🚀"]
    enc = tiny_context.reference.tokenizer(batch, padding=True, return_tensors="pt")
    with torch.inference_mode():
        expected = tiny_context.reference.model(**enc).logits
        obtained = bf16.model(**enc).logits.float()
    assert float((obtained - expected).abs().max()) <= 0.05 * float(expected.abs().max())


# The fixture's torch-compile build (a second build of the tiny model would cost about 30 s).
@pytest.mark.parametrize("predictor", ["torch-compile"], indirect=True)
def test_torch_compile_compiles_in_the_build_only(
    predictor: Predictor, tiny_context: BuildContext
) -> None:
    """After the build, new lengths and batch sizes reuse the two compiled graphs."""
    from torch._dynamo.utils import counters

    compiled = predictor
    assert compiled.reported["compile_seconds"] > 0  # type: ignore[attr-defined]
    graphs = counters["stats"]["unique_graphs"]
    assert graphs == BUILT_GRAPHS["torch-compile"]  # none since the build
    reference = TECHNIQUES["fp32"].builder()(tiny_context)
    batches = [["hi"], ["a much longer question about my account " * 9], ["a", "b c", "d e f"]]
    for batch in batches:
        assert compiled.predict(batch) == reference.predict(batch)
    assert counters["stats"]["unique_graphs"] == graphs


def testfp16_graph_is_half_the_fp32_graph(tiny_context: BuildContext) -> None:
    """The ort-fp16 artifact builds without a GPU: fp16 weights, fp32 logits, int64 inputs."""
    import onnx

    from accel.techniques.stages.onnx import fp16_graph, fused_graph

    fp16, fp32 = fp16_graph(tiny_context), fused_graph(tiny_context)
    assert 0.45 < fp16.stat().st_size / fp32.stat().st_size < 0.55
    graph = onnx.load(str(fp16)).graph
    float_types = {i.data_type for i in graph.initializer} - {onnx.TensorProto.INT64}
    assert onnx.TensorProto.FLOAT16 in float_types
    assert onnx.TensorProto.FLOAT not in float_types
    assert {i.type.tensor_type.elem_type for i in graph.input} == {onnx.TensorProto.INT64}
    assert graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
