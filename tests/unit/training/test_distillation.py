"""The distillation loss (hypothesis properties), the student's surgery, its training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from accel.artifacts.models import Classifier
from accel.techniques import BuildContext
from accel.techniques.stages.students import (
    DISTILLED_RECIPE,
    DISTILLED_SLIMMING,
    FINETUNED_RECIPE,
    FINETUNED_SLIMMING,
)
from accel.training.distillation import (
    KDConfig,
    StudentRecipe,
    class_ids,
    distillation_loss,
    make_student,
    train_student,
)
from accel.training.finetune import TrainConfig

SEARCH_RESULT = Path(__file__).resolve().parents[3] / "benchmarks" / "distill-search.json"
CLASSES = 5

finite = st.floats(-30, 30, allow_nan=False, width=32)
alphas = st.floats(0.0, 1.0)
temperatures = st.floats(0.05, 50.0)


@st.composite
def batches(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    n = draw(st.integers(1, 6))
    student = torch.from_numpy(draw(arrays(np.float32, (n, CLASSES), elements=finite)))
    teacher = torch.from_numpy(draw(arrays(np.float32, (n, CLASSES), elements=finite)))
    labels = torch.tensor(draw(st.lists(st.integers(0, CLASSES - 1), min_size=n, max_size=n)))
    return student, teacher, labels


@settings(max_examples=200, deadline=None)
@given(batch=batches(), alpha=alphas, temperature=temperatures)
def test_loss_is_never_negative(
    batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], alpha: float, temperature: float
) -> None:

    student, teacher, labels = batch
    loss = distillation_loss(student, teacher, labels, KDConfig(alpha, temperature))
    assert torch.isfinite(loss)
    assert loss.item() >= 0.0


@settings(max_examples=200, deadline=None)
@given(batch=batches(), alpha=alphas, temperature=temperatures)
def test_equal_logits_reduce_to_weighted_cross_entropy(
    batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], alpha: float, temperature: float
) -> None:
    student, _, labels = batch
    loss = distillation_loss(student, student.clone(), labels, KDConfig(alpha, temperature))
    expected = alpha * F.cross_entropy(student, labels)
    torch.testing.assert_close(loss, expected, atol=1e-5, rtol=1e-5)


@settings(max_examples=100, deadline=None)
@given(batch=batches(), temperature=temperatures)
def test_alpha_one_ignores_the_teacher(
    batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], temperature: float
) -> None:
    student, teacher, labels = batch
    config = KDConfig(1.0, temperature)
    loss = distillation_loss(student, teacher, labels, config)
    nonsense = torch.full_like(teacher, float("nan"))
    assert torch.equal(loss, distillation_loss(student, nonsense, labels, config))
    torch.testing.assert_close(loss, F.cross_entropy(student, labels))


def _soft_gradient(student: torch.Tensor, teacher: torch.Tensor, t: float) -> torch.Tensor:
    """Gradient of the soft term (alpha = 0) with respect to the student's logits."""
    s = student.clone().requires_grad_(True)
    labels = torch.zeros(len(s), dtype=torch.long)
    distillation_loss(s, teacher, labels, KDConfig(0.0, t)).backward()
    assert s.grad is not None
    return s.grad


bounded = arrays(np.float64, (3, CLASSES), elements=st.floats(-3, 3, allow_nan=False))


@settings(max_examples=100, deadline=None)
@given(student=bounded, teacher=bounded, t1=st.floats(4, 40), t2=st.floats(4, 40))
def test_t_squared_keeps_the_soft_gradient_scale_across_temperatures(
    student: np.ndarray, teacher: np.ndarray, t1: float, t2: float
) -> None:
    """Hinton et al.: softened gradients shrink as 1/T^2; the T^2 factor undoes that, so the
    gradient's norm stays within a small factor when T changes (here up to tenfold)."""
    s, t = torch.from_numpy(student), torch.from_numpy(teacher)
    centred = (s - s.mean(-1, keepdim=True)) - (t - t.mean(-1, keepdim=True))
    assume(centred.norm() > 1e-2)  # the soft term vanishes when the logits agree up to a shift
    g1, g2 = _soft_gradient(s, t, t1).norm(), _soft_gradient(s, t, t2).norm()
    ratio = (g1 / g2).item()
    assert 0.5 < ratio < 2.0, (t1, t2, ratio)
    # without the factor, the ratio would be (t2 / t1) ** 2, up to 100 here
    assert abs(ratio - 1.0) < abs((t2 / t1) ** 2 - 1.0) or abs(t1 - t2) < 1.0


@pytest.mark.parametrize(
    ("alpha", "temperature", "field"),
    [
        (-0.1, 2.0, "alpha"),
        (1.5, 2.0, "alpha"),
        (0.5, 0.0, "temperature"),
        (0.5, -1, "temperature"),
    ],
)
def test_bad_loss_settings_are_clear_errors(alpha: float, temperature: float, field: str) -> None:
    with pytest.raises(ValueError, match=f"`{field}`"):
        KDConfig(alpha, temperature)


def test_mismatched_logit_shapes_are_an_error() -> None:
    with pytest.raises(ValueError, match="same shape"):
        distillation_loss(
            torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2).long(), KDConfig(0.5, 2)
        )


def test_student_starts_from_the_chosen_teacher_layers(tiny_classifier: Classifier) -> None:
    teacher = tiny_classifier.model
    student = make_student(teacher, (0, 2, 4))
    assert student.config.num_hidden_layers == 3
    assert teacher.config.num_hidden_layers == 6  # the teacher is untouched
    t_layers, s_layers = teacher.bert.encoder.layer, student.bert.encoder.layer
    for new, old in enumerate((0, 2, 4)):
        for (name, a), (_, b) in zip(
            s_layers[new].state_dict().items(), t_layers[old].state_dict().items(), strict=True
        ):
            assert torch.equal(a, b), name
    assert torch.equal(student.classifier.weight, teacher.classifier.weight)
    assert student.classifier.weight.data_ptr() != teacher.classifier.weight.data_ptr()


@pytest.mark.parametrize("layers", [(), (0, 1, 2, 3, 4, 5), (4, 2), (0, 6), (1, 1)])
def test_bad_student_layers_are_an_error(
    tiny_classifier: Classifier, layers: tuple[int, ...]
) -> None:
    with pytest.raises(ValueError, match=r"layers|keeps"):
        make_student(tiny_classifier.model, layers)


def test_class_ids_map_by_name_and_name_the_missing() -> None:
    assert class_ids(("oos", "balance"), ("balance", "oos"), [0, 1, 1]) == [1, 0, 0]
    with pytest.raises(ValueError, match="'timer'"):
        class_ids(("oos",), ("oos", "timer"), [0, 1])


def test_distillation_needs_teacher_logits(tiny_classifier: Classifier, tmp_path: Path) -> None:
    recipe = StudentRecipe((0, 2, 4), KDConfig(0.5, 2.0), TrainConfig(epochs=1, threads=1))
    with pytest.raises(ValueError, match="teacher logit"):
        train_student(tiny_classifier, ["a", "b"], [0, 1], recipe, None, tmp_path)


def test_trained_student_is_saved_with_its_recipe(
    tiny_classifier: Classifier, tmp_path: Path
) -> None:
    recipe = StudentRecipe(
        (1, 3), KDConfig(0.3, 4.0), TrainConfig(epochs=2, batch_size=2, threads=1)
    )
    texts, labels = ["check my balance", "send money", "is it raining", "hi"], [1, 2, 3, 0]
    soft = np.random.default_rng(0).normal(size=(4, len(tiny_classifier.labels))).astype("f4")
    frozen_before = tiny_classifier.model.get_input_embeddings().weight.clone()
    losses = train_student(tiny_classifier, texts, labels, recipe, soft, tmp_path)
    assert len(losses) == 2 and all(np.isfinite(losses))
    saved = json.loads((tmp_path / "accel_recipe.json").read_text())
    assert saved["recipe"]["kd"] == {"alpha": 0.3, "temperature": 4.0}
    from transformers import AutoModelForSequenceClassification

    student = AutoModelForSequenceClassification.from_pretrained(str(tmp_path))
    assert student.config.num_hidden_layers == 2
    # the word embeddings were frozen: still the teacher's
    assert torch.equal(student.get_input_embeddings().weight, frozen_before)


def test_student_cells_are_cached(tiny_context: BuildContext) -> None:
    from accel.techniques.stages.students import student

    first = student(tiny_context, DISTILLED_RECIPE)
    again = student(tiny_context, DISTILLED_RECIPE)
    assert first.checkpoint == again.checkpoint
    assert first.fingerprint == again.fingerprint
    finetuned = student(tiny_context, FINETUNED_RECIPE)
    assert finetuned.checkpoint != first.checkpoint


def test_the_distilled_cells_student_is_slimmed_and_cached(tiny_context: BuildContext) -> None:
    from accel.techniques.stages.students import distilled_student, student

    unslimmed = student(tiny_context, DISTILLED_RECIPE)
    slim = distilled_student(tiny_context)
    assert slim.checkpoint != unslimmed.checkpoint
    layers = slim.model.base_model.encoder.layer
    assert len(layers) == len(DISTILLED_RECIPE.layers)
    full = unslimmed.model.config.intermediate_size
    assert all(layer.intermediate.dense.out_features == full // 2 for layer in layers)
    assert slim.model.config.num_attention_heads == unslimmed.model.config.num_attention_heads
    again = distilled_student(tiny_context)
    assert (again.checkpoint, again.fingerprint) == (slim.checkpoint, slim.fingerprint)


def test_default_recipe_uses_the_recorded_search_result() -> None:
    """The committed search result and the default recipe must not drift apart."""
    record = json.loads(SEARCH_RESULT.read_text())
    best = record["best"]["params"]
    assert DISTILLED_RECIPE.kd.alpha == pytest.approx(best["alpha"], abs=0.005)
    assert DISTILLED_RECIPE.kd.temperature == pytest.approx(best["temperature"], abs=0.05)
    assert DISTILLED_RECIPE.train.epochs == best["epochs"]
    assert record["command"].startswith("accel distill-search")
    assert len(record["trials"]) == record["space"]["trials"]
    assert FINETUNED_RECIPE.kd.alpha == 1.0
    assert FINETUNED_RECIPE.train == DISTILLED_RECIPE.train
    assert FINETUNED_SLIMMING.kd.alpha == 1.0
    assert FINETUNED_SLIMMING.structure == DISTILLED_SLIMMING.structure
    assert FINETUNED_SLIMMING.train == DISTILLED_SLIMMING.train


def test_beats_contract_compares_with_the_rival() -> None:
    from accel.techniques import Contract

    contract = Contract(beats="finetuned-student")
    args = {
        "accuracy": 0.85,
        "ref_accuracy": 0.86,
        "size_mb": 1.0,
        "ref_size_mb": 2.0,
        "speedup": 2,
    }
    assert contract.violations(**args, rival_accuracy=0.84) == []
    (broken,) = contract.violations(**args, rival_accuracy=0.85)
    assert "does not beat finetuned-student's 0.8500" in broken
    with pytest.raises(ValueError, match="finetuned-student"):
        contract.violations(**args)
    assert "accuracy > finetuned-student" in contract.describe()


def test_search_writes_every_trial_and_the_best(tiny_context: BuildContext, tmp_path: Path) -> None:
    from accel.techniques.distill_search import SearchSpace, run_search

    out = tmp_path / "search.json"
    space = SearchSpace(trials=2, train_fraction=1.0, epochs=(1, 2))
    record = run_search(tiny_context, space, out, "accel distill-search --trials 2")
    assert json.loads(out.read_text()) == record
    assert [t["number"] for t in record["trials"]] == [0, 1]
    assert record["best"] in record["trials"]
    assert record["best"]["validation_accuracy"] == max(
        t["validation_accuracy"] for t in record["trials"]
    )
    assert set(record["best"]["params"]) == {"alpha", "temperature", "epochs"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"trials": 0}, "trials"),
        ({"train_fraction": 0.0}, "train_fraction"),
        ({"alpha": (0.5, 0.2)}, "alpha"),
        ({"temperature": (0.0, 2.0)}, "temperature"),
        ({"epochs": (3, 2)}, "epochs"),
    ],
)
def test_bad_search_space_is_a_clear_error(kwargs: dict[str, object], field: str) -> None:
    from accel.techniques.distill_search import SearchSpace

    with pytest.raises(ValueError, match=f"`{field}`"):
        SearchSpace(**kwargs)  # type: ignore[arg-type]
