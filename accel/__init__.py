"""accel: a performance regression gate for optimized transformer intent classifiers.

PYTEST_DONT_REWRITE: the pytest plugin (an entry point of this package) uses no assertions to
rewrite, and pytester's in-process runs would otherwise warn that accel is already imported.
"""

from __future__ import annotations

__version__ = "0.1.0"
