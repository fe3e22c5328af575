"""accel: a performance regression gate for optimized transformer intent classifiers."""

from __future__ import annotations

__version__ = "0.1.0"
