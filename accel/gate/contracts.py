"""Contracts: a technique's portable promises, relative to the reference of the same run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from accel.gate.latency import below_floor
from accel.measure.intervals import SpeedupInterval
from accel.validation import check_in_range, check_positive


@dataclass(frozen=True)
class Contract:
    """Portable promises of a technique, relative to the reference measured in the same run."""

    min_accuracy_ratio: float | None = None
    max_size_ratio: float | None = None
    min_speedup: float | None = None
    max_accuracy_drop: float | None = None  # absolute: 0.003 is 0.3 points below the reference
    beats: str | None = None  # a technique whose accuracy, same device and run, must be lower
    # Pruning: the fraction of zero weights in the pruned layers (extra metric ``sparsity``),
    # and the compressed artifact's size (``compressed_size_mb``) relative to the reference's.
    min_sparsity: float | None = None
    max_compressed_size_ratio: float | None = None

    def __post_init__(self) -> None:
        # Every promise is optional (None: not promised); a given one must make sense.
        ratios = (
            "min_accuracy_ratio", "max_size_ratio", "min_speedup", "max_compressed_size_ratio"
        )
        check_positive(self, *(f for f in ratios if getattr(self, f) is not None))
        for fraction in ("min_sparsity", "max_accuracy_drop"):
            if getattr(self, fraction) is not None:
                check_in_range(self, fraction, 0, 1)

    def violations(
        self,
        accuracy: float,
        ref_accuracy: float,
        size_mb: float,
        ref_size_mb: float,
        speedup: float,
        rival_accuracy: float | None = None,
        extra: Mapping[str, float] | None = None,
        speedup_ci: SpeedupInterval | None = None,
    ) -> list[str]:
        """Human-readable descriptions of every broken promise (empty when all hold).

        ``rival_accuracy`` is the accuracy of the ``beats`` technique, required when set. With
        ``speedup_ci`` (the speedup's confidence interval), the speedup promise breaks only when
        the interval's upper bound is below the floor. ``extra`` holds the cell's extra metrics
        (``sparsity``, ``compressed_size_mb``); a promise on one the cell did not measure is
        broken.
        """
        out: list[str] = []
        if (
            self.min_accuracy_ratio is not None
            and accuracy < self.min_accuracy_ratio * ref_accuracy
        ):
            out.append(
                f"accuracy {accuracy:.4f} < {self.min_accuracy_ratio:g} x reference "
                f"{ref_accuracy:.4f} = {self.min_accuracy_ratio * ref_accuracy:.4f}"
            )
        if self.max_accuracy_drop is not None and accuracy < ref_accuracy - self.max_accuracy_drop:
            out.append(
                f"accuracy {accuracy:.4f} < reference {ref_accuracy:.4f} - "
                f"{self.max_accuracy_drop:g} = {ref_accuracy - self.max_accuracy_drop:.4f}"
            )
        if self.max_size_ratio is not None and size_mb > self.max_size_ratio * ref_size_mb:
            out.append(
                f"size {size_mb:.2f} MB > {self.max_size_ratio:g} x reference "
                f"{ref_size_mb:.2f} MB = {self.max_size_ratio * ref_size_mb:.2f} MB"
            )
        if self.min_speedup is not None and speedup_ci is not None:
            if below_floor(speedup_ci, self.min_speedup):
                out.append(
                    f"speedup {speedup_ci.describe()}: the CI's upper bound "
                    f"{speedup_ci.high:.2f}x < {self.min_speedup:g}x over the reference"
                )
        elif self.min_speedup is not None and speedup < self.min_speedup:
            out.append(f"speedup {speedup:.2f}x < {self.min_speedup:g}x over the reference")
        if self.beats is not None:
            if rival_accuracy is None:
                raise ValueError(f"the contract needs the accuracy of {self.beats!r}")
            if not accuracy > rival_accuracy:
                out.append(
                    f"accuracy {accuracy:.4f} does not beat {self.beats}'s {rival_accuracy:.4f}"
                )
        return out + self._extra_violations(extra or {}, ref_size_mb)

    def _extra_violations(self, extra: Mapping[str, float], ref_size_mb: float) -> list[str]:
        out = []
        sparsity, compressed = extra.get("sparsity"), extra.get("compressed_size_mb")
        if self.min_sparsity is not None:
            if sparsity is None:
                out.append("sparsity was not measured")
            elif sparsity < self.min_sparsity:
                out.append(f"sparsity {sparsity:.4f} < {self.min_sparsity:g}")
        if self.max_compressed_size_ratio is not None:
            limit = self.max_compressed_size_ratio * ref_size_mb
            if compressed is None:
                out.append("the compressed size was not measured")
            elif compressed > limit:
                out.append(
                    f"compressed size {compressed:.2f} MB > {self.max_compressed_size_ratio:g} x "
                    f"reference {ref_size_mb:.2f} MB = {limit:.2f} MB"
                )
        return out

    def describe(self) -> str:
        parts = []
        if self.min_accuracy_ratio is not None:
            parts.append(f"accuracy >= {self.min_accuracy_ratio:g}x ref")
        if self.max_accuracy_drop is not None:
            parts.append(f"accuracy >= ref - {self.max_accuracy_drop:g}")
        if self.max_size_ratio is not None:
            parts.append(f"size <= {self.max_size_ratio:g}x ref")
        if self.min_speedup is not None:
            parts.append(f"speedup >= {self.min_speedup:g}x")
        if self.beats is not None:
            parts.append(f"accuracy > {self.beats}")
        if self.min_sparsity is not None:
            parts.append(f"sparsity >= {self.min_sparsity:g}")
        if self.max_compressed_size_ratio is not None:
            parts.append(f"compressed size <= {self.max_compressed_size_ratio:g}x ref")
        return ", ".join(parts) or "none (the reference)"
