"""The gate: every technique x device cell against its contract and its baseline.

The tests live in ``accel.gate`` so that the installed ``accel run`` command runs the same ones.
"""

from accel.gate import (  # noqa: F401 - collected by pytest
    test_baseline,
    test_contract,
    test_embedded_teacher_accuracy,
    test_ort_fp32_logits_match_pytorch,
)
