"""Reused accuracy passes: an unchanged cell's test-set outputs are read from the cache.

A cell's outputs on the test split (labels and class probabilities, :class:`Outputs`) are a
function of what runs and where it runs. The key of a cell's outputs holds all of it:

* the model's bytes: the keys of the cached artifacts the cell was built from (each covers its
  recipe, inputs, library versions and the code that built it), the reference's weights
  fingerprint, definition and configuration;
* the code that builds and runs the cell: the digests (:func:`code_digest`) of the technique's
  builder, of the predictor's class and of :func:`classify_all`, each following every function
  and class of accel (and of a plugin's own package) that it reaches;
* the tokenizer (its serialized form), the label names, the texts and the batch size (which
  sets the padding);
* the library versions and the machine record: device, threads, CPU model, the instruction sets
  the kernels use, GPU.

Any change measures the outputs afresh, and the accuracy, macro-F1 and behaviour figures are
computed from them exactly as from a fresh pass. Speed, size, memory and load time are measured
in every run; only the accuracy pass is reused. ``--accel-no-reuse`` (and ``--accel-rebuild``
of a technique) runs every pass afresh. What the key cannot see is a predictor whose outputs
change from call to call for the same input (sampling at inference): such a cell must not be
reused (docs/cache.md, "Reused accuracy passes").
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from accel.artifacts.cache import cached_dir, fingerprint
from accel.artifacts.code import code_digest
from accel.artifacts.provenance import library_versions
from accel.measure.accuracy import classify_all
from accel.measure.behaviour import Outputs
from accel.measure.machine import machine_record

if TYPE_CHECKING:
    from accel.artifacts.models import Classifier
    from accel.artifacts.provenance import Artifact
    from accel.measure.predictors import Predictor

OUTPUTS = "outputs"  # the cache kind: <cache>/outputs/<key>/
# A cell's reported figures say how its accuracy pass went: read from the cache, or its seconds.
OUTPUTS_REUSED = "outputs_reused"
ACCURACY_PASS_SECONDS = "accuracy_pass_seconds"
_PER_CALL = ("padding", "truncation")
_LABELS, _CLASSES, _PROBABILITIES = "labels.json", "classes.json", "probabilities.npy"


@dataclass(frozen=True)
class AccuracyPass:
    """A cell's outputs, the figure that says how they were got (:data:`OUTPUTS_REUSED`, or
    :data:`ACCURACY_PASS_SECONDS`) and their cache entry (``outputs/<key>``)."""

    outputs: Outputs
    figures: dict[str, float]
    entry: str


@dataclass(frozen=True)
class OutputsPlan:
    """The key of a cell's outputs and what its cache entry records (the key's parts)."""

    key: str
    record: dict[str, Any]


def tokenizer_digest(tokenizer: Any) -> str:
    """A sha256 of a tokenizer's behaviour: a fast tokenizer's serialized pipeline (vocabulary,
    normalizer, pre-tokenizer, post-processor), else its class, vocabulary and special tokens."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        # Without the padding and truncation that each call sets (from the predictor's
        # max_length, in the key): a tokenizer that has run keys like one that has not.
        pipeline = json.loads(backend.to_str())
        return fingerprint({k: v for k, v in pipeline.items() if k not in _PER_CALL})
    vocab = sorted(tokenizer.get_vocab().items()) if hasattr(tokenizer, "get_vocab") else []
    special = getattr(tokenizer, "special_tokens_map", {})
    return fingerprint([type(tokenizer).__qualname__, vocab, special])


def plan_outputs(
    *,
    predictor: Any,
    build: Callable[..., Any],
    artifacts: Sequence[str],
    reference: Mapping[str, str],
    texts: Sequence[str],
    batch_size: int,
    machine: Mapping[str, Any],
) -> OutputsPlan:
    """The key of ``predictor``'s outputs on ``texts`` (see the module docstring).

    ``build`` is the technique's builder, ``artifacts`` the keys of the cached artifacts the
    cell was built from, ``reference`` what identifies the reference model (its weights
    fingerprint, definition and configuration) and ``machine`` the run's machine record.
    """
    tokenizer = getattr(predictor, "tokenizer", None)
    record = {
        "code": {
            "builder": code_digest(build),
            "predictor": code_digest(type(predictor)),
            "classify": code_digest(classify_all),
        },
        "artifacts": list(artifacts),
        "reference": dict(reference),
        "tokenizer": tokenizer_digest(tokenizer) if tokenizer is not None else None,
        "max_length": getattr(predictor, "max_length", None),
        "labels": list(getattr(predictor, "labels", ())),
        "texts": fingerprint(list(texts)),
        "n": len(texts),
        "batch_size": batch_size,
        "versions": library_versions(),
        "machine": dict(machine),
    }
    return OutputsPlan(fingerprint(record), record)


def reused_outputs(
    plan: OutputsPlan,
    compute: Callable[[], Outputs],
    *,
    fresh: bool = False,
    root: Path | None = None,
) -> tuple[Outputs, bool]:
    """The outputs under ``plan.key``, computed (by ``compute``) and cached first unless the
    cache holds them; ``fresh`` computes them anew and replaces the entry. Returns the
    outputs and whether they were read from the cache."""
    computed: list[Outputs] = []

    def build(out: Path) -> None:
        outputs = compute()
        computed.append(outputs)
        _save(outputs, out)

    path = cached_dir(OUTPUTS, plan.key, build, root, record=plan.record, rebuild=fresh)
    if computed:
        return computed[0], False
    return _load(path), True


def accuracy_pass(
    predictor: Predictor,
    texts: Sequence[str],
    *,
    build: Callable[..., Any],
    artifacts: Sequence[Artifact],
    reference: Classifier,
    batch_size: int,
    device: str,
    threads: int,
    fresh: bool = False,
    root: Path | None = None,
) -> AccuracyPass:
    """A cell's outputs on ``texts`` (:func:`classify_all`), reused from the cache when their
    key (:func:`plan_outputs`) is there. ``build`` is the technique's builder, ``artifacts``
    the cell's cached artifacts (the reference's included)."""
    plan = plan_outputs(
        predictor=predictor,
        build=build,
        artifacts=[a.key for a in artifacts],
        reference={
            "weights": reference.fingerprint,
            "definition": reference.identity().definition,
            "config": fingerprint(reference.model.config.to_json_string()),
        },
        texts=texts,
        batch_size=batch_size,
        machine=machine_record(device, threads),
    )
    start = time.perf_counter()
    outputs, reused = reused_outputs(
        plan,
        lambda: classify_all(predictor, texts, batch_size, f"accuracy {predictor.name}"),
        fresh=fresh,
        root=root,
    )
    seconds = time.perf_counter() - start
    figures = {OUTPUTS_REUSED: 1.0} if reused else {ACCURACY_PASS_SECONDS: seconds}
    return AccuracyPass(outputs, figures, f"{OUTPUTS}/{plan.key}")


def _save(outputs: Outputs, out: Path) -> None:
    (out / _LABELS).write_text(json.dumps(list(outputs.labels)), encoding="utf-8")
    (out / _CLASSES).write_text(json.dumps(list(outputs.classes)), encoding="utf-8")
    if outputs.probabilities is not None:
        np.save(out / _PROBABILITIES, np.asarray(outputs.probabilities, dtype=np.float32))


def _load(path: Path) -> Outputs:
    labels = json.loads((path / _LABELS).read_text(encoding="utf-8"))
    classes = json.loads((path / _CLASSES).read_text(encoding="utf-8"))
    stored = path / _PROBABILITIES
    probabilities = np.load(stored, allow_pickle=False) if stored.exists() else None
    return Outputs(tuple(labels), probabilities, tuple(classes))
