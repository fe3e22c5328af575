"""The length sweep's inputs and timing, and the scaling figures a matrix cell reports."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accel.artifacts.models import Classifier
from accel.matrix import Matrix, RunConfig
from accel.measure import scaling as scaling_module
from accel.measure.predictors import TorchPredictor
from accel.measure.records import LENGTH_PREFIX, SECONDS_KEY, THROUGHPUT_PREFIX
from accel.measure.scaling import (
    SweepPlan,
    length_inputs,
    measure_length_sweep,
    scaling_figures,
    text_of_length,
)
from accel.techniques import builtin_registry

WORDS = ["how", "would", "you", "say", "fly", "in", "italian", "what's", "spanish", "pasta"]


@settings(deadline=None, max_examples=25)
@given(st.integers(3, 512))
def test_texts_have_exactly_the_requested_tokens(tiny_classifier: Classifier, tokens: int) -> None:
    text = text_of_length(tiny_classifier.tokenizer, WORDS, tokens)
    assert len(tiny_classifier.tokenizer(text)["input_ids"]) == tokens
    assert set(text.split()) <= set(WORDS)


def test_length_inputs_cover_every_length(tiny_classifier: Classifier) -> None:
    texts = ["what's my balance", "transfer money to savings please"]
    inputs = length_inputs(tiny_classifier.tokenizer, texts, (16, 64, 512))
    assert list(inputs) == [16, 64, 512]
    assert [len(tiny_classifier.tokenizer(t)["input_ids"]) for t in inputs.values()] == [
        16,
        64,
        512,
    ]


def test_impossible_lengths_are_errors(tiny_classifier: Classifier) -> None:
    with pytest.raises(ValueError, match="`tokens` must leave room"):
        text_of_length(tiny_classifier.tokenizer, WORDS, 2)
    with pytest.raises(ValueError, match="`words`"):
        text_of_length(tiny_classifier.tokenizer, [" "], 16)
    with pytest.raises(ValueError, match="`lengths`"):
        SweepPlan(lengths=())
    with pytest.raises(ValueError, match="`calls`"):
        SweepPlan(calls=0)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class LengthCost:
    """Costs 1 ms per word of a fake clock; truncates at ``max_length`` like the real ones."""

    name = "fake"

    def __init__(self, clock: Clock, max_length: int) -> None:
        self.clock, self.max_length, self.calls = clock, max_length, 0

    def predict(self, texts: Sequence[str]) -> list[str]:
        self.calls += 1
        self.clock.now += 1e-3 * len(texts[0].split())
        return ["oos"]

    def size_bytes(self) -> int:
        return 1


def test_sweep_is_p50_per_length_and_skips_what_would_be_truncated() -> None:
    clock = Clock()
    predictor = LengthCost(clock, max_length=64)
    inputs = {n: " ".join(["w"] * n) for n in (16, 32, 64, 128)}
    plan = SweepPlan(lengths=(16, 32, 64, 128), warmup=2, calls=3, min_seconds=0.1)
    p50 = measure_length_sweep(predictor, inputs, plan, timer=clock)
    assert p50 == pytest.approx({16: 16.0, 32: 32.0, 64: 64.0})
    # timed calls until 3 calls and 0.1 s: 7 at 16 ms, 4 at 32 ms, 3 at 64 ms; plus warm-ups
    assert predictor.calls == 3 * 2 + 7 + 4 + 3


def test_a_cell_reports_its_scaling_figures(
    tiny_classifier: Classifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The matrix wires the sweep and the throughput into the cell's ``reported`` figures."""
    monkeypatch.setitem(scaling_module.THROUGHPUT_MIN_SECONDS, "cpu", 0.0)
    config = RunConfig(sweep=SweepPlan(lengths=(16, 32), warmup=0, calls=1, min_seconds=0))
    matrix = Matrix(config, builtin_registry())
    matrix.__dict__["reference"] = tiny_classifier  # the cached properties, pre-filled
    matrix.__dict__["test_texts"] = ["what's my balance", "transfer money to savings"]
    predictor = TorchPredictor(
        "tiny", tiny_classifier.model, tiny_classifier.tokenizer, tiny_classifier.labels
    )
    figures = scaling_figures(
        predictor, "cpu", matrix.length_inputs, matrix.test_texts, config.sweep
    )
    assert sorted(figures) == sorted(
        [f"{LENGTH_PREFIX}16", f"{LENGTH_PREFIX}32", SECONDS_KEY]
        + [f"{THROUGHPUT_PREFIX}{b}" for b in (1, 8, 32)]
    )
    assert all(v > 0 for v in figures.values())
