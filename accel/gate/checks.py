"""What one check of a cell came to: its status and its words (the verdict's building block)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from accel.gate.compare import Row


class Status(str, Enum):
    """What a check, or a whole cell, came to."""

    PASS = "pass"
    BETTER = "better"  # passes, and some metric beats its baseline by more than the tolerance
    FAIL = "fail"
    WRITTEN = "written"  # the baseline was (re)written from this run
    ERROR = "error"  # the cell could not be built or measured
    SKIPPED = "skipped"  # this machine cannot run the cell

    @property
    def failed(self) -> bool:
        """True for the statuses that fail the gate."""
        return self in (Status.FAIL, Status.ERROR)


@dataclass(frozen=True)
class Check:
    """The verdict of one check (the contract, or the baseline) of one cell."""

    status: Status
    summary: str  # the table's words: "pass", "FAIL speedup", "pass (better: speedup)", ...
    message: str = ""  # the full explanation of a failure or a warning
    reasons: tuple[str, ...] = ()  # each broken promise or regressed metric
    rows: tuple[Row, ...] = ()  # the baseline comparison
    warning: str = ""  # something a person must see even though the check passes
