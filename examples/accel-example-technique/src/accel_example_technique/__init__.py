"""An accel technique from a separate package: the reference as frozen TorchScript.

This module only declares the technique; it imports no torch, so that listing techniques
(``pytest --co``) stays cheap. The builder imports the heavy part
(:mod:`accel_example_technique.tracing`) when a cell is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accel.techniques import BuildContext, Contract, technique

if TYPE_CHECKING:
    from accel.measure.predictors import Predictor

__version__ = "0.1"


@technique(
    name="torchscript",
    description="the reference traced with torch.jit.trace and frozen (torch.jit.freeze), "
    "run as TorchScript",
    devices=("cpu",),
    # The same weights and the same arithmetic as the reference, in one graph without Python:
    # the same predictions (up to rounding), the same size (the weights become constants of
    # the saved graph), and no slower. Measured on the embedded teacher at 1 thread on a busy
    # 2-core AMD EPYC: accuracy 0.8675 as fp32, 91.1 MB as fp32, 1.12x (90% CI 1.10-1.14x,
    # 4 rounds); 2.7x on a tiny BERT, where Python's share is larger. The gain depends on the
    # model and the machine, so the floor is loose; the baseline file gates the figure measured.
    contract=Contract(min_accuracy_ratio=0.99, max_size_ratio=1.02, min_speedup=0.9),
)
def torchscript(ctx: BuildContext) -> Predictor:
    """Trace, freeze and check the reference (cached as a TorchScript file), then load it."""
    from accel_example_technique.tracing import build

    return build(ctx)


__all__ = ["torchscript"]
