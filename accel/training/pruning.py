"""Unstructured pruning during fine-tuning: the cubic sparsity schedule, magnitude and movement.

Both prune the encoder's ``nn.Linear`` weights matrix by matrix, each to the sparsity the
schedule gives for the current step (Zhu & Gupta 2017):

    s_t = s_f + (s_i - s_f) * (1 - (t - t_0) / (t_1 - t_0)) ** 3,   t_0 <= t <= t_1

- **magnitude**: ``torch.nn.utils.prune.l1_unstructured`` removes the smallest remaining
  weights; pruned weights stay pruned.
- **movement** (Sanh et al. 2020, "TopK"): each weight has a learned score; the mask keeps the
  weights with the highest scores. Scores get the straight-through gradient
  ``dL/dS = dL/dW' * W`` (``W' = W * mask``), so weights moving away from zero gain score.
  The top-k threshold is recomputed every ``update_every`` steps (a top-k over 10M scores on
  every forward would double the step time on a CPU); the scores learn at every step.
  The paper starts the scores at a constant and fine-tunes a *pretrained* model for epochs.
  Started from an already fine-tuned model, the gradient is mostly noise and Adam's steps
  are sign-like, so constant-initialized scores rank the weights at random within one epoch
  (measured: validation accuracy 0.6% at 50%). ``init="magnitude"`` starts each matrix's
  scores at ``|W| / mean|W|``: the first mask is the magnitude mask, and the movement signal
  then reorders it as far as it is consistent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.nn.utils import parametrize, prune

from accel.artifacts.families import layer_module_pattern
from accel.validation import check_at_least, check_in_range, check_one_of, check_ordered

# Inside a transformer layer, in every supported family (BERT's encoder.layer.<i>).
_ENCODER_LINEAR = layer_module_pattern()
ScoreInit = Literal["constant", "magnitude"]
SCORE_INITS = ("constant", "magnitude")


@dataclass(frozen=True)
class CubicSchedule:
    """Sparsity from ``initial`` (until ``begin_step``) to ``final`` (from ``end_step`` on),
    along a cubic that prunes fast first and slowly at the end."""

    initial: float
    final: float
    begin_step: int
    end_step: int

    def __post_init__(self) -> None:
        check_in_range(self, "initial", 0, 1, "[)")
        check_in_range(self, "final", 0, 1, "[)")
        check_ordered(self, "initial", "final")
        check_at_least(self, "begin_step", 0)
        check_ordered(self, "begin_step", "end_step")

    def at(self, step: int) -> float:
        """The scheduled sparsity at ``step``."""
        if step >= self.end_step:
            return self.final
        if step <= self.begin_step:
            return self.initial
        remaining = 1.0 - (step - self.begin_step) / (self.end_step - self.begin_step)
        return self.final + (self.initial - self.final) * remaining**3


def encoder_linears(model: nn.Module) -> dict[str, nn.Linear]:
    """The ``nn.Linear`` layers inside the encoder's transformer layers, by module name."""
    out = {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and _ENCODER_LINEAR.search(name)
    }
    if not out:
        raise ValueError("the model has no Linear layers under encoder.layer.<i>")
    return out


def weight_sparsity(layers: Sequence[nn.Linear]) -> float:
    """Fraction of exactly-zero weights over all ``layers`` (the effective, masked weights)."""
    with torch.no_grad():
        zeros = sum(int((layer.weight == 0).sum()) for layer in layers)
        total = sum(layer.weight.numel() for layer in layers)
    return zeros / total


def _kept(numel: int, sparsity: float) -> int:
    """How many of ``numel`` weights a matrix keeps at ``sparsity`` (at least one)."""
    return max(1, numel - round(sparsity * numel))


class _ScheduledPruner:
    """What both pruners share: ``layers`` re-masked to the schedule's sparsity every
    ``update_every`` steps, and once more where the schedule ends."""

    sparsity: float

    def __init__(
        self, layers: Sequence[nn.Linear], schedule: CubicSchedule, update_every: int
    ) -> None:
        self.update_every = update_every
        check_at_least(self, "update_every", 1)
        self.layers = list(layers)
        self.schedule = schedule

    def update(self, step: int) -> float:
        """When due at ``step``, prune to the schedule's sparsity there; return the current
        sparsity."""
        if step % self.update_every == 0 or step == self.schedule.end_step:
            self._prune_to(self.schedule.at(step))
        return self.sparsity

    def _prune_to(self, target: float) -> None:
        raise NotImplementedError


class MagnitudePruner(_ScheduledPruner):
    """Gradual magnitude pruning of ``layers`` through ``torch.nn.utils.prune``."""

    def __init__(
        self, layers: Sequence[nn.Linear], schedule: CubicSchedule, update_every: int = 1
    ) -> None:
        super().__init__(layers, schedule, update_every)
        for layer in self.layers:
            prune.identity(layer, "weight")  # weight = weight_orig * weight_mask from now on
        self.sparsity = weight_sparsity(self.layers)

    def _prune_to(self, target: float) -> None:
        for layer in self.layers:
            mask = layer.get_buffer("weight_mask")
            extra = int((mask != 0).sum()) - _kept(mask.numel(), target)
            if extra > 0:
                prune.l1_unstructured(layer, "weight", amount=extra)
        self.sparsity = weight_sparsity(self.layers)

    def finish(self) -> None:
        """Prune to the final sparsity (should training stop before the schedule ends), then
        make the masks permanent: plain ``weight`` tensors with zeros where pruned."""
        self._prune_to(self.schedule.final)
        for layer in self.layers:
            prune.remove(layer, "weight")


class _StraightThrough(torch.autograd.Function):
    """Returns the mask; passes the gradient on to the scores unchanged."""

    @staticmethod
    def forward(ctx: Any, scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return mask

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad, None


class ScoredMask(nn.Module):
    """A parametrization ``W -> W * mask`` whose mask keeps the top-scored weights."""

    mask: torch.Tensor

    def __init__(self, weight: torch.Tensor, init: ScoreInit = "constant") -> None:
        super().__init__()
        self.init = init  # how the scores started
        check_one_of(self, "init", SCORE_INITS)
        with torch.no_grad():
            magnitude = weight.detach().abs()
            start = magnitude / magnitude.mean().clamp_min(1e-12)
        self.scores = nn.Parameter(start if init == "magnitude" else torch.zeros_like(weight))
        self.register_buffer("mask", torch.ones_like(weight))

    def refresh(self, sparsity: float) -> None:
        """Recompute the mask: keep the highest scores, the rest are pruned."""
        with torch.no_grad():
            flat = self.scores.detach().flatten()  # a view: the mask follows its layout
            kept = _kept(flat.numel(), sparsity)
            if kept >= flat.numel():
                self.mask.fill_(1.0)
                return
            threshold = flat.kthvalue(flat.numel() - kept).values
            keep = flat > threshold
            missing = kept - int(keep.sum())
            if missing > 0:  # ties at the threshold (e.g. untrained scores): keep the first
                keep[(flat == threshold).nonzero().flatten()[:missing]] = True
            self.mask.copy_(keep.view_as(self.mask).to(self.mask.dtype))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * _StraightThrough.apply(self.scores, self.mask)


class MovementPruner(_ScheduledPruner):
    """Movement pruning of ``layers``: learned scores, top-k masks on the cubic schedule."""

    def __init__(
        self,
        layers: Sequence[nn.Linear],
        schedule: CubicSchedule,
        update_every: int = 1,
        init: ScoreInit = "constant",
    ) -> None:
        super().__init__(layers, schedule, update_every)
        self.masks: list[ScoredMask] = []
        for layer in self.layers:
            mask = ScoredMask(layer.weight, init)
            parametrize.register_parametrization(layer, "weight", mask)
            self.masks.append(mask)
        self.sparsity = weight_sparsity(self.layers)

    def scores(self) -> list[nn.Parameter]:
        """The learnable scores, one tensor per layer (give them their own learning rate)."""
        return [mask.scores for mask in self.masks]

    def _prune_to(self, target: float) -> None:
        for mask in self.masks:
            mask.refresh(target)
        self.sparsity = weight_sparsity(self.layers)

    def finish(self) -> None:
        """Mask at the final sparsity, then fold the masks into plain ``weight`` tensors."""
        self._prune_to(self.schedule.final)
        for layer in self.layers:
            parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
        self.sparsity = weight_sparsity(self.layers)


def progress(sparsity: float) -> Mapping[str, str]:
    """The progress-bar field for the current sparsity."""
    return {"sparsity": f"{sparsity:.3f}"}


__all__ = [
    "CubicSchedule",
    "MagnitudePruner",
    "MovementPruner",
    "ScoredMask",
    "encoder_linears",
    "progress",
    "weight_sparsity",
]
