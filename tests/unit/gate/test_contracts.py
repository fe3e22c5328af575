"""Contract promises: met, broken, or undecided within the measured noise."""

from __future__ import annotations

import pytest

from accel.gate.contracts import Assessment, Contract, Paired
from accel.measure.intervals import SpeedupInterval, paired_accuracy_interval

N = 5500


def _paired(cell_right: int, ref_right: int, disagree: int = 300) -> Paired:
    """Correctness of a cell and a reference on N utterances: ``disagree`` of the reference's
    right answers are wrong for the cell, and the cell gets others right instead."""
    ref = [i < ref_right for i in range(N)]
    cell = list(ref)
    for i in range(disagree):
        cell[i] = False  # right for the reference, wrong for the cell
    extra = cell_right - sum(cell)
    for i in range(ref_right, ref_right + extra):
        cell[i] = True
    assert sum(cell) == cell_right
    return Paired(cell, ref)


def _assess(
    contract: Contract, paired: Paired, speedup: float = 3.0, ci: SpeedupInterval | None = None
) -> Assessment:
    cell, ref = sum(paired.cell) / N, sum(paired.reference) / N
    return contract.assess(cell, ref, 10.0, 90.0, speedup, speedup_ci=ci, paired=paired)


def test_an_accuracy_floor_missed_by_two_utterances_is_undecided_not_broken() -> None:
    contract = Contract(min_accuracy_ratio=0.99)
    paired = _paired(cell_right=4722, ref_right=4771)  # 0.8585 against 0.99 x 0.8675 = 0.8588
    assessed = _assess(contract, paired)
    assert assessed.broken == []
    assert len(assessed.undecided) == 1 and "within noise" in assessed.undecided[0]
    assert contract.violations(0.8585, 0.8675, 10.0, 90.0, 3.0) != []  # points alone: broken


def test_an_accuracy_floor_missed_far_beyond_the_noise_is_broken() -> None:
    paired = _paired(cell_right=4500, ref_right=4771)  # 0.818: 0.943x
    assessed = _assess(Contract(min_accuracy_ratio=0.99), paired)
    assert len(assessed.broken) == 1 and "90% CI of the accuracy ratio" in assessed.broken[0]
    assert assessed.undecided == []


def test_a_met_floor_is_neither_broken_nor_undecided() -> None:
    assessed = _assess(
        Contract(min_accuracy_ratio=0.99, max_accuracy_drop=0.01), _paired(4771, 4771)
    )
    assert assessed.broken == [] and assessed.undecided == []


def test_beating_a_rival_within_noise_is_undecided() -> None:
    """Two students that disagree on a few hundred utterances, 6 net in the rival's favour
    (the cold retrain of the issue): undecided; a rival far ahead: broken."""
    contract = Contract(beats="finetuned-student")
    ref = [i < 4700 for i in range(N)]
    cell = _paired(4690, 4700, disagree=200).cell
    rival = _paired(4696, 4700, disagree=100).cell

    def against(rival: list[bool]) -> Assessment:
        return contract.assess(
            4690 / N,
            4700 / N,
            10.0,
            90.0,
            2.0,
            rival_accuracy=sum(rival) / N,
            paired=Paired(cell, ref, rival),
        )

    assessed = against(rival)
    assert assessed.broken == [] and "finetuned-student" in assessed.undecided[0]
    assert len(against([i < 4900 for i in range(N)]).broken) == 1


def test_a_speedup_floor_missed_within_its_interval_is_undecided() -> None:
    contract = Contract(min_speedup=10.0)
    paired = _paired(4771, 4771)
    undecided = _assess(contract, paired, 9.8, SpeedupInterval(9.8, 9.5, 10.2))
    assert undecided.broken == [] and "speedup 9.80x < 10x" in undecided.undecided[0]
    broken = _assess(contract, paired, 9.0, SpeedupInterval(9.0, 8.8, 9.2))
    assert len(broken.broken) == 1 and broken.undecided == []


def test_the_paired_interval_brackets_the_difference_and_is_deterministic() -> None:
    paired = _paired(4722, 4771)
    low, high = paired_accuracy_interval(paired.cell, paired.reference)
    assert low < (4722 - 4771) / N < high
    assert (low, high) == paired_accuracy_interval(paired.cell, paired.reference)
    ratio = paired_accuracy_interval(paired.cell, paired.reference, "ratio")
    assert ratio[0] < 4722 / 4771 < ratio[1]
    with pytest.raises(ValueError, match="paired samples"):
        paired_accuracy_interval([True], [True, False])


def _behaviour(
    contract: Contract, extra: dict[str, float], intervals: dict[str, tuple[float, float]]
) -> Assessment:
    return contract.assess(0.86, 0.86, 10.0, 90.0, 3.0, extra=extra, intervals=intervals)


@pytest.mark.parametrize(
    ("agreement", "interval", "outcome"),
    [
        (0.975, (0.972, 0.978), "met"),
        (0.968, (0.965, 0.972), "undecided"),  # below 0.97, but its interval reaches it
        (0.950, (0.946, 0.955), "broken"),
        (float("nan"), (0.0, 1.0), "broken"),  # not measured
    ],
)
def test_an_agreement_floor_has_three_answers(
    agreement: float, interval: tuple[float, float], outcome: str
) -> None:
    assessed = _behaviour(
        Contract(min_agreement=0.97), {"agreement": agreement}, {"agreement": interval}
    )
    found = "broken" if assessed.broken else "undecided" if assessed.undecided else "met"
    assert found == outcome


@pytest.mark.parametrize(
    ("drop", "interval", "outcome"),
    [
        (0.067, (0.0, 0.13), "met"),
        (0.133, (0.033, 0.233), "undecided"),  # above 0.1, but its interval reaches below
        (0.300, (0.167, 0.433), "broken"),
    ],
)
def test_a_class_drop_ceiling_has_three_answers(
    drop: float, interval: tuple[float, float], outcome: str
) -> None:
    contract = Contract(max_class_drop=0.1)
    assessed = _behaviour(contract, {"worst_class_drop": drop}, {"worst_class_drop": interval})
    found = "broken" if assessed.broken else "undecided" if assessed.undecided else "met"
    assert found == outcome
    assert "worst class drop <= 0.1" in contract.describe()


def test_a_behaviour_promise_on_a_figure_not_measured_is_broken() -> None:
    assessed = _behaviour(Contract(min_agreement=0.9, max_class_drop=0.2), {}, {})
    assert len(assessed.broken) == 2 and "not measured" in assessed.broken[0]
