"""Latency: interleaved timing of every cell beside the reference, and throughput.

Latency is timed end to end for one query (tokenization included), after warm-up, with
pytest-benchmark's timer and statistics. A cell's speedup is the reference's p50 over the
cell's p50, both timed in one process, alternating in blocks of calls (ABBA order) so that
drift of the machine hits both sides; call-by-call alternation would evict each model's
weights from the caches and understate the speedup. The cells of a run are timed together,
round-robin, so that each cell's rounds span the whole timing phase.
"""

from __future__ import annotations

import gc
import math
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Union, runtime_checkable

from pytest_benchmark.timers import default_timer
from tqdm.auto import tqdm

from accel.measure.records import Latency, Speedup
from accel.validation import check_at_least, check_each_at_least

if TYPE_CHECKING:
    from accel.measure.predictors import Predictor

# Timing rounds of a baseline update: three times a gate run's, so that the baseline's own
# error is small beside that of the run it judges (README, "The latency decision").
BASELINE_ROUNDS = 60


@dataclass(frozen=True)
class TimingPlan:
    """How latency is sampled: warm-up calls, then ``rounds`` x 2 blocks of ``block`` calls.

    The warm-up covers a whole block, so every query length has been seen once per side
    before timing starts (first calls at a new shape are slower). Round ``r``'s two blocks
    both start at query ``r * block`` of the cycle, so blocks shorter than the query list
    still cover all of it.
    """

    warmup: int = 25
    rounds: int = 20
    block: int = 25

    def __post_init__(self) -> None:
        check_at_least(self, "rounds", 2)  # the speedup's confidence interval resamples rounds
        check_at_least(self, "block", 1)
        check_at_least(self, "warmup", 0)


@runtime_checkable
class TimedElsewhere(Protocol):
    """A side timed by another process (the base worker: :mod:`accel.plugin.base_code`): it
    runs :func:`time_block` there, on the same queries from the same ``start``, and returns the
    call times."""

    name: str

    def time_block(self, queries: Sequence[str], n: int, start: int = 0) -> list[float]: ...


Side = Union["Predictor", TimedElsewhere]


def time_block(
    side: Side, queries: Sequence[str], n: int, out: list[float], start: int = 0
) -> None:
    """Time ``n`` calls of one query each, cycling through ``queries`` from ``queries[start]``;
    append each call's seconds to ``out``."""
    if isinstance(side, TimedElsewhere):
        out.extend(side.time_block(queries, n, start))
        return
    for i in range(start, start + n):
        query = [queries[i % len(queries)]]
        began = default_timer()
        side.predict(query)
        out.append(default_timer() - began)


def measure_speedup(
    reference: Side, cell: Predictor, queries: Sequence[str], plan: TimingPlan
) -> Speedup:
    """Time one cell beside the reference: :func:`measure_speedups` with a single cell."""
    return measure_speedups(reference, {cell.name: cell}, queries, plan, progress=False)[cell.name]


def measure_speedups(
    reference: Side,
    cells: Mapping[str, Predictor],
    queries: Sequence[str],
    plan: TimingPlan,
    progress: bool = True,
) -> dict[str, Speedup]:
    """Time every cell beside the reference, one query at a time, in round-robin rounds.

    Round ``r`` times, for each cell in turn, one block of reference calls and one block of
    the cell's calls (ABBA: the reference first in even rounds); the order of the cells rotates
    from round to round. So each cell's rounds are spread over the whole timing phase (minutes
    for a matrix) instead of a few seconds of it, and every cell meets the same states of the
    machine: drift slower than a round averages out of the speedup instead of moving one
    cell's whole measurement. Drift slower than the phase does not; the baseline's margin
    covers it (README, "The latency decision").

    The garbage collector is paused while timing (as ``timeit`` does), and runs between rounds,
    so that collections triggered by whatever else lives in the process do not land in one
    side's blocks.
    """
    if not queries:
        raise ValueError("`queries` must not be empty")
    if not cells:
        raise ValueError("`cells` must not be empty")
    with gc_paused():
        return _round_robin(reference, cells, queries, plan, progress)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Collect garbage, then keep the collector off for the block (as ``timeit`` does), so
    that no collection lands inside a timed call; it runs again after, if it ran before.

    What survives the first collection is frozen (``gc.freeze``) until the block ends, so the
    collections between rounds scan only what the timed calls made: with a dataset and a
    dozen models loaded, a full collection took 0.24 s, longer than a round of a fast cell.
    """
    gc.collect()
    gc.freeze()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def _round_robin(
    reference: Side,
    cells: Mapping[str, Predictor],
    queries: Sequence[str],
    plan: TimingPlan,
    progress: bool,
) -> dict[str, Speedup]:
    scratch: list[float] = []
    time_block(reference, queries, plan.warmup, scratch)
    for predictor in cells.values():
        time_block(predictor, queries, plan.warmup, scratch)
    names = list(cells)
    ref_rounds: dict[str, list[tuple[float, ...]]] = {name: [] for name in names}
    cell_rounds: dict[str, list[tuple[float, ...]]] = {name: [] for name in names}
    bar = tqdm(
        total=plan.rounds * len(names),
        desc=f"timing {len(names)} cell(s) beside {reference.name}",
        unit="pair",
        disable=not progress,
        mininterval=5.0,
    )
    with bar:
        for r in range(plan.rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                ref_round: list[float] = []
                cell_round: list[float] = []
                sides: list[tuple[Side, list[float]]] = [
                    (reference, ref_round),
                    (cells[name], cell_round),
                ]
                for side, sink in sides if r % 2 == 0 else reversed(sides):
                    time_block(side, queries, plan.block, sink, start=r * plan.block)
                ref_rounds[name].append(tuple(ref_round))
                cell_rounds[name].append(tuple(cell_round))
                bar.update()
            gc.collect()
    return {name: _speedup(ref_rounds[name], cell_rounds[name]) for name in names}


def _speedup(
    ref_rounds: Sequence[tuple[float, ...]], cell_rounds: Sequence[tuple[float, ...]]
) -> Speedup:
    ref_latency = Latency.from_values([t for r in ref_rounds for t in r])
    cell_latency = Latency.from_values([t for r in cell_rounds for t in r])
    ratios = [
        statistics.median(ref) / statistics.median(cell)
        for ref, cell in zip(ref_rounds, cell_rounds, strict=True)
    ]
    return Speedup(
        cell=cell_latency,
        reference=ref_latency,
        speedup=ref_latency.p50 / cell_latency.p50,
        round_speedups=tuple(ratios),
        reference_rounds=tuple(ref_rounds),
        cell_rounds=tuple(cell_rounds),
    )


@dataclass(frozen=True)
class ThroughputPlan:
    """How throughput is sampled at each batch size: ``warmup`` batches, then whole batches
    until both ``min_batches`` and ``min_seconds`` are reached."""

    batch_sizes: tuple[int, ...] = (1, 8, 32, 128)
    warmup: int = 2
    min_batches: int = 3
    min_seconds: float = 1.0

    def __post_init__(self) -> None:
        check_each_at_least(self, "batch_sizes", 1)
        check_at_least(self, "warmup", 0)
        check_at_least(self, "min_batches", 1)
        check_at_least(self, "min_seconds", 0)


def measure_throughput(
    predictor: Predictor,
    texts: Sequence[str],
    plan: ThroughputPlan,
    timer: Callable[[], float] = default_timer,
) -> dict[int, float]:
    """Sequences per second at each batch size, text to labels (tokenization included).

    Batches are consecutive texts, cycled. The clock is read after ``predict`` returns labels,
    which on a GPU means after the device has finished (the predictors synchronize).
    """
    if not texts:
        raise ValueError("`texts` must not be empty")
    out: dict[int, float] = {}
    for size in plan.batch_sizes:
        cursor = 0

        def batch(size: int = size) -> list[str]:
            nonlocal cursor
            chunk = [texts[(cursor + i) % len(texts)] for i in range(size)]
            cursor += size
            return chunk

        for _ in range(plan.warmup):
            predictor.predict(batch())
        done, start = 0, timer()
        while True:
            predictor.predict(batch())
            done += 1
            elapsed = timer() - start
            if done >= plan.min_batches and elapsed >= plan.min_seconds:
                break
        out[size] = done * size / elapsed if elapsed > 0 else math.inf
    return out
