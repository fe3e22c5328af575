"""A batch item that is not a str is named (index and type) before the tokenizer sees it."""

from __future__ import annotations

import pytest

from accel.artifacts.models import Classifier
from accel.measure.predictors import TorchPredictor, check_texts


def test_check_texts_names_the_first_bad_item() -> None:
    check_texts(["a", "", "b"])
    with pytest.raises(TypeError, match=r"item 2 is a NoneType: None"):
        check_texts(["a", "b", None, 4])


@pytest.mark.parametrize("method", ["predict", "classify"])
def test_predictor_rejects_a_non_str_item(tiny_classifier: Classifier, method: str) -> None:
    clf = tiny_classifier
    predictor = TorchPredictor("tiny", clf.model, clf.tokenizer, clf.labels)
    with pytest.raises(TypeError, match=r"item 1 is a int: 3"):
        getattr(predictor, method)(["fine", 3])
    with pytest.raises(TypeError, match=r"item 0 is a bytes"):
        getattr(predictor, method)([b"bytes"])
