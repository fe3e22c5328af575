"""The speedup's confidence interval: a cluster bootstrap over interleaved timing rounds.

The gate times the reference and the cell in interleaved rounds (one block of calls each, ABBA
order). The speedup is the reference's p50 over the cell's p50, pooled over every round. Its
confidence interval comes from ``scipy.stats.bootstrap`` (percentile method, fixed seed) that
resamples whole rounds: a round's two blocks stay together, so the pairing that cancels the
machine's drift survives the resampling. Two copies of one cell (base against head) are timed
call by call instead, and their statistic is the median of the rounds' ratios
(:func:`paired_speedup`). The rules that decide on them live in :mod:`accel.gate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

LEVEL = 0.90  # two-sided: each bound is a one-sided 95% confidence bound


N_RESAMPLES = 2000


SEED = 0


@dataclass(frozen=True)
class SpeedupInterval:
    """A speedup with its confidence interval (``level`` two-sided) over ``rounds`` rounds."""

    speedup: float
    low: float
    high: float
    level: float = LEVEL
    rounds: int = 0

    def __post_init__(self) -> None:
        for field in ("speedup", "low", "high"):
            value = getattr(self, field)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"`{field}` must be a finite number > 0, got {value}")
        if not self.low <= self.speedup <= self.high:
            raise ValueError(
                f"`speedup` must lie in [low, high], got {self.speedup} not in "
                f"[{self.low}, {self.high}]"
            )
        if not 0 < self.level < 1:
            raise ValueError(f"`level` must be in (0, 1), got {self.level}")
        if self.rounds < 0:
            raise ValueError(f"`rounds` must be >= 0, got {self.rounds}")

    def describe(self) -> str:
        """Like ``5.20x (90% CI 4.98-5.41x, 20 rounds)``."""
        rounds = f", {self.rounds} rounds" if self.rounds else ""
        return f"{self.speedup:.2f}x ({self.level:.0%} CI {self.low:.2f}-{self.high:.2f}x{rounds})"

    def as_dict(self) -> dict[str, float]:
        return {"low": self.low, "high": self.high, "level": self.level}


def _rounds_array(rounds: Sequence[Sequence[float]], field: str) -> NDArray[np.float64]:
    if len(rounds) == 0 or any(len(r) == 0 for r in rounds):
        raise ValueError(f"`{field}` must hold at least one round of at least one duration")
    if len({len(r) for r in rounds}) != 1:
        raise ValueError(f"`{field}` must hold rounds of equal length (one block each)")
    array = np.asarray(rounds, dtype=np.float64)
    if not (np.all(np.isfinite(array)) and np.all(array > 0)):
        raise ValueError(f"`{field}` must hold finite durations > 0")
    return array


def pooled_speedup(
    reference_rounds: Sequence[Sequence[float]], cell_rounds: Sequence[Sequence[float]]
) -> float:
    """The reference's median duration over the cell's, pooled over every round."""
    ref = _rounds_array(reference_rounds, "reference_rounds")
    cell = _rounds_array(cell_rounds, "cell_rounds")
    return float(np.median(ref) / np.median(cell))


def paired_speedup(
    reference_rounds: Sequence[Sequence[float]], cell_rounds: Sequence[Sequence[float]]
) -> float:
    """The median over rounds of each round's ratio, its reference block's median duration
    over its cell block's: the statistic of two copies timed call by call (base against head),
    where each round's pair met the same instant of the machine."""
    return float(np.median(_round_ratios(*_paired_arrays(reference_rounds, cell_rounds))))


def speedup_interval(
    reference_rounds: Sequence[Sequence[float]],
    cell_rounds: Sequence[Sequence[float]],
    level: float = LEVEL,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    paired: bool = False,
) -> SpeedupInterval:
    """The pooled speedup and its percentile-bootstrap interval, resampling whole rounds.

    ``reference_rounds[i]`` and ``cell_rounds[i]`` are the call durations of round ``i``'s two
    blocks. With ``paired``, the statistic is :func:`paired_speedup` instead of the pooled
    medians' ratio. The interval is widened to include the point estimate where the percentile
    interval of a median misses it by a hair (tiny or tied samples). Deterministic for a given
    ``seed``.
    """
    from scipy import stats

    ref, cell = _paired_arrays(reference_rounds, cell_rounds)
    if len(ref) < 2:
        raise ValueError(f"a confidence interval needs >= 2 rounds, got {len(ref)}")
    if not 0 < level < 1:
        raise ValueError(f"`level` must be in (0, 1), got {level}")
    if n_resamples < 1:
        raise ValueError(f"`n_resamples` must be >= 1, got {n_resamples}")
    ratios = _round_ratios(ref, cell)

    def statistic(index: NDArray[np.float64], axis: int = -1) -> NDArray[np.float64]:
        picked = np.asarray(index, dtype=np.intp)
        if paired:
            return np.asarray(np.median(ratios[picked], axis=-1))
        shape = (*picked.shape[:-1], -1)  # pool the resampled rounds' calls
        return np.asarray(
            np.median(ref[picked].reshape(shape), axis=-1)
            / np.median(cell[picked].reshape(shape), axis=-1)
        )

    point = float(statistic(np.arange(len(ref), dtype=np.float64)))
    result = stats.bootstrap(
        (np.arange(len(ref), dtype=np.float64),),
        statistic,
        vectorized=True,
        n_resamples=n_resamples,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low = min(float(result.confidence_interval.low), point)
    high = max(float(result.confidence_interval.high), point)
    return SpeedupInterval(point, low, high, level, len(ref))


def _paired_arrays(
    reference_rounds: Sequence[Sequence[float]], cell_rounds: Sequence[Sequence[float]]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    ref = _rounds_array(reference_rounds, "reference_rounds")
    cell = _rounds_array(cell_rounds, "cell_rounds")
    if len(ref) != len(cell):
        raise ValueError(
            f"`reference_rounds` and `cell_rounds` must have as many rounds, got "
            f"{len(ref)} and {len(cell)}"
        )
    return ref, cell


def _round_ratios(ref: NDArray[np.float64], cell: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each round's reference block median over its cell block median."""
    return np.asarray(np.median(ref, axis=1) / np.median(cell, axis=1))


def paired_accuracy_interval(
    correct: Sequence[bool],
    other: Sequence[bool],
    statistic: str = "difference",
    level: float = LEVEL,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
) -> tuple[float, float]:
    """A percentile-bootstrap interval of ``accuracy(correct) - accuracy(other)`` (or their
    ``"ratio"``), resampling the same utterances for both (a paired bootstrap): the noise of a
    finite test split, which a retrained model's accuracy also moves within. Deterministic."""
    from scipy import stats

    a = np.asarray(correct, dtype=np.float64)
    b = np.asarray(other, dtype=np.float64)
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"need two paired samples of >= 2 utterances, got {len(a)} and {len(b)}")
    if statistic not in ("difference", "ratio"):
        raise ValueError(f"`statistic` must be 'difference' or 'ratio', got {statistic!r}")

    def value(
        x: NDArray[np.float64], y: NDArray[np.float64], axis: int = -1
    ) -> NDArray[np.float64]:
        mx, my = np.mean(x, axis=axis), np.mean(y, axis=axis)
        return np.asarray(mx - my if statistic == "difference" else mx / my)

    result = stats.bootstrap(
        (a, b),
        value,
        paired=True,
        vectorized=True,
        n_resamples=n_resamples,
        batch=200,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)
