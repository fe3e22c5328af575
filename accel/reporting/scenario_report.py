"""LoadGen's scenarios in the table and the report: one line of figures per cell, the settings
once, the Server search's QPS against p99 plot and a Markdown table. Everything reads the
``scenarios`` object of the run JSON (:meth:`CellScenarios.to_dict`), so that the table (from
a live result) and ``accel report`` (from the file) say the same. An INVALID figure shows as
``INVALID (reason)``, never as a number."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from accel.measure.scenario_records import OFFLINE, OK, SERVER, SINGLE_STREAM, VALID
from accel.reporting.plotting import pyplot, save

REASON_CHARS = 120  # an INVALID reason, shortened in the table (the JSON keeps it whole)


def _invalid(outcome: Mapping[str, Any], short: bool) -> str:
    reason = str(outcome.get("reason", ""))
    if short and len(reason) > REASON_CHARS:
        reason = reason[: REASON_CHARS - 3] + "..."
    return f"INVALID ({reason})"


def scenario_parts(record: Mapping[str, Any], short: bool = True) -> dict[str, str]:
    """Each scenario's figures as text, by scenario name (a failed run: its status)."""
    if record.get("status") != OK:
        return {"status": f"{record.get('status')}: {record.get('message', '')}"}
    bound = record.get("settings", {}).get("server_latency_ms")
    out = {}
    for name in (SINGLE_STREAM, SERVER, OFFLINE):
        outcome = record.get(name)
        if outcome is None:
            continue
        if outcome["result"] != VALID:
            out[name] = _invalid(outcome, short)
            continue
        f = outcome["figures"]
        if name == SINGLE_STREAM:
            out[name] = ", ".join(
                f"p{q} {f[f'p{q}_ms']:.3g} ms" + _early(f.get(f"early_stop_p{q}_ms"))
                for q in (90, 99)
                if f"p{q}_ms" in f
            )
        elif name == SERVER:
            out[name] = f"{f['target_qps']:,.0f} qps (p99 {f['p99_ms']:.3g} ms <= {bound:g} ms)"
        else:
            out[name] = f"{f['samples_per_s']:,.0f} samples/s"
    return out


def _early(value: float | None) -> str:
    """LoadGen's early-stopping estimate, where it gave one (too few queries: none)."""
    return "" if value is None else f" (early-stop {value:.3g})"


# The ratios to the reference, as the table and the report name them.
RATIO_NAMES = {
    "singlestream_p90_ratio": "SingleStream p90",
    "server_qps_ratio": "Server qps",
    "offline_throughput_ratio": "Offline samples/s",
}


def ratio_text(record: Mapping[str, Any]) -> str:
    """``x reference: SingleStream p90 0.13, ...`` (VALID pairs only), or empty."""
    found = record.get("ratios") or {}
    parts = [f"{label} {found[key]:.3g}" for key, label in RATIO_NAMES.items() if key in found]
    return "x reference: " + ", ".join(parts) if parts else ""


def scenario_text(record: Mapping[str, Any]) -> str:
    """The table's line: ``SingleStream p90 ... ; Server ... ; Offline ...; x reference ...``."""
    parts = [
        text if name == "status" else f"{name} {text}"
        for name, text in scenario_parts(record).items()
    ]
    return "; ".join(parts + ([ratio_text(record)] if ratio_text(record) else []))


def settings_text(settings: Mapping[str, Any]) -> str:
    """LoadGen's settings in one line."""
    s = {k: format(float(v), "g") for k, v in settings.items()}
    return (
        f"PerformanceOnly, {s.get('samples')} samples; SingleStream >= "
        f"{s.get('single_stream_min_ms')} ms and {s.get('single_stream_min_queries')} queries; "
        f"Server p{100 * float(settings.get('server_percentile', 0)):g} <= "
        f"{s.get('server_latency_ms')} ms, "
        f"{s.get('server_steps')} bisection steps of >= {s.get('server_min_ms')} ms and "
        f"{s.get('server_min_queries')} queries; Offline >= {s.get('offline_min_ms')} ms, "
        f"batches of {s.get('batch')}; max {s.get('max_ms')} ms a run"
    )


def server_chart(records: Mapping[str, Mapping[str, Any]], path: Path, title: str) -> None:
    """The Server search's VALID steps, completed QPS against p99 latency, one line per cell;
    an INVALID step (p99 over the bound, or too few queries) as an x on the bound."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    bound = None
    for i, (cell, record) in enumerate(records.items()):
        steps = sorted(record.get("server_search", []), key=lambda s: s["target_qps"])
        bound = record.get("settings", {}).get("server_latency_ms", bound)
        color = f"C{i % 10}"
        good = [s["figures"] for s in steps if s["result"] == VALID]
        ax.plot(
            [f["qps"] for f in good], [f["p99_ms"] for f in good], "o-", color=color, label=cell
        )
        bad = [s["target_qps"] for s in steps if s["result"] != VALID]
        if bad and bound:
            ax.plot(bad, [bound] * len(bad), "x", color=color, markersize=8)
    if bound:
        ax.axhline(bound, linestyle="--", color="gray", label=f"p99 bound {bound:g} ms")
    ax.set_xscale("log")
    ax.set_xlabel("Server: completed queries per second (Poisson arrivals)")
    ax.set_ylabel("p99 latency (ms)")
    ax.set_title(title + "\nx: an INVALID step of the search, drawn at the bound")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, path)


def scenario_markdown(records: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A Markdown table of every cell's scenario figures, with the LoadGen settings."""
    if not records:
        return []
    lines = ["", "LoadGen scenarios (MLPerf LoadGen, PerformanceOnly):", ""]
    settings = [r.get("settings", {}) for r in records.values()]
    lines += [f"Settings: {settings_text(settings[0])}.", ""]
    body: list[Sequence[str]] = []
    for cell, record in records.items():
        parts = scenario_parts(record, short=False)
        if "status" in parts:
            body.append((f"`{cell}`", parts["status"], "-", "-", "-"))
            continue
        figures = (parts.get(n, "-") for n in (SINGLE_STREAM, SERVER, OFFLINE))
        body.append((f"`{cell}`", *figures, ratio_text(record) or "-"))
    from accel.reporting.table import markdown_grid

    head = ("cell", SINGLE_STREAM, SERVER, OFFLINE, "ratios")
    return lines + markdown_grid(head, body)
