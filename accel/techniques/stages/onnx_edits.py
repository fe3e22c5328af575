"""Edits of a fused, int8-quantized ONNX graph that make one short query cheaper.

* :func:`split_skip_layer_norms`: ONNX Runtime 1.32's ``SkipLayerNormalization`` kernel costs
  about 19 us a node on a 12-token query (its profiler: the costliest op of the distilled
  student's int8 graph); ``Add`` (input + skip), ``Add`` (+ bias) and the standard
  ``LayerNormalization`` compute the same sum in a third of the time, in an order that the
  session's own optimizer does not fuse back. Exact: the same outputs.
* :func:`block_quantize_embeddings`: the word-embedding table (most of a small student's bytes)
  as 4-bit blocks (``GatherBlockQuantized``, one scale per block of ``block`` values), the
  position table (with the one token type's row added in) and the layer norm in fp32. This is
  the only lossy edit; it applies to BERT's embedding layout only (positions 0 to n-1, one token
  type), and :func:`embedding_layout` says why it does not apply to another graph.

Both work on ``onnx.ModelProto`` in place. docs/techniques.md#distilled-ort-lean has the figures.
"""

from __future__ import annotations

from typing import Any

import numpy as np

EMBED_FUSED = "EmbedLayerNormalization"  # the fused fp32 graph's embedding node
EMBED_INT8 = "QEmbedLayerNormalization"  # what the int8 quantizer made of it
MS_DOMAIN = "com.microsoft"


def split_skip_layer_norms(model: Any) -> int:
    """Replace every ``SkipLayerNormalization`` of ``model`` by ``Add``, ``Add`` (its bias, if
    any) and ``LayerNormalization``; returns how many were replaced. A node whose mean or
    inverse-deviation outputs are used is an error (no fusion of ONNX Runtime makes one)."""
    from onnx import helper

    graph = model.graph
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    nodes, count = [], 0
    for node in graph.node:
        if node.op_type != "SkipLayerNormalization":
            nodes.append(node)
            continue
        if any(name and name in used for name in node.output[1:3]):
            raise ValueError(f"{node.name}: its mean or inverse deviation is used; cannot split")
        x, skip, gamma, beta = node.input[:4]
        bias = node.input[4] if len(node.input) > 4 and node.input[4] else None
        epsilon = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-12)
        total = f"{node.name}/sum"
        nodes.append(helper.make_node("Add", [x, skip], [total], name=f"{node.name}/add"))
        if bias:
            nodes.append(helper.make_node("Add", [total, bias], [f"{total}+bias"]))
            total = f"{total}+bias"
        if len(node.output) > 3 and node.output[3]:  # the sum itself, for the next layer
            nodes.append(helper.make_node("Identity", [total], [node.output[3]]))
        nodes.append(
            helper.make_node(
                "LayerNormalization",
                [total, gamma, beta],
                [node.output[0]],
                name=f"{node.name}/norm",
                axis=-1,
                epsilon=epsilon,
            )
        )
        count += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return count


def embedding_layout(fused: Any, block: int = 64) -> str | None:
    """Why :func:`block_quantize_embeddings` cannot rebuild the fused graph's embeddings in
    blocks of ``block``, or None: it needs one ``EmbedLayerNormalization`` with BERT's inputs,
    no position ids, and rows that split into whole blocks."""
    nodes = [n for n in fused.graph.node if n.op_type == EMBED_FUSED]
    if len(nodes) != 1:
        return f"the fused graph has {len(nodes)} {EMBED_FUSED} nodes, not one"
    inputs = list(nodes[0].input) + [""] * 9
    if inputs[8]:
        return "its embeddings take position ids (positions other than 0 to n-1)"
    if not all(inputs[i] for i in (0, 2, 3, 5, 6)):
        return "its embedding node lacks the word or position table or the layer norm"
    tables = {t.name: t for t in fused.graph.initializer}
    if not all(inputs[i] in tables for i in (2, 3, 5, 6) + ((4,) if inputs[4] else ())):
        return "its embedding tables are computed, not stored"
    width = int(tables[inputs[2]].dims[-1])
    if width % block:
        return f"its {width}-wide embedding rows do not split into blocks of {block}"
    return None


def block_quantize_embeddings(model: Any, fused: Any, bits: int = 4, block: int = 64) -> float:
    """Replace the int8 graph's ``QEmbedLayerNormalization`` by 4-bit (``bits``) block-quantized
    word embeddings (symmetric, one fp32 scale per ``block`` values of a row) plus fp32
    positions and layer norm, read from the ``fused`` fp32 graph; the attention's mask index
    becomes each row's count of attended tokens (right padding, as the fused node computes it).
    Returns the mean absolute error of the dequantized table. See :func:`embedding_layout`."""
    from onnx import TensorProto, helper, numpy_helper

    why = embedding_layout(fused, block)
    if why is not None:
        raise ValueError(f"cannot block-quantize the embeddings: {why}")
    (source,) = [n for n in fused.graph.node if n.op_type == EMBED_FUSED]
    tables = {t.name: numpy_helper.to_array(t) for t in fused.graph.initializer}
    segments, words, positions, segment_table, gamma, beta = (
        source.input[i] for i in range(1, 7)
    )
    word = tables[words].astype(np.float32)
    rows, width = word.shape
    if bits not in (4, 8):
        raise ValueError(f"{bits}-bit embeddings: GatherBlockQuantized takes 4 or 8 bits")
    position = tables[positions].astype(np.float32)
    if segments and segment_table:  # one token type (single texts): its row joins the positions
        position = position + tables[segment_table][0].astype(np.float32)
    limit = 2 ** (bits - 1) - 1
    blocks = word.reshape(rows, width // block, block)
    scale = np.abs(blocks).max(axis=-1) / limit
    scale[scale == 0] = 1.0
    levels = np.clip(np.round(blocks / scale[..., None]), -limit, limit)
    error = float(np.abs(levels * scale[..., None] - blocks).mean())
    unsigned = (levels + 2 ** (bits - 1)).astype(np.uint8).reshape(rows, width)
    packed = unsigned[:, 0::2] | (unsigned[:, 1::2] << 4) if bits == 4 else unsigned

    graph = model.graph
    (target,) = [n for n in graph.node if n.op_type == EMBED_INT8]
    mask = target.input[7] if len(target.input) > 7 else ""
    if not mask:
        raise ValueError(f"{EMBED_INT8} has no attention mask input")
    name = "accel_embeddings"
    epsilon = next((a.f for a in target.attribute if a.name == "epsilon"), 1e-12)
    initializers = {
        f"{name}/words": packed,
        f"{name}/scales": scale.astype(np.float32),
        f"{name}/positions": position,
        f"{name}/gamma": tables[gamma].astype(np.float32),
        f"{name}/beta": tables[beta].astype(np.float32),
        f"{name}/0": np.array([0], np.int64),
        f"{name}/1": np.array([1], np.int64),
        f"{name}/2": np.array([2], np.int64),
    }
    n = f"{name}/"
    new = [
        helper.make_node(
            "GatherBlockQuantized",
            [f"{n}words", target.input[0], f"{n}scales"],
            [f"{n}gathered"],
            domain=MS_DOMAIN,
            bits=bits,
            block_size=block,
            gather_axis=0,
            quantize_axis=1,
        ),
        helper.make_node("Shape", [target.input[0]], [f"{n}shape"]),
        helper.make_node("Slice", [f"{n}shape", f"{n}1", f"{n}2"], [f"{n}length"]),
        helper.make_node(
            "Slice", [f"{n}positions", f"{n}0", f"{n}length", f"{n}0"], [f"{n}position"]
        ),
        helper.make_node("Add", [f"{n}gathered", f"{n}position"], [f"{n}sum"]),
        helper.make_node(
            "LayerNormalization",
            [f"{n}sum", f"{n}gamma", f"{n}beta"],
            [target.output[0]],
            axis=-1,
            epsilon=epsilon,
        ),
        helper.make_node("Cast", [mask], [f"{n}mask"], to=TensorProto.INT32),
        helper.make_node("ReduceSum", [f"{n}mask", f"{n}1"], [target.output[1]], keepdims=0),
    ]
    kept = [node for node in graph.node if node is not target]
    del graph.node[:]
    graph.node.extend(new + kept)
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in initializers.items())
    _drop_unused(model)
    return error


def _drop_unused(model: Any) -> None:
    """Remove the nodes whose outputs nothing reads (the int32 casts of the old embedding
    node), then the initializers and graph inputs nothing reads (the int8 tables,
    ``token_type_ids``)."""
    graph = model.graph
    outputs = {o.name for o in graph.output}
    while True:
        read = {name for node in graph.node for name in node.input} | outputs
        dead = [n for n in graph.node if not any(o in read for o in n.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    read = {name for node in graph.node for name in node.input}
    for table in [t for t in graph.initializer if t.name not in read]:
        graph.initializer.remove(table)
    for unused in [i for i in graph.input if i.name not in read]:
        graph.input.remove(unused)
