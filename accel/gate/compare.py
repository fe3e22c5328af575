"""A run's gated metrics against its baseline: one row per metric, with a verdict.

Every gated metric has a direction (:mod:`accel.gate.metrics`): a change for the better never
fails (it is reported as "better", a hint to refresh the baseline); a change for the worse fails
once it exceeds the tolerance. That makes the decision monotone in each metric. The speedup,
when its confidence interval is known, is decided on the interval (:mod:`accel.gate.latency`):
its tolerance is the margin that the interval's upper bound must clear.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from accel.gate import metrics as gated
from accel.gate.base_head import BaseHead, fails
from accel.gate.baselines import Baseline
from accel.gate.latency import MAX_MARGIN, regression_rule, regression_verdict, widened_margin
from accel.gate.metrics import HIGHER, METRICS, Direction, Tolerance
from accel.measure.intervals import SpeedupInterval

RowVerdict = Literal["ok", "better", "worse", "warn", "skipped"]


@dataclass(frozen=True)
class Row:
    """One line of a comparison: metric, obtained, baseline, diff, tolerance, verdict."""

    metric: str
    obtained: float
    baseline: float
    tolerance: Tolerance
    verdict: RowVerdict
    note: str = ""
    interval: tuple[float, float] | None = None  # the obtained value's confidence interval
    rule: str = ""  # how an interval decision was made, with its numbers

    @property
    def diff(self) -> float:
        return self.obtained - self.baseline

    def obtained_text(self) -> str:
        """The obtained value, with its interval when it has one."""
        text = f"{self.obtained:.4f}"
        if self.interval is None:
            return text
        return f"{text} [{self.interval[0]:.4f}, {self.interval[1]:.4f}]"


def decide(direction: Direction, obtained: float, baseline: float, tol: Tolerance) -> RowVerdict:
    """Compare one metric; worse beyond the tolerance fails, better beyond it is flagged."""
    if not (math.isfinite(obtained) and math.isfinite(baseline)):
        return "worse"  # not measured, or a baseline no run can be held to: never a pass
    gain = obtained - baseline if direction == HIGHER else baseline - obtained
    allowed = tol.allowed(baseline)
    if gain < -allowed:
        return "worse"
    if gain > allowed:
        return "better"
    return "ok"


def compare(
    obtained: Mapping[str, float],
    baseline: Baseline,
    *,
    model_matches: bool = True,
    latency_gated: bool = True,
    speedup_interval: SpeedupInterval | None = None,
    slowdown: float = 0.0,
    ungated_note: str = "",
    against_base: BaseHead | str | None = None,
) -> list[Row]:
    """Rows for every gated metric present in both ``obtained`` and the baseline.

    Raw latency is shown, never gated; on a retrained model (same definition, other
    weights: :mod:`accel.gate.identity`), accuracy metrics get at least their declared retrain
    tolerance; when ``latency_gated`` is False (a GPU
    model other than the baseline's), a timing metric that got worse is a warning, not a
    failure. With ``speedup_interval``, the speedup is decided on its confidence interval, the
    tolerance being the margin (:func:`accel.gate.latency.regression_verdict`), widened by the
    machine's ``slowdown`` since the baseline (:func:`accel.gate.latency.machine_slowdown`). With
    ``against_base`` a :class:`BaseHead` (the cell timed beside its baseline's artifact, or
    beside the base code's build of it),
    that decision replaces the rule on the speedup over the reference; a string there says why
    it could not be made, and the row says so.
    """
    base = baseline.flat_metrics()
    rows = []
    optional = gated.optional()
    for metric, spec in METRICS.items():
        if metric not in base or (metric not in obtained and metric not in optional):
            continue
        tol = baseline.tolerances.get(metric) or spec.tolerance
        value, reference = obtained.get(metric, math.nan), base[metric]  # nan: not measured
        if metric not in obtained and spec.skippable:
            rows.append(Row(metric, math.nan, reference, tol, "skipped", "not tried in this run"))
            continue
        if spec.reported:
            rows.append(Row(metric, value, reference, tol, "skipped", "reported, not gated"))
            continue
        note = "" if spec.domain.admits(value) else "not measured"
        if spec.retrain_tolerance is not None and not model_matches:
            tol = tol.widest(spec.retrain_tolerance)
            note = note or "retrain"
        interval, rule = None, ""
        measured = note != "not measured"
        # Base and head timed side by side on this machine: gated whatever the baseline's was.
        timed_here = against_base if isinstance(against_base, BaseHead) else None
        if metric != "speedup" or not measured:
            timed_here = None
        if timed_here is not None:
            verdict: RowVerdict = "worse" if fails(timed_here) else "ok"
            old = "baseline's artifact" if timed_here.against == "artifact" else "base code"
            note, rule = f"vs {old}: {timed_here.answer}", timed_here.describe()
        elif metric == "speedup" and speedup_interval is not None and reference > 0 and measured:
            margin = min(tol.allowed(reference) / reference, MAX_MARGIN)
            wide = widened_margin(margin, slowdown)
            verdict = regression_verdict(speedup_interval, reference, margin, slowdown)
            interval = (speedup_interval.low, speedup_interval.high)
            rule = regression_rule(speedup_interval, reference, margin, slowdown)
            widened = f"margin {wide:.0%}: machine {slowdown:.0%} slower" if wide > margin else ""
            vs = "vs reference" if isinstance(against_base, str) else ""
            note = note or "; ".join(n for n in (vs, widened) if n)
        else:
            verdict = decide(spec.direction, value, reference, tol)
        if spec.timing and not latency_gated and timed_here is None:
            note = ungated_note or "other GPU, not gated"
            verdict = "warn" if verdict == "worse" else verdict
        rows.append(Row(metric, value, reference, tol, verdict, note, interval, rule))
    return rows


def format_rows(rows: list[Row]) -> str:
    """The mismatch table: metric | obtained | baseline | diff | tolerance | verdict."""
    header = ("metric", "obtained", "baseline", "diff", "tolerance", "verdict")
    lines = [header] + [
        (
            r.metric,
            r.obtained_text(),
            f"{r.baseline:.4f}",
            f"{r.diff:+.4f}",
            r.tolerance.describe(),
            r.verdict + (f" ({r.note})" if r.note else ""),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def explain(rows: list[Row]) -> str:
    """The interval decisions behind failing or warning rows, one line each (may be empty)."""
    return "".join(
        f"{r.metric}: {r.rule}\n" for r in rows if r.rule and r.verdict in ("worse", "warn")
    )
