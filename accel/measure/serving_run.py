"""A run's serving figures: each cell's, and the reference's once per device.

After the timing phase the matrix hands every timed cell to :meth:`ServingRun.prefetch`, which
serves them and the reference in fresh processes (:func:`accel.measure.serving.measure`), up to
:data:`MAX_AT_ONCE` at a time where the machine has a core for each child's threads; a cell's
figures are then read from there (:meth:`ServingRun.figures`). Two children at once on 2 cores
left the gated figures as they were (peak memory is the child's own; load time is counted in
its CPU seconds): docs/serving.md, "Served two at a time".
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING

import psutil

from accel.measure import serving
from accel.measure.serving import (
    LOAD_TIME_RATIO,
    MEMORY_RATIO,
    SKIPPED_DEVICES,
    NotBundlable,
    Serving,
    ServingError,
)

if TYPE_CHECKING:  # importing this module imports no torch
    from accel.measure.predictors import Predictor

# Children served at once, at most: two were measured (docs/serving.md); more were not.
MAX_AT_ONCE = 2
Outcome = Serving | NotBundlable | ServingError


def children_at_once(threads: int) -> int:
    """How many serving children of ``threads`` threads each to run at once: one per set of
    ``threads`` physical cores, at least one, at most :data:`MAX_AT_ONCE`."""
    cores = psutil.cpu_count(logical=False) or 1
    return max(1, min(MAX_AT_ONCE, cores // max(1, threads)))


class ServingRun:
    """The serving figures of a run's cells, with the reference's measured once per device."""

    def __init__(
        self,
        queries: Sequence[str],
        threads: int,
        reference: Callable[[str], Predictor],
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled  # False: no figures at all (--accel-no-serving)
        self.queries = list(queries)
        self.threads = threads
        self.at_once = children_at_once(threads)
        self._reference = reference  # device -> the reference's predictor
        self._references: dict[str, Serving | str] = {}  # device -> figures, or why none
        self._served: dict[str, Outcome] = {}  # cell -> what prefetch measured, until read

    def _serve(self, cell: str, predictor: Predictor) -> Outcome:
        try:
            return serving.measure(predictor, self.queries, self.threads, cell)
        except (NotBundlable, ServingError) as exc:
            return exc

    def _keep_reference(self, device: str, outcome: Outcome) -> None:
        self._references[device] = (
            outcome
            if isinstance(outcome, Serving)
            else f"the reference's were not measured: {outcome}"
        )

    def reference(self, device: str) -> Serving | str:
        """The reference's figures on ``device`` (measured once), or why there are none."""
        if device not in self._references:
            self._keep_reference(device, self._serve(f"fp32/{device}", self._reference(device)))
        return self._references[device]

    def _serve_bundle(self, cell: str, bundle: Path) -> Outcome:
        try:
            return serving.serve(bundle, self.queries, self.threads, cell)
        except ServingError as exc:
            return exc

    def prefetch(self, device: str, predictors: Mapping[str, Predictor]) -> None:
        """Serve the reference on ``device`` and each of ``predictors`` (cell -> predictor) not
        served yet, :attr:`at_once` children at a time, for :meth:`figures` to read. Every
        bundle is written first, so that no child runs beside the parent's writing."""
        if not self.enabled or device in SKIPPED_DEVICES:
            return
        todo: list[tuple[str | None, Predictor]] = [  # None: the reference
            (cell, p) for cell, p in predictors.items() if cell not in self._served
        ]
        if device not in self._references:
            todo.insert(0, (None, self._reference(device)))
        outcomes: dict[str | None, Outcome] = {}
        with ExitStack() as stack:
            bundles: dict[str | None, Path] = {}
            for cell, predictor in todo:
                bundle = Path(stack.enter_context(TemporaryDirectory(prefix="accel-serving-")))
                try:
                    serving.save_bundle(predictor, bundle)
                    bundles[cell] = bundle
                except NotBundlable as exc:
                    outcomes[cell] = exc
            with ThreadPoolExecutor(self.at_once) as pool:
                futures = {
                    cell: pool.submit(self._serve_bundle, cell or f"fp32/{device}", bundle)
                    for cell, bundle in bundles.items()
                }
            outcomes |= {cell: future.result() for cell, future in futures.items()}
        if None in outcomes:
            self._keep_reference(device, outcomes.pop(None))
        self._served |= {cell: o for cell, o in outcomes.items() if cell is not None}

    def figures(
        self, cell: str, device: str, predictor: Predictor
    ) -> tuple[dict[str, float], dict[str, float]]:
        """``cell``'s (reported, extra_metrics) serving figures, prefetched or measured now.
        None when they are not tried (turned off, a skipped device, a predictor no process can
        load: the baseline check skips them); NaN ratios, with a warning, when a serving
        process failed (the check fails them as not measured). The cell's other figures are
        unaffected either way."""
        if not self.enabled or device in SKIPPED_DEVICES:
            return {}, {}
        failed = {MEMORY_RATIO: math.nan, LOAD_TIME_RATIO: math.nan}
        own = self._served.pop(cell) if cell in self._served else self._serve(cell, predictor)
        if not isinstance(own, Serving):
            warnings.warn(f"{cell}: no serving figures: {own}", UserWarning, stacklevel=2)
            return {}, ({} if isinstance(own, NotBundlable) else failed)
        reference = self.reference(device)
        if isinstance(reference, str):
            warnings.warn(f"{cell}: no serving ratios: {reference}", UserWarning, stacklevel=2)
            return serving.figures(own, None)[0], failed
        return serving.figures(own, reference)
