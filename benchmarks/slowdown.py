"""Test-only slowdown injection for the gate's fidelity benchmark (never used by accel/)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from accel.measure.predictors import Predictor
from accel.validation import check_in_range


class SlowedPredictor:
    """``inner`` made ``slowdown`` slower (0.25: 25%): after each call, busy-wait ``slowdown``
    times that call's own duration, so every call costs ``(1 + slowdown)`` times as much CPU
    time, the way a real regression would (a sleep would free the core instead)."""

    def __init__(
        self,
        inner: Predictor,
        slowdown: float,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.inner = inner
        self.slowdown = slowdown
        check_in_range(self, "slowdown", 0, 10, "[)")
        self.timer = timer
        self.name = f"{inner.name} +{slowdown:.0%}"

    def predict(self, texts: Sequence[str]) -> list[str]:
        start = self.timer()
        labels = self.inner.predict(texts)
        if self.slowdown:
            now = self.timer()
            deadline = now + (now - start) * self.slowdown
            while self.timer() < deadline:
                pass
        return labels

    def size_bytes(self) -> int:
        return self.inner.size_bytes()
