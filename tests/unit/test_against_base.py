"""Base against head, wired: which baseline artifact is the base, and loading it like the cell."""

from __future__ import annotations

import dataclasses

import pytest

from accel.gate.base_head import decide
from accel.measure.predictors import OrtPredictor, Predictor, TorchPredictor
from accel.measure.timing import TimingPlan, measure_speedup
from accel.plugin.against_base import base_predictor, changed_artifact
from accel.techniques import BuildContext
from accel.techniques.onnx_runtime import build_ort_int8
from accel.techniques.pytorch import build_torch_int8
from accel.techniques.stages.onnx import fused_graph

OLD = {"artifacts": [{"kind": "teacher", "key": "t"}, {"kind": "onnx", "key": "old"}]}
TEXTS = ["what is my balance", "set a timer for five minutes", "x"]


@pytest.mark.parametrize(
    ("measured", "expected"),
    [
        ([{"kind": "teacher", "key": "t"}, {"kind": "onnx", "key": "new"}], ("onnx", "new", "old")),
        ([{"kind": "teacher", "key": "t"}, {"kind": "onnx", "key": "old"}], None),  # unchanged
        ([{"kind": "teacher", "key": "t"}], None),  # another kind: nothing like it to time
        ([], None),
    ],
)
def test_the_base_is_the_baselines_last_artifact(
    measured: list[dict[str, str]], expected: tuple[str, str, str] | None
) -> None:
    assert changed_artifact(measured, OLD) == expected
    assert changed_artifact(measured, {}) is None  # a baseline that records none


def _fresh(ctx: BuildContext) -> BuildContext:
    return dataclasses.replace(ctx, used=[], rebuilt=set())


def test_the_old_artifact_is_read_in_place_of_the_new(tiny_context: BuildContext) -> None:
    """ort-int8's builder, run with its int8 graph's key pointing at another cached graph (the
    fused fp32 one stands in for an old artifact), loads that graph, like the cell's own."""
    ctx = _fresh(tiny_context)
    head = build_ort_int8(ctx)
    new = ctx.used[-1].key
    old = fused_graph(_fresh(tiny_context)).parent.name
    base = base_predictor(build_ort_int8, _fresh(tiny_context), ("onnx", new, old))
    assert isinstance(base, OrtPredictor) and isinstance(head, OrtPredictor)
    assert base.onnx_path.parent.name == old
    assert head.onnx_path.parent.name == new
    assert len(base.predict(TEXTS)) == len(TEXTS)
    # One short phase through the gate's own decision (its answer is timing: not asserted).
    plan = TimingPlan(warmup=1, rounds=2, block=2)
    outcome = decide(lambda: measure_speedup(base, head, TEXTS, plan), f"onnx/{old[:12]}")
    assert 1 <= outcome.phases <= 3 and outcome.interval.rounds == 2 * outcome.phases


def test_no_base_says_why(tiny_context: BuildContext) -> None:
    old = fused_graph(_fresh(tiny_context)).parent.name
    missing = base_predictor(build_ort_int8, _fresh(tiny_context), ("onnx", "new", "0" * 64))
    assert missing == f"the baseline's artifact onnx/{'0' * 12}: not in the cache"
    # torch-int8 transforms the loaded reference: it never reads an artifact it could swap.
    unread = base_predictor(build_torch_int8, _fresh(tiny_context), ("onnx", "new", old))
    assert unread == "the cell's builder does not read its onnx artifact from the cache"

    def broken(ctx: BuildContext) -> Predictor:
        raise RuntimeError("unknown op")

    failed = base_predictor(broken, _fresh(tiny_context), ("onnx", "new", old))
    assert failed == (
        f"the baseline's artifact onnx/{old[:12]} could not be loaded: RuntimeError: unknown op"
    )


def test_a_pytorch_cell_loads_its_old_student(tiny_context: BuildContext) -> None:
    """distilled-torch-int8 reads its slimmed student from the cache: with the stage-1
    student standing in for an old one, the base is that model, quantized by today's code."""
    from accel.techniques.distilled import build_distilled_torch_int8

    ctx = _fresh(tiny_context)
    head = build_distilled_torch_int8(ctx)
    students = [a for a in ctx.used if a.kind == "student"]
    assert len(students) == 2 and ctx.used[-1] == students[-1]
    changed = ("student", students[-1].key, students[0].key)
    swapped = _fresh(tiny_context)
    base = base_predictor(build_distilled_torch_int8, swapped, changed)
    assert isinstance(base, TorchPredictor) and isinstance(head, TorchPredictor)
    assert base.predict(TEXTS) and head.predict(TEXTS)
    base_layers = base.model.state_dict()
    head_layers = head.model.state_dict()
    assert base_layers.keys() != head_layers.keys() or any(
        str(base_layers[k]) != str(head_layers[k]) for k in head_layers
    )
