"""The gate: every technique x device cell against its contract and its baseline.

The tests live in ``accel.gate`` so that the installed ``accel run`` command runs the same ones.
"""

