"""What a predictor feeds its model: a batch item that is not a str is named (index and type)
before the tokenizer sees it; the Rust tokenizer's direct encoding is the tokenizer's own."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from accel.artifacts.models import Classifier, encoder_dir
from accel.measure.predictors import TorchPredictor, check_texts, direct_tokenizer


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


EDGE = ["", " ", "\t\n", "🙂🚀", "a" * 3_000, "what's my balance? " * 300, "Ünïcödé", "a\u200bb"]


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerBase:
    """The embedded encoder's tokenizer, a private instance (calls set its padding state)."""
    return AutoTokenizer.from_pretrained(str(encoder_dir()))


@settings(max_examples=150, deadline=None)
@given(
    batch=st.lists(st.one_of(st.sampled_from(EDGE), st.text(max_size=200)), min_size=1, max_size=5),
    max_length=st.sampled_from([8, 32, 512]),
)
def test_the_direct_encoding_is_the_tokenizers_own(
    tokenizer: PreTrainedTokenizerBase, batch: list[str], max_length: int
) -> None:
    """Ids, attention mask and token types equal the tokenizer's call with padding and
    truncation, for one text and for batches (padded to the longest)."""
    direct = direct_tokenizer(tokenizer, max_length)
    assert direct is not None
    own = tokenizer(
        batch, padding=True, truncation=True, max_length=max_length, return_tensors="np"
    )
    rows = [direct.encode(batch[0])] if len(batch) == 1 else direct.encode_batch(batch)
    np.testing.assert_array_equal(np.array([r.ids for r in rows]), own["input_ids"])
    np.testing.assert_array_equal(np.array([r.attention_mask for r in rows]), own["attention_mask"])
    np.testing.assert_array_equal(np.array([r.type_ids for r in rows]), own["token_type_ids"])


def test_a_predictor_feeds_what_the_tokenizer_would(tiny_classifier: Classifier) -> None:
    clf = tiny_classifier
    predictor = TorchPredictor("tiny", clf.model, clf.tokenizer, clf.labels)
    batch = ["hi", "what is the balance of my checking account right now", "🙂"]
    own = clf.tokenizer(batch, padding=True, truncation=True, return_tensors="np")
    fed = predictor._encode(batch)
    assert list(fed) == list(clf.tokenizer.model_input_names)
    for name, array in fed.items():
        assert array.dtype == np.int64
        np.testing.assert_array_equal(array, own[name])


def test_a_tokenizer_without_a_pad_token_keeps_its_own_call() -> None:
    padless = AutoTokenizer.from_pretrained(str(encoder_dir()))
    padless.pad_token = None
    assert direct_tokenizer(padless, 16) is None

    more = AutoTokenizer.from_pretrained(str(encoder_dir()))
    more.model_input_names = [*more.model_input_names, "position_ids"]  # not in the pipeline
    assert direct_tokenizer(more, 16) is None
