"""Behaviour against the reference: exact figures on hand-made outputs, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from accel.measure.accuracy import classify_all
from accel.measure.behaviour import (
    MIN_CLASS_EXAMPLES,
    Outputs,
    compare_outputs,
    expected_calibration_error,
    mcnemar_p,
    mean_kl,
)

CLASSES = ("a", "b", "oos")


def _onehot(labels: list[str], confidence: float = 0.9) -> np.ndarray:
    rest = (1 - confidence) / (len(CLASSES) - 1)
    out = np.full((len(labels), len(CLASSES)), rest, dtype=np.float32)
    for i, label in enumerate(labels):
        out[i, CLASSES.index(label)] = confidence
    return out


def _outputs(labels: list[str], confidence: float = 0.9) -> Outputs:
    return Outputs(tuple(labels), _onehot(labels, confidence), CLASSES)


def test_identical_models_agree_fully() -> None:
    truth = ["a"] * 25 + ["b"] * 25
    preds = ["a"] * 20 + ["b"] * 5 + ["b"] * 25
    b = compare_outputs(_outputs(preds), _outputs(preds), truth)
    assert (b.agreement, b.flips_to_wrong, b.flips_to_right) == (1.0, 0, 0)
    assert b.kl_mean == pytest.approx(0.0, abs=1e-9)
    assert b.accuracy_change == 0.0 and b.accuracy_change_ci == (0.0, 0.0)
    assert b.mcnemar_p == 1.0 and not b.significant
    assert b.worst_class_drop == 0.0
    assert b.lacks == ()


def test_flips_classes_and_the_worst_class() -> None:
    """Class a (25 utterances): the reference gets all, the cell 20; class b: both get 24 of
    25, but on different utterances; class oos has too few utterances to be compared."""
    truth = ["a"] * 25 + ["b"] * 25 + ["oos"] * 5
    ref = ["a"] * 25 + ["b"] * 24 + ["a"] + ["oos"] * 5
    cell = ["a"] * 20 + ["b"] * 5 + ["a"] + ["b"] * 24 + ["oos"] * 5
    b = compare_outputs(_outputs(cell), _outputs(ref), truth)
    assert b.flips_to_wrong == 6 and b.flips_to_right == 1
    assert b.agreement == pytest.approx(1 - 7 / 55)
    assert b.accuracy_change == pytest.approx(-5 / 55)
    assert b.accuracy == pytest.approx(49 / 55)  # 20 of a, 24 of b, the 5 oos
    assert b.accuracy_ci[0] < 49 / 55 < b.accuracy_ci[1]
    low, high = b.accuracy_change_ci
    assert low <= b.accuracy_change <= high < 0
    assert [c.name for c in b.classes] == ["a", "b"]  # oos: 5 < MIN_CLASS_EXAMPLES
    assert b.worst is not None and b.worst.name == "a" and b.worst_class_drop == pytest.approx(0.2)
    assert b.worst_class_drop_ci is not None
    assert b.worst_class_drop_ci[0] <= 0.2 <= b.worst_class_drop_ci[1]
    assert b.kl_mean is not None and b.kl_mean > 0
    assert b.mcnemar_p == pytest.approx(mcnemar_p(6, 1))
    gated = b.gated()
    assert set(gated) == {"agreement", "flips_to_wrong", "kl_mean", "ece", "worst_class_drop"}
    record = b.to_dict()
    assert record["worst_classes"][0] == {"name": "a", "n": 25, "accuracy": 0.8, "reference": 1.0}
    assert record["min_class_examples"] == MIN_CLASS_EXAMPLES


def test_mcnemar_is_the_exact_binomial_test() -> None:
    assert mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(5, 5) == pytest.approx(1.0)
    assert mcnemar_p(10, 0) == pytest.approx(2 * 0.5**10)


def test_ece_of_a_calibrated_and_an_overconfident_model() -> None:
    correct = np.array([True] * 9 + [False])
    assert expected_calibration_error(_onehot(["a"] * 10, 0.9), correct) == pytest.approx(
        0.0, abs=1e-6
    )
    # always 0.9 sure, right half the time: a gap of 0.4
    half = np.array([True, False] * 5)
    assert expected_calibration_error(_onehot(["a"] * 10, 0.9), half) == pytest.approx(
        0.4, abs=1e-6
    )


def test_kl_is_zero_for_the_same_distribution_and_finite_for_zeros() -> None:
    p = _onehot(["a", "b"])
    assert mean_kl(p, p) == pytest.approx(0.0, abs=1e-9)
    zeros = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
    assert math.isfinite(mean_kl(_onehot(["b"]), zeros))
    assert mean_kl(_onehot(["b"]), zeros) > 1


def test_a_predictor_without_probabilities_lacks_kl_and_ece_only() -> None:
    truth = ["a"] * 25
    ref = _outputs(["a"] * 25)
    cell = Outputs(tuple(["a"] * 24 + ["b"]))
    b = compare_outputs(cell, ref, truth)
    assert b.kl_mean is None and b.ece is None
    assert any(text.startswith("kl_mean:") for text in b.lacks)
    assert any(text.startswith("ece:") for text in b.lacks)
    assert b.flips_to_wrong == 1 and "kl_mean" not in b.gated() and "agreement" in b.gated()


def test_a_class_absent_from_the_test_split_is_simply_not_compared() -> None:
    truth = ["a"] * 25  # "b" and "oos" never occur in the test split
    b = compare_outputs(_outputs(["a"] * 25), _outputs(["a"] * 25), truth)
    assert [c.name for c in b.classes] == ["a"]


def test_no_class_with_enough_examples_says_so() -> None:
    truth = ["a", "b"]
    b = compare_outputs(_outputs(["a", "b"]), _outputs(["a", "b"]), truth)
    assert b.classes == () and math.isnan(b.worst_class_drop)
    assert "worst_class_drop" not in b.gated()
    assert any("worst_class_drop" in text for text in b.lacks)


def test_empty_split_and_mismatched_lengths_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="non-empty test split"):
        compare_outputs(Outputs(()), Outputs(()), [])
    with pytest.raises(ValueError, match="2 cell and 1 reference predictions for 2"):
        compare_outputs(Outputs(("a", "b")), Outputs(("a",)), ["a", "b"])
    with pytest.raises(ValueError, match="probabilities of shape"):
        Outputs(("a",), np.ones((2, 3), dtype=np.float32), CLASSES)


class _LabelsOnly:
    """A user's predictor that answers labels only."""

    name = "labels-only"

    def predict(self, texts: list[str]) -> list[str]:
        return ["a" for _ in texts]

    def size_bytes(self) -> int:
        return 1


def test_classify_all_keeps_input_order_and_handles_label_only_predictors() -> None:
    texts = ["ccc", "a", "bb"]
    outputs = classify_all(_LabelsOnly(), texts, batch_size=2)
    assert outputs.labels == ("a", "a", "a") and outputs.probabilities is None
