"""Search the distillation recipe's alpha, temperature and epochs with Optuna.

Each trial distills a student on a seeded fraction of the train split and is scored by its
accuracy on the validation split (never the test split, which the gate reports). The result,
every trial included, is rewritten atomically after each trial, so an interrupted search
keeps what it finished. The gate never runs this; the default recipe in
``accel.techniques.distilled`` records the values it found.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from transformers import AutoModelForSequenceClassification

from accel.artifacts.cache import write_json_atomic
from accel.artifacts.data import LABEL, TEXT, intent_names
from accel.measure.accuracy import measure_accuracy
from accel.techniques.base import BuildContext
from accel.techniques.stages.students import (
    DISTILLED_RECIPE,
    LOGITS_FILE,
    dataset,
    teacher_logits,
)
from accel.techniques.stages.torch import torch_predictor
from accel.training.distillation import KDConfig, StudentRecipe, class_ids, train_student
from accel.validation import check_at_least, check_in_range

SCHEMA = "accel-distill-search/1"


@dataclass(frozen=True)
class SearchSpace:
    """Ranges searched (inclusive), the trial budget and the train fraction per trial."""

    trials: int = 10
    train_fraction: float = 0.5
    alpha: tuple[float, float] = (0.0, 1.0)
    temperature: tuple[float, float] = (1.0, 12.0)
    epochs: tuple[int, int] = (2, 8)
    seed: int = 42

    def __post_init__(self) -> None:
        check_at_least(self, "trials", 1)
        check_in_range(self, "train_fraction", 0, 1, "(]")
        lo, hi = self.alpha
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"`alpha` range must satisfy 0 <= low < high <= 1, got {self.alpha}")
        lo, hi = self.temperature
        if not 0.0 < lo < hi:
            raise ValueError(f"`temperature` range must satisfy 0 < low < high, got {lo, hi}")
        if not 1 <= self.epochs[0] <= self.epochs[1]:
            raise ValueError(f"`epochs` range must satisfy 1 <= low <= high, got {self.epochs}")


def run_search(ctx: BuildContext, space: SearchSpace, out: Path, command: str) -> dict[str, Any]:
    """Run the study, writing ``out`` after every trial; return the final record."""
    import optuna

    data = dataset(ctx)
    base = DISTILLED_RECIPE
    soft_all = np.load(teacher_logits(ctx, base.train.max_length).path / LOGITS_FILE)
    train = data["train"]
    keep = max(1, round(space.train_fraction * len(train)))
    order = np.random.default_rng(space.seed).permutation(len(train))[:keep]
    subset = train.select(order)
    names = intent_names(data)
    texts, soft = subset[TEXT], soft_all[order]
    labels = class_ids(ctx.reference.labels, names, subset[LABEL])
    validation = data["validation"]
    val_refs = [names[i] for i in validation[LABEL]]
    trials: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        recipe = dataclasses.replace(
            base,
            kd=KDConfig(
                alpha=trial.suggest_float("alpha", *space.alpha),
                temperature=trial.suggest_float("temperature", *space.temperature),
            ),
            train=dataclasses.replace(
                base.train, epochs=trial.suggest_int("epochs", *space.epochs)
            ),
        )
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            train_student(
                ctx.reference,
                texts,
                labels,
                recipe,
                soft,
                Path(tmp),
                desc=f"trial {trial.number + 1}/{space.trials}",
            )
            model = AutoModelForSequenceClassification.from_pretrained(tmp).eval()
        predictor = torch_predictor("trial", model, ctx)
        acc = measure_accuracy(predictor, validation[TEXT], val_refs, batch_size=128)
        trials.append(
            {
                "number": trial.number,
                "params": dict(trial.params),
                "validation_accuracy": round(acc.accuracy, 4),
                "validation_oos_recall": acc.oos_recall and round(acc.oos_recall, 4),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        write_json_atomic(out, _record(space, command, base, trials))
        return acc.accuracy

    sampler = optuna.samplers.TPESampler(
        seed=space.seed, n_startup_trials=max(1, min(5, space.trials // 2))
    )
    study = optuna.create_study(direction="maximize", sampler=sampler)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=space.trials)
    record = _record(space, command, base, trials)
    write_json_atomic(out, record)
    return record


def _record(
    space: SearchSpace, command: str, base: StudentRecipe, trials: list[dict[str, Any]]
) -> dict[str, Any]:
    best = max(trials, key=lambda t: t["validation_accuracy"]) if trials else None
    return {
        "schema": SCHEMA,
        "command": command,
        "space": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(space).items()},
        "fixed": {
            "layers": list(base.layers),
            "learning_rate": base.train.learning_rate,
            "batch_size": base.train.batch_size,
            "freeze_word_embeddings": base.freeze_word_embeddings,
        },
        "objective": "validation accuracy",
        "best": best,
        "trials": trials,
    }
