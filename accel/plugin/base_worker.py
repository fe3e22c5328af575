"""The base worker, the cells as the base code builds them, in a process of their own.

Started by :mod:`accel.plugin.base_code` with the base revision's tree first on ``sys.path``, so
that ``accel`` and the project's own modules are the base's, and with ``$ACCEL_CACHE_ONLY`` set,
so that an artifact the cache lacks is that cell's reason, never a training run. It speaks JSON,
one object a line, on its standard input and output (what the libraries print goes to stderr):

1. it reads ``{"protocol", "config", "options", "cells", "queries"}``: the configuration file
   (or null) and the ``--accel-*`` values that :func:`accel.plugin.config.resolve` takes, the
   cells (``technique/device``) and the latency queries;
2. it builds every cell it can, then answers ``{"protocol", "ready": [...], "reasons": {...},
   "source"}``, ``source`` being the file its ``accel`` was imported from;
3. for each ``{"cell", "n", "start"}`` it times ``n`` calls from query ``start`` with
   :func:`accel.measure.timing.time_block` and answers ``{"times": [...]}``, until its input
   ends.

Protocol 2 added ``start`` and ``source``: a head of protocol 2 meets a base of protocol 1
(whose worker times every block from the first query) as a base it cannot use, and says so.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path
from typing import IO, Any

PROTOCOL = 2


def _send(out: IO[str], message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def serve(requests: IO[str], out: IO[str]) -> None:
    """Answer one session of the protocol (the module doc) from ``requests`` on ``out``."""
    from accel.matrix import Matrix, RunConfig
    from accel.measure.records import Cell
    from accel.measure.timing import gc_paused, time_block
    from accel.plugin.config import configured_registry, resolve

    start = json.loads(requests.readline() or "{}")
    if start.get("protocol") != PROTOCOL:
        _send(out, {"protocol": PROTOCOL, "error": f"protocol {start.get('protocol')!r} unknown"})
        return
    settings = resolve(Path(start["config"]) if start["config"] else None, start["options"])
    run = RunConfig(
        model=settings["model"],
        data=settings["data"],
        threads=settings["threads"],
        scaling=False,
        serving=False,
    )
    registry = configured_registry(settings)
    matrix = Matrix(run, registry)
    predictors, reasons = {}, {}
    for cell_id in start["cells"]:
        technique, _, device = cell_id.partition("/")
        if technique not in registry:
            reasons[cell_id] = f"the base code has no technique {technique!r}"
            continue
        try:
            why = registry.unavailable_for(technique, device, run.model)  # as the preflight
            if why is None:
                predictors[cell_id] = matrix.predictor(Cell(technique, device))
        except Exception as exc:  # a cache miss, or a build the base code cannot do here
            why = f"{type(exc).__name__}: {exc}"
        if why is not None:
            reasons[cell_id] = why
    import accel

    ready = {"ready": list(predictors), "reasons": reasons, "source": accel.__file__}
    _send(out, {"protocol": PROTOCOL} | ready)
    queries = start["queries"]
    with gc_paused():
        for line in requests:
            ask = json.loads(line)
            if ask.get("cell") not in predictors:
                _send(out, {"error": f"no cell {ask.get('cell')!r}; ready: {list(predictors)}"})
                continue
            times: list[float] = []
            start_at = int(ask.get("start", 0))
            time_block(predictors[ask["cell"]], queries, int(ask["n"]), times, start_at)
            gc.collect()  # before answering: never while the other side is timed
            _send(out, {"times": times})


def main() -> None:
    """Serve on stdin and stdout; whatever the libraries print goes to stderr instead."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin, out)


if __name__ == "__main__":
    main()
