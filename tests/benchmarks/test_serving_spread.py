"""benchmarks/serving_spread.py: the spread of each cell's ratios to the reference of its round."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import serving_spread


def _run(round_: int, role: str, technique: str, peak: float, load: float) -> dict[str, Any]:
    return {
        "round": round_, "role": role, "technique": technique, "peak_rss_mb": peak,
        "import_rss_mb": peak / 2, "load_seconds": 2 * load, "load_cpu_seconds": load,
        "cpu_percent_before": 10.0, "cpu_percent_during": 50.0, "detail": {},
    }


def test_ratios_pair_each_cell_with_the_reference_of_its_round() -> None:
    runs = [
        _run(0, "reference", "fp32", 500.0, 2.0),
        _run(0, "cell", "ort-int8", 100.0, 0.1),
        _run(1, "reference", "fp32", 400.0, 1.0),
        _run(1, "cell", "ort-int8", 80.0, 0.05),
    ]
    args = argparse.Namespace(cells="ort-int8", threads=1, concurrent=1)
    doc = serving_spread.document(args, "2026-11-30T00:00:00Z", runs, ["q"] * 25)
    cell = doc["cells"]["ort-int8"]
    assert cell["memory_ratio"]["mean"] == pytest.approx(0.2)
    assert cell["memory_ratio"]["cv"] == pytest.approx(0.0)
    assert cell["load_cpu_ratio"]["mean"] == pytest.approx(0.05)
    assert cell["load_time_ratio"]["max"] == pytest.approx(0.05)
    assert doc["reference"]["peak_rss_mb"]["range_rel"] == pytest.approx(100 / 450)
    assert doc["cpu_percent_during"]["mean"] == 50.0
    args.concurrent = 2  # children side by side: the machine's load is not on record
    two = serving_spread.document(args, "2026-11-30T00:00:00Z", runs, ["q"] * 25)
    assert two["cpu_percent_during"] == {} and two["concurrent"] == 2
