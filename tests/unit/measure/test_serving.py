"""Serving figures: bundles, the fresh child process, failures, ratios, the table's text."""

from __future__ import annotations

import copy
import json
import math
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest
import torch

from accel.artifacts.models import Classifier
from accel.measure import serving, serving_run
from accel.measure.predictors import Predictor, TorchPredictor
from accel.measure.serving import NotBundlable, Serving, ServingError
from accel.measure.serving_run import ServingRun
from accel.techniques import BuildContext, builtin_registry

QUERIES = [
    "set a timer for ten minutes", "what is my balance", "hi", "what's the weather? " * 200
]


def _torch(classifier: Classifier) -> TorchPredictor:
    return TorchPredictor("fp32", classifier.model, classifier.tokenizer, classifier.labels)


def _check(figures: Serving, predictor: Predictor) -> None:
    """The child answers as the parent does, and its figures are sane."""
    assert figures.answers == tuple(predictor.predict([q])[0] for q in QUERIES)
    assert 0 < figures.import_rss_mb <= figures.peak_rss_mb < 64 * 1024
    assert figures.load_seconds > 0
    assert figures.detail["queries"] == len(QUERIES)
    if sys.platform == "linux":
        assert figures.detail["peak_source"] == "VmHWM"


def test_a_torch_cell_is_served_by_a_fresh_process(tiny_classifier: Classifier) -> None:
    predictor = _torch(tiny_classifier)
    figures = serving.measure(predictor, QUERIES, threads=1, cell="fp32/cpu", passes=1)
    _check(figures, predictor)
    assert figures.detail["kind"] == "torch" and figures.detail["torch_imported"]


def test_an_ort_cell_is_served_from_its_onnx_file(tiny_context: BuildContext) -> None:
    predictor = builtin_registry()["ort-fp32"].builder()(tiny_context)
    figures = serving.measure(predictor, QUERIES, threads=1, cell="ort-fp32/cpu", passes=1)
    _check(figures, predictor)
    assert figures.detail["kind"] == "ort" and not figures.detail["torch_imported"]


def test_the_ort_bundle_names_the_cached_artifact(tmp_path: Path) -> None:
    """No copy: the child loads the artifact on disk, with the predictor's threads."""

    class Session:
        def get_session_options(self) -> object:
            return type("Options", (), {"intra_op_num_threads": 3})()

        def get_providers(self) -> list[str]:
            return ["CPUExecutionProvider"]

    from accel.measure.predictors import OrtPredictor

    predictor = OrtPredictor.__new__(OrtPredictor)
    predictor.name, predictor.labels, predictor.max_length = "ort-int8", ("a", "b"), 128
    predictor.onnx_path = tmp_path / "model.onnx"
    predictor.session = cast(Any, Session())  # a stand-in: the bundle reads its options only
    predictor.tokenizer = type(
        "Tok",
        (),
        {"is_fast": True, "pad_token": "[PAD]", "pad_token_id": 0, "save_pretrained": print},
    )()
    serving.save_bundle(predictor, tmp_path / "bundle")
    spec = json.loads((tmp_path / "bundle" / serving.SPEC_FILE).read_text())
    assert spec["onnx_path"] == str((tmp_path / "model.onnx").resolve())
    assert (spec["kind"], spec["threads"], spec["labels"]) == ("ort", 3, ["a", "b"])


def test_a_compiled_module_is_bundled_uncompiled(
    tiny_classifier: Classifier, tmp_path: Path
) -> None:
    """The child compiles it again, with the torch-compile cell's settings."""
    from accel.techniques.compiled import INDUCTOR_CONFIG

    assert serving.COMPILE_INDUCTOR == INDUCTOR_CONFIG
    compiled = torch.compile(tiny_classifier.model, dynamic=True)  # lazy: nothing compiles here
    predictor = TorchPredictor("torch-compile", compiled, tiny_classifier.tokenizer, ("x",) * 5)
    serving.save_bundle(predictor, tmp_path)
    spec = json.loads((tmp_path / serving.SPEC_FILE).read_text())
    assert spec["compile"] == {"dynamic": True, "inductor": INDUCTOR_CONFIG}
    saved = torch.load(tmp_path / serving.MODEL_FILE, weights_only=False)
    assert type(saved) is type(tiny_classifier.model)


@pytest.mark.slow  # the child compiles the tiny model (tens of seconds)
def test_a_compiled_cell_compiles_in_its_child(tiny_classifier: Classifier) -> None:
    reason = builtin_registry().unavailable("torch-compile", "cpu")
    if reason:
        pytest.skip(reason)
    compiled = torch.compile(copy.deepcopy(tiny_classifier.model), dynamic=True)
    tokenizer, labels = tiny_classifier.tokenizer, tiny_classifier.labels
    predictor = TorchPredictor("torch-compile", compiled, tokenizer, labels)
    figures = serving.measure(predictor, QUERIES, threads=1, cell="torch-compile/cpu", passes=1)
    _check(figures, _torch(tiny_classifier))


class Custom:
    """A user's own predictor: no fresh process can load it."""

    name = "mine"

    def predict(self, texts: Sequence[str]) -> list[str]:
        return ["oos"] * len(texts)

    def size_bytes(self) -> int:
        return 1


def test_a_predictor_of_another_type_gives_its_reason(tmp_path: Path) -> None:
    with pytest.raises(NotBundlable, match="Custom is neither a TorchPredictor nor an Ort"):
        serving.save_bundle(Custom(), tmp_path)
    run = ServingRun(QUERIES, 1, lambda device: Custom())
    with pytest.warns(UserWarning, match="mine/cpu: no serving figures: Custom is neither"):
        assert run.figures("mine/cpu", "cpu", Custom()) == ({}, {})


def test_a_crashing_child_names_the_cell_the_exit_code_and_its_stderr(
    tiny_classifier: Classifier, tmp_path: Path
) -> None:
    serving.save_bundle(_torch(tiny_classifier), tmp_path)
    (tmp_path / serving.MODEL_FILE).write_bytes(b"not a pickle")
    with pytest.raises(ServingError) as raised:
        serving.serve(tmp_path, QUERIES, 1, "fp32/cpu")
    message = str(raised.value)
    assert message.startswith("fp32/cpu: the serving process")
    assert "exited with code 1" in message
    assert "UnpicklingError" in message or "pickle" in message  # the child's traceback


def test_a_child_that_prints_no_report_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(serving, "CHILD_MODULE", "this")  # prints the Zen of Python, exits 0
    with pytest.raises(ServingError, match=r"x/cpu: .* printed no valid report"):
        serving.serve(tmp_path, QUERIES, 1, "x/cpu")


def _serving(peak: float, load: float) -> Serving:
    return Serving(peak / 2, peak, load, (), load_cpu_seconds=load * 0.9)


def test_ratios_to_the_reference_and_the_tables_text() -> None:
    reported, ratios = serving.figures(_serving(300.0, 1.0), _serving(600.0, 4.0))
    assert ratios == {"memory_ratio": 0.5, "load_time_ratio": 0.25}
    assert reported["serving.peak_rss_mb"] == 300.0
    assert reported["serving.reference_load_seconds"] == 4.0
    text = serving.describe({k.removeprefix(serving.PREFIX): v for k, v in reported.items()})
    assert text == (
        "serving: peak 300 MB (import 150; reference 600), "
        "load 1.00 s (cpu 0.90; reference 4.00)"
    )
    alone, none = serving.figures(_serving(300.0, 1.0), None)
    assert none == {} and "serving.reference_peak_rss_mb" not in alone


def test_the_reference_is_measured_once_per_device(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[str] = []

    def fake(predictor: Predictor, queries: Sequence[str], threads: int, cell: str) -> Serving:
        served.append(cell)
        return _serving(200.0 if cell.startswith("fp32") else 100.0, 1.0)

    monkeypatch.setattr(serving, "measure", fake)
    run = ServingRun(QUERIES, 1, lambda device: Custom())
    for cell in ("a/cpu", "b/cpu"):
        assert run.figures(cell, "cpu", Custom())[1]["memory_ratio"] == 0.5
    assert served == ["a/cpu", "fp32/cpu", "b/cpu"]
    assert run.figures("a/cuda", "cuda", Custom()) == ({}, {})  # see SKIPPED_DEVICES
    off = ServingRun(QUERIES, 1, lambda device: Custom(), enabled=False)
    assert off.figures("a/cpu", "cpu", Custom()) == ({}, {})
    assert served == ["a/cpu", "fp32/cpu", "b/cpu"]


def test_a_failed_reference_leaves_the_cells_own_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(predictor: Predictor, queries: Sequence[str], threads: int, cell: str) -> Serving:
        if cell.startswith("fp32"):
            raise ServingError(f"{cell}: the serving process exited with code 1")
        return _serving(100.0, 1.0)

    monkeypatch.setattr(serving, "measure", fake)
    run = ServingRun(QUERIES, 1, lambda device: Custom())
    with pytest.warns(UserWarning, match="a/cpu: no serving ratios: the reference's were not"):
        reported, ratios = run.figures("a/cpu", "cpu", Custom())
    assert reported["serving.peak_rss_mb"] == 100.0
    assert set(ratios) == {"memory_ratio", "load_time_ratio"}  # NaN: tried, and failed
    assert all(math.isnan(v) for v in ratios.values())


def test_a_failed_child_leaves_nan_ratios_and_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(predictor: Predictor, queries: Sequence[str], threads: int, cell: str) -> Serving:
        raise ServingError(f"{cell}: the serving process exited with code -9")

    monkeypatch.setattr(serving, "measure", fake)
    run = ServingRun(QUERIES, 1, lambda device: Custom())
    with pytest.warns(UserWarning, match="b/cpu: no serving figures: b/cpu: the serving pro"):
        reported, ratios = run.figures("b/cpu", "cpu", Custom())
    assert reported == {} and all(math.isnan(v) for v in ratios.values())


def test_serving_ratios_not_tried_are_skipped_but_failed_ones_fail() -> None:
    """Absent (turned off, not bundlable): a skipped row; NaN (a failed child): worse."""
    from accel.gate.baselines import Baseline
    from accel.gate.compare import compare

    base = Baseline("a/cpu", {"memory_ratio": 0.5, "load_time_ratio": 0.2}, {}, {}, {}, {}, {})
    rows = {r.metric: r for r in compare({}, base)}
    assert {r.verdict for r in rows.values()} == {"skipped"}
    assert rows["memory_ratio"].note == "not tried in this run"
    failed = {"memory_ratio": math.nan, "load_time_ratio": math.nan}
    rows = {r.metric: r for r in compare(failed, base)}
    assert {r.verdict for r in rows.values()} == {"worse"}
    within = {"memory_ratio": 0.505, "load_time_ratio": 0.21}
    assert {r.verdict for r in compare(within, base)} == {"ok"}


def test_prefetch_serves_the_reference_and_the_cells_side_by_side(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every bundle written first, then two children at once (each waits for another to
    start), then figures() reads what they measured without serving again."""
    together = threading.Barrier(2, timeout=10)  # broken, and so an error, if one at a time
    events: list[str] = []

    def save(predictor: Any, directory: Path) -> None:
        if predictor.name == "mine":
            raise NotBundlable("Custom is neither")
        events.append(f"save {predictor.name}")

    def serve(bundle: Path, queries: Sequence[str], threads: int, cell: str) -> Serving:
        events.append(f"serve {cell}")
        together.wait()
        if cell.startswith("broken"):
            raise ServingError(f"{cell}: the serving process exited with code -9")
        return _serving(200.0 if cell.startswith("fp32") else 100.0, 1.0)

    def named(name: str) -> Any:
        return type("Named", (Custom,), {"name": name})()

    monkeypatch.setattr(serving, "save_bundle", save)
    monkeypatch.setattr(serving, "serve", serve)
    monkeypatch.setattr(serving_run.psutil, "cpu_count", lambda logical=True: 2)
    run = ServingRun(QUERIES, 1, lambda device: named("fp32"))
    assert run.at_once == 2
    cells = {"fp32/cpu": named("fp32"), "mine/cpu": named("mine"), "broken/cpu": named("b")}
    run.prefetch("cpu", cells | {"c/cpu": named("c")})  # the fp32 cell (A/A) is apart from
    assert events[:4] == ["save fp32", "save fp32", "save b", "save c"]  # the reference
    assert sorted(events[4:]) == ["serve broken/cpu", "serve c/cpu"] + ["serve fp32/cpu"] * 2
    assert run.figures("fp32/cpu", "cpu", Custom())[1]["memory_ratio"] == 1.0
    with pytest.warns(UserWarning, match="mine/cpu: no serving figures: Custom is neither"):
        assert run.figures("mine/cpu", "cpu", Custom()) == ({}, {})
    with pytest.warns(UserWarning, match="broken/cpu: no serving figures: broken/cpu: the"):
        reported, ratios = run.figures("broken/cpu", "cpu", Custom())
    assert reported == {} and all(math.isnan(v) for v in ratios.values())
    assert len(events) == 8  # read from the prefetch, not served again
    run.prefetch("cuda", {"a/cuda": Custom()})  # a device without serving figures: nothing
    assert len(events) == 8


@pytest.mark.parametrize(
    ("cores", "threads", "at_once"), [(1, 1, 1), (2, 1, 2), (2, 2, 1), (16, 1, 2), (None, 1, 1)]
)
def test_children_at_once_fit_the_cores(
    monkeypatch: pytest.MonkeyPatch, cores: int | None, threads: int, at_once: int
) -> None:
    monkeypatch.setattr(serving_run.psutil, "cpu_count", lambda logical=True: cores)
    assert serving_run.children_at_once(threads) == at_once
