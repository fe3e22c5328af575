"""The ``scenarios`` object of a run JSON's cell (LoadGen's scenarios), read with validation:
a VALID scenario has finite figures, an INVALID one a reason and no figure."""

from __future__ import annotations

from typing import Any

from accel.measure.scenario_records import INVALID, SCENARIOS, STATUSES, VALID
from accel.reporting.fields import Fields


def read_outcome(r: Fields) -> dict[str, Any]:
    """One scenario's (or one Server search step's) ``result`` with its figures or reason."""
    result = r.text("result")
    if result == VALID:
        return {"result": result, "figures": r.number_map("figures")}
    if result == INVALID:
        if r.has("figures"):
            raise r.error("figures", "must be absent: an INVALID result has no figures")
        return {"result": result, "reason": r.text("reason")}
    raise r.error("result", f"must be {VALID} or {INVALID}, got {result!r}")


def read_scenarios(r: Fields) -> dict[str, Any]:
    """The validated ``scenarios`` object of a cell, as written."""
    status = r.text("status")
    if status not in STATUSES:
        raise r.error("status", f"must be one of {', '.join(STATUSES)}, got {status!r}")
    out: dict[str, Any] = {
        "status": status,
        "settings": r.number_map("settings"),
        "log_dir": r.text("log_dir"),
        "seconds": r.number("seconds"),
    }
    out |= {name: read_outcome(r.obj(name)) for name in SCENARIOS if r.has(name)}
    if r.has("server_search"):
        steps = []
        for i, _ in enumerate(r.items("server_search")):
            step = Fields(r.source, r.data["server_search"][i], f"{r.where}server_search[{i}].")
            steps.append({"target_qps": step.number("target_qps")} | read_outcome(step))
        out["server_search"] = steps
    out |= {"ratios": r.number_map("ratios")} if r.has("ratios") else {}
    return out | ({"message": r.text("message")} if r.has("message") else {})
