"""Model families: every built-in technique builds on tiny random BERT, DistilBERT, RoBERTa and
XLM-RoBERTa classifiers and predicts valid intents, leaving the reference's outputs as they were,
or is skipped with a reason naming the family (or, for bf16 and torch-compile, this machine)."""

from __future__ import annotations

import time
from pathlib import Path

import datasets
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoTokenizer,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaForSequenceClassification,
    XLMRobertaConfig,
    XLMRobertaForSequenceClassification,
)

import accel.techniques.compiled as compiled_technique
from accel.artifacts.data import TEXT, load_clinc
from accel.artifacts.families import (
    FAMILIES,
    LAYERS,
    STRUCTURED,
    FamilyError,
    family,
    family_of,
    layer_key_pattern,
    layer_module_pattern,
    unsupported,
)
from accel.artifacts.models import Classifier, encoder_dir, state_dict_fingerprint
from accel.techniques import BuildContext, builtin_registry
from accel.training.distillation import make_student
from accel.training.pruning import encoder_linears
from tests.conftest import TINY_LABELS, tiny_model, write_oos_eval

MODEL_TYPES = ("bert", "distilbert", "roberta", "xlm-roberta")
# Machine checks, not family ones: bf16 without native instructions, no C++ compiler.
MACHINE_SKIPS = {"bf16", "torch-compile"}
# What DistilBERT cannot do: structured pruning, hence the slimmed students too.
FAMILY_SKIPS = {
    "distilbert": {
        "finetuned-student",
        "distilled",
        "distilled-torch-int8",
        "distilled-ort-int8",
        "distilled-ort-lean",
        "pruned-structured",
    }
}
SPECIAL = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # RoBERTa's ids 0-4
WORDS = "what is the balance transfer money weather timer set a for train val test oos sample"


def _labels() -> dict[str, object]:
    return {
        "num_labels": len(TINY_LABELS),
        "id2label": dict(enumerate(TINY_LABELS)),
        "label2id": {n: i for i, n in enumerate(TINY_LABELS)},
    }


def _bpe(texts: list[str]) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on ``texts``, with RoBERTa's special tokens."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIAL, initial_alphabet=alphabet)
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        model_max_length=128,
        model_input_names=["input_ids", "attention_mask"],
    )


def tiny_family_model(model_type: str, texts: list[str]) -> Classifier:
    """A 6-layer (like the teacher: the student recipe keeps 4 of 6), 32-wide random
    classifier of ``model_type``: BERT's and DistilBERT's with the embedded encoder's
    WordPiece vocabulary, RoBERTa's with a BPE trained on ``texts``."""
    if model_type == "bert":
        return tiny_model()
    torch.manual_seed(0)
    tokenizer: PreTrainedTokenizerBase
    model: PreTrainedModel
    if model_type == "distilbert":
        tokenizer = AutoTokenizer.from_pretrained(
            str(encoder_dir()), model_input_names=["input_ids", "attention_mask"]
        )
        config = DistilBertConfig(
            vocab_size=tokenizer.vocab_size,
            dim=32,
            n_layers=6,
            n_heads=2,
            hidden_dim=64,
            **_labels(),
        )
        model = DistilBertForSequenceClassification(config)
    else:
        tokenizer = _bpe([*texts, WORDS])
        kind, make = {
            "roberta": (RobertaConfig, RobertaForSequenceClassification),
            "xlm-roberta": (XLMRobertaConfig, XLMRobertaForSequenceClassification),
        }[model_type]
        config = kind(
            vocab_size=len(tokenizer),
            intermediate_size=64,
            max_position_embeddings=130,
            hidden_size=32,
            num_hidden_layers=6,
            num_attention_heads=2,
            **_labels(),
        )
        model = make(config)
    model.eval()
    return Classifier(
        model, tokenizer, TINY_LABELS, f"tiny-{model_type}", state_dict_fingerprint(model)
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> datasets.DatasetDict:
    return load_clinc(write_oos_eval(tmp_path_factory.mktemp("data") / "tiny.json"))


# Inductor's weight freezing makes it skip its own graph cache, so a frozen build compiles
# afresh in every run: 25-39 s a family here, against 8-19 s unfrozen once the cache is warm
# (docs/architecture.md). What this test asks of each family is that dynamo traces it and
# inductor compiles it; the frozen build is the predictors fixture's (tiny BERT), the serving
# child's and the gate's own.
UNFROZEN = {"freezing": False}


# The tiny students and pruned models train in well under a second each; the compile is most
# of the time.
@pytest.mark.slow
@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_every_technique_builds_or_names_the_family(
    model_type: str, data: datasets.DatasetDict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compiled_technique, "INDUCTOR_CONFIG", UNFROZEN)
    texts = list(data["train"][TEXT])
    reference = tiny_family_model(model_type, texts)
    assert family_of(reference.model).name == model_type
    # Exporting, quantizing, cutting or compiling must not change the reference's own outputs.
    batch = ["hi", "what is the balance of my checking account right now", "set a timer"]
    encoded = reference.tokenizer(batch, padding=True, return_tensors="pt")

    def logits() -> torch.Tensor:
        with torch.inference_mode():
            return reference.model(**encoded).logits

    before = logits()
    registry = builtin_registry()
    built, skipped = set(), {}
    start = time.perf_counter()
    for technique in registry:
        if "cpu" not in technique.devices:
            continue  # fp16, ort-fp16: cuda only
        reason = registry.unavailable(technique.name, "cpu", model_type)
        if reason:
            skipped[technique.name] = reason
            continue
        ctx = BuildContext(reference, data, "cpu", 1, cache_dir=tmp_path)
        predictor = technique.builder()(ctx)
        predicted = predictor.predict(list(data["test"][TEXT]))
        assert len(predicted) == len(data["test"]) and set(predicted) <= set(TINY_LABELS)
        built.add(technique.name)
    family_skips = {n for n, why in skipped.items() if n not in MACHINE_SKIPS}
    assert family_skips == FAMILY_SKIPS.get(model_type, set())
    for name in family_skips:
        assert f"the {model_type} family" in skipped[name], skipped[name]
    assert {"fp32", "torch-int8", "ort-fp32", "ort-int8", "pruned-magnitude"} <= built
    torch.testing.assert_close(logits(), before, rtol=0, atol=0)
    print(f"{model_type}: built {sorted(built)} in {time.perf_counter() - start:.1f} s")


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_students_and_sparse_layers_follow_the_family(model_type: str) -> None:
    model = tiny_family_model(model_type, [WORDS]).model
    found = family_of(model)
    layers = found.layer_list(model)
    assert len(layers) == getattr(model.config, found.layer_count) == 6
    student = make_student(model, (0, 2, 3, 5))
    assert len(found.layer_list(student)) == 4
    torch.testing.assert_close(found.layer_list(student)[1].state_dict(), layers[2].state_dict())
    assert len(encoder_linears(model)) == 6 * 6  # q, k, v, attention out, FFN in and out


def test_patterns_match_every_family_and_nothing_else() -> None:
    for key in (
        "bert.encoder.layer.3.output.dense.weight",
        "distilbert.transformer.layer.3.ffn.lin1.bias",
    ):
        match = layer_key_pattern().match(key)
        assert match is not None and match["index"] == "3"
        assert layer_module_pattern().search(key.rsplit(".", 1)[0])
    assert layer_key_pattern().match("bert.embeddings.word_embeddings.weight") is None


def test_an_unknown_family_is_named_with_the_supported_ones() -> None:
    with pytest.raises(
        FamilyError, match="'albert' is not a supported family; supported: bert, distilbert"
    ):
        family("albert")
    why = unsupported("albert", [LAYERS], "pruned-magnitude")
    assert why is not None and "'albert'" in why and "xlm-roberta" in why
    assert unsupported("albert", [], "fp32") is None  # family-agnostic techniques run on any
    assert unsupported(None, [STRUCTURED], "pruned-structured") is None  # family not known


def test_every_family_says_why_it_lacks_what_it_lacks() -> None:
    for found in FAMILIES:
        assert (found.structure is None) == bool(found.lacks(STRUCTURED))
        assert found.ort_model_type == "bert"  # ORT's BERT fusions match all four
