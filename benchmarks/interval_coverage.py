"""How honest is one run's speedup interval? Read it off a gate-fidelity JSON, no timing.

For each clean condition of a ``benchmarks/gate_fidelity.py`` output, this prints the spread of
the speedup between runs (standard deviation over mean), the mean half-width of one run's
interval (relative), and how many runs' intervals contain the median clean speedup: a 90%
interval that captured all the noise a run meets would contain it in about 90% of runs.

    python benchmarks/interval_coverage.py benchmarks/gate-fidelity-sequential.json \
        benchmarks/gate-fidelity-sequential-repeat.json benchmarks/gate-fidelity.json \
        benchmarks/gate-fidelity-repeat.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

CLEAN = ("clean-idle", "clean-busy")


def coverage(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Between-run spread, interval half-width and coverage of the median, for ``runs``."""
    speedups = [float(r["speedup"]) for r in runs]
    median = statistics.median(speedups)
    return {
        "runs": len(runs),
        "median_speedup": median,
        "between_run_cv": statistics.stdev(speedups) / statistics.mean(speedups),
        "mean_half_width": statistics.mean((r["high"] - r["low"]) / 2 / r["speedup"] for r in runs),
        "covers_median": sum(r["low"] <= median <= r["high"] for r in runs) / len(runs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="gate_fidelity.py JSON outputs")
    args = parser.parse_args(argv)
    print(
        "| file | condition | runs | median | between-run CV | CI half-width | CI covers median |"
    )
    print("|---|---|---|---|---|---|---|")
    for path in args.files:
        try:
            conditions = json.loads(path.read_text(encoding="utf-8"))["conditions"]
        except (OSError, ValueError, KeyError) as error:
            parser.error(f"{path}: not a gate_fidelity.py output ({error})")
        for name in CLEAN:
            c = coverage(conditions[name])
            print(
                f"| {path.name} | {name} | {c['runs']:.0f} | {c['median_speedup']:.2f}x | "
                f"{c['between_run_cv']:.1%} | {c['mean_half_width']:.1%} | "
                f"{c['covers_median']:.0%} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
