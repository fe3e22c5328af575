"""Accuracy through ``evaluate`` (a local metric module) and the serialized size."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from accel.artifacts.data import OOS
from accel.measure.behaviour import Outputs
from accel.measure.records import Accuracy

if TYPE_CHECKING:
    from accel.measure.predictors import Predictor

MB = 1_000_000


@lru_cache(maxsize=1)
def _intent_metric() -> Any:
    import evaluate

    path = resources.files("accel.measure.metrics") / "intent_accuracy" / "intent_accuracy.py"
    return evaluate.load(str(path))


def score(
    predictions: Sequence[str], references: Sequence[str], reject_label: str | None = OOS
) -> Accuracy:
    """Accuracy and macro-F1, through ``evaluate``; with a ``reject_label`` (an out-of-scope
    class, CLINC150's ``oos`` by default), also in-scope accuracy and out-of-scope recall."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    result = _intent_metric().compute(
        predictions=list(predictions), references=list(references), oos_label=reject_label
    )
    scoped = reject_label is not None
    return Accuracy(
        accuracy=float(result["accuracy"]),
        accuracy_in_scope=float(result["accuracy_in_scope"]) if scoped else None,
        oos_recall=float(result["oos_recall"]) if scoped else None,
        n=int(result["n"]),
        macro_f1=float(result["macro_f1"]),
        correct=tuple(p == r for p, r in zip(predictions, references, strict=True)),
    )


def classify_all(
    predictor: Predictor, texts: Sequence[str], batch_size: int = 64, desc: str = "predicting"
) -> Outputs:
    """Predict every text in batches of similar length (less padding), in input order, with
    class probabilities when the predictor gives them (one forward pass per batch)."""
    from accel.measure.predictors import ScoringPredictor

    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1, got {batch_size}")
    scorer = predictor if isinstance(predictor, ScoringPredictor) else None
    classes = tuple(scorer.labels) if scorer is not None else ()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: list[str] = [""] * len(texts)
    probabilities = (
        np.zeros((len(texts), len(classes)), dtype=np.float32) if scorer is not None else None
    )
    for start in tqdm(
        range(0, len(order), batch_size), desc=desc, unit="batch", mininterval=5.0, leave=False
    ):
        idx = order[start : start + batch_size]
        batch = [texts[i] for i in idx]
        if scorer is not None and probabilities is not None:
            labels, probs = scorer.classify(batch)
            probabilities[idx] = probs
        else:
            labels = predictor.predict(batch)
        for i, label in zip(idx, labels, strict=True):
            out[i] = label
    return Outputs(tuple(out), probabilities, classes)


def predict_all(
    predictor: Predictor, texts: Sequence[str], batch_size: int = 64, desc: str = "predicting"
) -> list[str]:
    """The labels of :func:`classify_all`."""
    return list(classify_all(predictor, texts, batch_size, desc).labels)


def measure_accuracy(
    predictor: Predictor, texts: Sequence[str], references: Sequence[str], batch_size: int = 64
) -> Accuracy:
    """Score ``predictor`` on every example (batched)."""
    predictions = predict_all(predictor, texts, batch_size, desc=f"accuracy {predictor.name}")
    return score(predictions, references)


def size_mb(predictor: Predictor) -> float:
    """Serialized size in MB (10^6 bytes)."""
    return predictor.size_bytes() / MB
