"""The scenario benchmark's bookkeeping: the spread of each ratio between repetitions."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "scenarios.py"
_spec = importlib.util.spec_from_file_location("scenarios_benchmark", SCRIPT)
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_spread_is_the_range_over_the_mean_of_each_ratio() -> None:
    runs = [
        {
            "cells": {
                "ort-int8/cpu": {
                    "ratios": {"server_qps_ratio": 4.0, "offline_throughput_ratio": 3.0}
                }
            }
        },
        {"cells": {"ort-int8/cpu": {"ratios": {"server_qps_ratio": 6.0}}}},  # Offline INVALID
    ]
    spread = bench.spread(runs)["ort-int8/cpu"]
    assert spread["server_qps_ratio"] == {"values": [4.0, 6.0], "range_over_mean": 0.4}
    assert spread["offline_throughput_ratio"] == {"values": [3.0], "range_over_mean": 0.0}
