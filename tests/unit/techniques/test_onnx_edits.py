"""The lean graph's edits on the tiny model: the layer-norm split is exact, the 4-bit
embeddings are close and smaller, and a graph they cannot apply to says why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from accel.techniques import BuildContext
from accel.techniques.stages.onnx import fused_graph, quantized_graph
from accel.techniques.stages.onnx_edits import (
    EMBED_FUSED,
    block_quantize_embeddings,
    embedding_layout,
    split_skip_layer_norms,
)

TEXTS = ["hi", "what is the balance of my checking account right now", "set a timer", "🙂🚀"]


def _logits(model: onnx.ModelProto, ctx: BuildContext, texts: list[str]) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    enc = ctx.reference.tokenizer(texts, padding=True, return_tensors="np")
    feeds = {k: np.asarray(v, dtype=np.int64) for k, v in enc.items() if k in names}
    return np.asarray(session.run(None, feeds)[0])


@pytest.fixture(scope="module")
def graphs(tiny_context: BuildContext) -> tuple[Path, Path]:
    """The tiny reference's fused fp32 and per-channel int8 graphs."""
    return fused_graph(tiny_context), quantized_graph(tiny_context, per_channel=True)


def test_the_split_is_exact_and_leaves_no_skip_layer_norm(
    graphs: tuple[Path, Path], tiny_context: BuildContext
) -> None:
    int8 = onnx.load(str(graphs[1]))
    before = _logits(int8, tiny_context, TEXTS)
    count = split_skip_layer_norms(int8)
    assert count == 2 * 6  # two a layer, six layers
    assert not [n for n in int8.graph.node if n.op_type == "SkipLayerNormalization"]
    np.testing.assert_allclose(_logits(int8, tiny_context, TEXTS), before, atol=1e-5)


def test_four_bit_embeddings_are_close_smaller_and_batch_like_one_by_one(
    graphs: tuple[Path, Path], tiny_context: BuildContext
) -> None:
    fused, int8 = onnx.load(str(graphs[0])), onnx.load(str(graphs[1]))
    before = _logits(int8, tiny_context, TEXTS)
    # Dynamic int8 scales its activations per batch: a padded batch differs a little already.
    alone = np.concatenate([_logits(int8, tiny_context, [t]) for t in TEXTS])
    batching = np.abs(before - alone).max()
    size = len(int8.SerializeToString())
    error = block_quantize_embeddings(int8, fused, bits=4, block=16)
    assert 0 < error < 0.01
    assert not [n for n in int8.graph.node if n.op_type == "QEmbedLayerNormalization"]
    assert "token_type_ids" not in {i.name for i in int8.graph.input}
    assert len(int8.SerializeToString()) < 0.9 * size  # (32-wide rows: scales weigh more)
    after = _logits(int8, tiny_context, TEXTS)
    assert np.abs(after - before).max() < 0.1 * np.abs(before).max()
    one_by_one = np.concatenate([_logits(int8, tiny_context, [t]) for t in TEXTS])
    # Padding is masked: batching changes no more than it does in the int8 graph.
    assert np.abs(after - one_by_one).max() <= 2 * batching + 1e-5
    assert (after.argmax(-1) == one_by_one.argmax(-1)).all()


def test_a_graph_without_bert_embeddings_says_why(graphs: tuple[Path, Path]) -> None:
    fused = onnx.load(str(graphs[0]))
    assert embedding_layout(fused, block=16) is None
    assert "32-wide embedding rows do not split into blocks of 64" in str(embedding_layout(fused))
    (node,) = [n for n in fused.graph.node if n.op_type == EMBED_FUSED]
    node.op_type = "SomethingElse"
    assert "0 EmbedLayerNormalization" in str(embedding_layout(fused))
    with pytest.raises(ValueError, match="cannot block-quantize the embeddings"):
        block_quantize_embeddings(onnx.load(str(graphs[1])), fused)
