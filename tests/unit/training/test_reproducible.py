"""Training is reproducible: the same recipe, data, code and threads give the same bytes."""

from __future__ import annotations

import copy
from pathlib import Path

from accel.artifacts.models import Classifier, state_dict_fingerprint
from accel.artifacts.provenance import build_artifact
from accel.training.distillation import KDConfig, StudentRecipe, train_student
from accel.training.finetune import TrainConfig, fine_tune

TEXTS = ["check my balance", "send money to mom", "will it rain", "set a timer"] * 4
LABELS = [1, 2, 3, 4] * 4
RECIPE = StudentRecipe(
    layers=(0, 5), kd=KDConfig(alpha=1.0, temperature=1.0), train=TrainConfig(epochs=2, threads=2)
)


def _trained(reference: Classifier, out: Path) -> bytes:
    def build(target: Path) -> None:
        train_student(reference, TEXTS, LABELS, RECIPE, None, target)

    artifact = build_artifact("student", RECIPE.as_dict(), build, root=out)
    return (artifact.path / "model.safetensors").read_bytes()


def test_a_student_trained_twice_has_the_same_bytes(
    tiny_classifier: Classifier, tmp_path: Path
) -> None:
    first = _trained(tiny_classifier, tmp_path / "a")
    second = _trained(tiny_classifier, tmp_path / "b")
    assert first == second


def test_fine_tuning_twice_gives_the_same_weights(tiny_classifier: Classifier) -> None:
    """Dropout and the batch order are seeded; the weights match bit for bit."""
    runs = []
    for _ in range(2):
        model = copy.deepcopy(tiny_classifier.model)
        fine_tune(model, tiny_classifier.tokenizer, TEXTS, LABELS, TrainConfig(epochs=2))
        runs.append(state_dict_fingerprint(model))
    assert runs[0] == runs[1] != tiny_classifier.fingerprint
