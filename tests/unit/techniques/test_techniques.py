"""The registry's contracts, and the torch-compile build plumbing (with a stand-in compile)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from accel.measure.intervals import SpeedupInterval
from accel.measure.predictors import TorchPredictor
from accel.techniques import REFERENCE, BuildContext, Contract, builtin_registry, compiled
from accel.techniques.base import Technique

TECHNIQUES = builtin_registry()

unit = st.floats(0, 1, allow_nan=False)


def _violations(contract: Contract, accuracy: float, ref: float = 0.87) -> list[str]:
    return contract.violations(accuracy, ref, size_mb=40, ref_size_mb=90, speedup=1.5)


def test_max_accuracy_drop_is_absolute() -> None:
    contract = Contract(max_accuracy_drop=0.003)
    assert _violations(contract, 0.8670) == []
    assert _violations(contract, 0.8671) == []  # within 0.3 points
    (message,) = _violations(contract, 0.8660)
    assert message == "accuracy 0.8660 < reference 0.8700 - 0.003 = 0.8670"
    assert _violations(contract, 0.95) == []  # one-sided: better never breaks it
    assert contract.describe() == "accuracy >= ref - 0.003"


@given(ref=unit, drop=st.floats(0, 0.99), accuracy=unit)
def test_drop_contract_holds_exactly_within_the_drop(
    ref: float, drop: float, accuracy: float
) -> None:

    broken = _violations(Contract(max_accuracy_drop=drop), accuracy, ref)
    assert bool(broken) == (accuracy < ref - drop)


@pytest.mark.parametrize("drop", [-0.001, 1.0, 3.0])
def test_max_accuracy_drop_is_validated(drop: float) -> None:
    with pytest.raises(ValueError, match=r"`max_accuracy_drop` must be in \[0, 1\)"):
        Contract(max_accuracy_drop=drop)


def test_speedup_floor_is_decided_on_the_upper_bound() -> None:
    """With an interval, the speedup promise breaks only when even its upper bound misses."""
    contract = Contract(min_speedup=2.0)

    def broken(interval: SpeedupInterval) -> list[str]:
        return contract.violations(
            0.87, 0.87, size_mb=20, ref_size_mb=90, speedup=interval.speedup, speedup_ci=interval
        )

    assert broken(SpeedupInterval(1.95, 1.85, 2.05)) == []
    (message,) = broken(SpeedupInterval(1.9, 1.8, 1.98, rounds=20))
    assert message == (
        "speedup 1.90x < 2x over the reference; the 90% CI of the speedup is 1.8-1.98"
    )
    # without an interval, the point estimate is held to the floor as before
    assert contract.violations(0.87, 0.87, 20, 90, speedup=1.95) == [
        "speedup 1.95x < 2x over the reference"
    ]


NO_PROMISE = "none (the reference)"  # describe()'s fallback: never empty


def test_every_contract_describes_itself() -> None:
    """describe() falls back to a non-empty text, so checking that it is non-empty could never
    fail: every technique but the reference promises something and says so, and every kind of
    promise (each field of Contract) is described on its own."""
    for technique in TECHNIQUES:
        text = technique.contract.describe()
        if technique.name == REFERENCE:
            assert text == NO_PROMISE
        else:
            assert text and text != NO_PROMISE, f"{technique.name}: {text!r}"
    for promise in dataclasses.fields(Contract):
        value = "finetuned-student" if promise.name == "beats" else 0.5
        text = Contract(**{promise.name: value}).describe()  # type: ignore[arg-type]  # each field gets a value of its own type
        assert text != NO_PROMISE and ("0.5" in text or "finetuned-student" in text), promise.name


def test_new_cells_are_declared_where_they_run() -> None:
    devices = {t.name: set(t.devices) for t in TECHNIQUES}
    assert devices["bf16"] == {"cpu"} and devices["torch-compile"] == {"cpu"}
    assert devices["fp16"] == {"cuda"} and devices["ort-fp16"] == {"cuda"}
    assert {"cpu", "cuda"} <= devices["fp32"] and {"cpu", "cuda"} <= devices["ort-fp32"]
    assert TECHNIQUES["fp16"].contract.max_accuracy_drop == 0.003
    assert TECHNIQUES["ort-fp16"].contract.max_accuracy_drop == 0.003


def test_first_failing_requirement_is_the_reason() -> None:
    calls: list[str] = []

    def ok(device: str) -> None:
        calls.append("ok")

    def missing(device: str) -> str:
        calls.append("missing")
        return f"nothing on {device}"

    technique = Technique("t", "", lambda ctx: None, frozenset({"cpu"}), Contract(), (ok, missing))  # type: ignore[arg-type,return-value]
    assert technique.unavailable("cpu") == "nothing on cpu"
    assert calls == ["ok", "missing"]


def test_compile_is_forced_in_the_build_with_freezing(
    tiny_context: BuildContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warm-up runs the predictor's own path at batch 1 and batch > 1, under freezing."""
    import torch._inductor.config as inductor_config

    seen: list[tuple[int, bool]] = []

    class Spy(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, **kwargs: Any) -> Any:
            seen.append((kwargs["input_ids"].shape[0], inductor_config.freezing))
            return self.inner(**kwargs)

    def fake_compile(model: torch.nn.Module, **options: Any) -> torch.nn.Module:
        assert options == {"dynamic": True}
        return Spy(model)

    monkeypatch.setattr(torch, "compile", fake_compile)
    predictor = compiled.build_torch_compile(tiny_context)
    assert isinstance(predictor, TorchPredictor) and predictor.name == "torch-compile"
    assert sorted(seen) == [(1, True), (2, True)]
    assert predictor.reported["compile_seconds"] >= 0
    assert not inductor_config.freezing  # patched for the build only
    predictor.predict(["after the build"])
    assert seen[-1] == (1, False)


def test_sparsity_and_compressed_size_promises() -> None:
    contract = Contract(min_sparsity=0.5, max_compressed_size_ratio=0.7)
    args = {"accuracy": 0.86, "ref_accuracy": 0.86, "size_mb": 90, "ref_size_mb": 100, "speedup": 1}
    assert contract.violations(**args, extra={"sparsity": 0.5, "compressed_size_mb": 70}) == []
    broken = contract.violations(**args, extra={"sparsity": 0.49, "compressed_size_mb": 71})
    assert broken == [
        "sparsity 0.4900 < 0.5",
        "compressed size 71.00 MB > 0.7 x reference 100.00 MB = 70.00 MB",
    ]
    assert contract.violations(**args) == [
        "sparsity was not measured",
        "the compressed size was not measured",
    ]
    assert contract.describe() == "sparsity >= 0.5, compressed size <= 0.7x ref"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"min_sparsity": 1.0}, "min_sparsity"),
        ({"min_sparsity": -0.1}, "min_sparsity"),
        ({"max_compressed_size_ratio": 0.0}, "max_compressed_size_ratio"),
    ],
)
def test_pruning_promises_are_validated(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=f"`{field}`"):
        Contract(**kwargs)  # type: ignore[arg-type]


def test_pruning_cells_promise_what_the_issue_asks() -> None:
    from accel.techniques.pruned import MAGNITUDE_RECIPE, MOVEMENT_RECIPE

    pruned = {t.name: t for t in TECHNIQUES if t.name.startswith("pruned-")}
    assert set(pruned) == {"pruned-magnitude", "pruned-movement", "pruned-structured"}
    assert MAGNITUDE_RECIPE.method == "magnitude" and MOVEMENT_RECIPE.method == "movement"
    assert max(MAGNITUDE_RECIPE.sparsity, MOVEMENT_RECIPE.sparsity) >= 0.5
    for name, recipe in (
        ("pruned-magnitude", MAGNITUDE_RECIPE),
        ("pruned-movement", MOVEMENT_RECIPE),
    ):
        contract = pruned[name].contract
        assert contract.min_sparsity is not None
        assert contract.min_sparsity == pytest.approx(recipe.sparsity, abs=0.01)
        assert contract.max_compressed_size_ratio is not None
    structured = pruned["pruned-structured"].contract
    assert structured.min_speedup is not None and structured.min_speedup >= 1.3
    assert structured.max_accuracy_drop is not None and structured.max_accuracy_drop <= 0.02
