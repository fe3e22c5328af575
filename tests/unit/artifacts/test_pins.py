"""constraints.txt pins every library whose version keys a cached artifact, so that a library's
release cannot re-key the cache and make the next CI run a cold one (docs/cache.md)."""

from __future__ import annotations

import re
from pathlib import Path

from accel.artifacts.provenance import LIBRARIES

CONSTRAINTS = Path(__file__).resolve().parents[3] / "constraints.txt"


def test_constraints_pin_every_library_of_the_artifact_keys() -> None:
    pins = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.split("#")[0].strip())
        if match:
            pins[match[1].lower()] = match[2]
    unpinned = [name for name in LIBRARIES if name not in pins]
    assert not unpinned, f"{CONSTRAINTS.name} does not pin {unpinned} (name==version)"
