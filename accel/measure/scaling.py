"""How a cell's cost grows with work: p50 latency against input length, and throughput.

Ungated figures for the report. Inputs of an exact token count are built from real test
words (so tokenization costs what it would), checked by tokenizing the finished text.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import cycle, islice
from typing import TYPE_CHECKING

from pytest_benchmark.timers import default_timer

from accel.measure.records import LENGTH_PREFIX, SECONDS_KEY, THROUGHPUT_PREFIX
from accel.measure.timing import ThroughputPlan, gc_paused, measure_throughput
from accel.validation import check_at_least, check_each_at_least

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from accel.measure.predictors import Predictor


SWEEP_LENGTHS = (16, 32, 64, 128, 256, 512)
# Ungated throughput, sequences/s at these batch sizes, per device (with the length sweep).
THROUGHPUT_BATCH_SIZES: dict[str, tuple[int, ...]] = {"cpu": (1, 8, 32), "cuda": (1, 8, 32, 128)}
# Enough time per batch size for a few batches of 32 on a CPU core; the GPU gets its old second.
THROUGHPUT_MIN_SECONDS: dict[str, float] = {"cpu": 0.5, "cuda": 1.0}


@dataclass(frozen=True)
class SweepPlan:
    """The length sweep: at each length, ``warmup`` calls, then the p50 of timed calls until
    both ``calls`` calls and ``min_seconds`` are reached (short inputs get more calls)."""

    lengths: tuple[int, ...] = SWEEP_LENGTHS
    warmup: int = 1
    calls: int = 5
    min_seconds: float = 0.2

    def __post_init__(self) -> None:
        check_each_at_least(self, "lengths", 3, unit="tokens")
        check_at_least(self, "warmup", 0)
        check_at_least(self, "calls", 1)
        check_at_least(self, "min_seconds", 0)


def _count(tokenizer: PreTrainedTokenizerBase, text: str, special: bool = True) -> int:
    return len(tokenizer(text, add_special_tokens=special)["input_ids"])


def text_of_length(tokenizer: PreTrainedTokenizerBase, words: Sequence[str], tokens: int) -> str:
    """Words from ``words`` (cycled, in order) that ``tokenizer`` encodes to exactly ``tokens``
    ids, special tokens included."""
    words = [w for w in words if w.strip()]
    if not words:
        raise ValueError("`words` must hold at least one word")
    budget = tokens - _count(tokenizer, "")
    if budget < 1:
        raise ValueError(f"`tokens` must leave room for one word, got {tokens}")
    sizes = {w: _count(tokenizer, w, special=False) for w in set(words)}
    picked: list[str] = []
    used = 0
    for word in islice(cycle(words), 100 * tokens):
        if 0 < sizes[word] <= budget - used:
            picked.append(word)
            used += sizes[word]
        if used == budget:
            break
    text = " ".join(picked)
    actual = _count(tokenizer, text)
    if actual != tokens:
        raise ValueError(f"could not build a text of {tokens} tokens from the words given")
    return text


def length_inputs(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], lengths: Sequence[int]
) -> dict[int, str]:
    """One text of each length in ``lengths`` (tokens), from the words of ``texts``."""
    words = [w for text in texts for w in text.split()]
    return {n: text_of_length(tokenizer, words, n) for n in lengths}


def measure_length_sweep(
    predictor: Predictor,
    inputs: Mapping[int, str],
    plan: SweepPlan,
    timer: Callable[[], float] = default_timer,
) -> dict[int, float]:
    """p50 milliseconds of one call at each length, text to label (tokenization included).

    Lengths beyond the predictor's ``max_length`` (where it has one) are left out: it would
    truncate them.
    """
    limit = getattr(predictor, "max_length", None)
    out: dict[int, float] = {}
    with gc_paused():
        for length in plan.lengths:
            if limit is not None and length > limit:
                continue
            query = [inputs[length]]
            for _ in range(plan.warmup):
                predictor.predict(query)
            durations: list[float] = []
            while len(durations) < plan.calls or sum(durations) < plan.min_seconds:
                start = timer()
                predictor.predict(query)
                durations.append(timer() - start)
            out[length] = statistics.median(durations) * 1e3
    return out


def scaling_figures(
    predictor: Predictor,
    device: str,
    inputs: Mapping[int, str],
    texts: Sequence[str],
    sweep: SweepPlan,
) -> dict[str, float]:
    """A cell's length sweep (on ``inputs``) and throughput (on ``texts``), as the ``reported``
    figures of its result, with the seconds they took."""
    start = time.perf_counter()
    out = {
        f"{LENGTH_PREFIX}{n}": ms
        for n, ms in measure_length_sweep(predictor, inputs, sweep).items()
    }
    batch_sizes = THROUGHPUT_BATCH_SIZES.get(device)
    if batch_sizes:
        plan = ThroughputPlan(
            batch_sizes=batch_sizes, min_seconds=THROUGHPUT_MIN_SECONDS.get(device, 1.0)
        )
        rates = measure_throughput(predictor, texts, plan)
        out |= {f"{THROUGHPUT_PREFIX}{b}": rate for b, rate in rates.items()}
    return out | {SECONDS_KEY: time.perf_counter() - start}
