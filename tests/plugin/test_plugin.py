"""The plugin's options, parametrization and baseline flow, on synthetic measurements."""

from __future__ import annotations

import json

import pytest
import torch

pytest_plugins = ["pytester"]

# What the matrix measures for every cell beside its accuracy: its behaviour against the
# reference (in the fake inner measurements, a perfect agreement).
BEHAVIOUR = {
    "agreement": 1.0, "flips_to_wrong": 0.0, "kl_mean": 0.0, "ece": 0.04, "worst_class_drop": 0.0
}
# A conftest for the inner runs: the real plugin, with Matrix.measure replaced by a synthetic
# result whose accuracy/speedup come from environment variables, patched per inner test only
# (the outer session's real matrix must never see the fake).
INNER_CONFTEST = """
import json
import os

import pytest

from accel import matrix
from accel.measure import records
from accel.measure.records import Accuracy, Latency, Speedup


BEHAVIOUR = json.loads(BEHAVIOUR_JSON)  # test_plugin.BEHAVIOUR


def fake_measure(self, cell):
    acc = float(os.environ.get("FAKE_ACCURACY", "0.87"))
    speedup = float(os.environ.get("FAKE_SPEEDUP", "8.0"))
    speedup = json.loads(os.environ.get("FAKE_SPEEDUPS", "{}")).get(cell.technique, speedup)
    ref_s = float(os.environ.get("FAKE_REF_S", "0.008"))  # the reference's call, seconds
    ref = Latency.from_values([ref_s] * 10)
    lat = Latency.from_values([ref_s / speedup] * 10)
    gpu = os.environ.get("FAKE_GPU")  # pretend the cell ran on this GPU
    reported = {"compile_seconds": 12.5, "throughput_seq_per_s.b8": 1234.0}
    rounds = 10
    timing = Speedup(
        lat, ref, speedup, (speedup,) * rounds,
        reference_rounds=((ref_s,) * 5,) * rounds,
        cell_rounds=((ref_s / speedup,) * 5,) * rounds,
    )
    return records.CellResult(
        cell=cell, accuracy=Accuracy(acc, acc, float(os.environ.get("FAKE_OOS", "0.5")), 5500),
        size_mb=20.0,
        timing=timing, build_seconds=0.1,
        reference_accuracy=Accuracy(0.87, 0.96, 0.5, 5500), reference_size_mb=90.0,
        machine={"cpu": "fake", "threads": 1, "device": "cuda" if gpu else cell.device, "gpu": gpu}
        | ({"isa": json.loads(os.environ["FAKE_ISA"])} if "FAKE_ISA" in os.environ else {}),
        model={
            "checkpoint": "fake",
            "fingerprint": "sha256:fake",
            "definition": os.environ.get("FAKE_DEFINITION", "def-1"),
        }
        | ({"trained": os.environ["FAKE_TRAINED"]} if "FAKE_TRAINED" in os.environ else {}),
        artifacts=(
            {"kind": "onnx", "key": "k1", "definition": os.environ.get("FAKE_DEFINITION", "def-1")},
        ),
        reported=reported if os.environ.get("FAKE_REPORTED") else {},
        extra_metrics=json.loads(os.environ.get("FAKE_EXTRA", "{}")) | BEHAVIOUR,
    )


def fake_score(self, cell):
    acc = float(os.environ.get("FAKE_RIVAL_ACCURACY", "0.86"))
    return Accuracy(acc, acc, 0.5, 5500), 30.0


@pytest.fixture(autouse=True)
def fake_matrix(monkeypatch):
    monkeypatch.setattr(matrix.Matrix, "measure", fake_measure)
    monkeypatch.setattr(matrix.Matrix, "score", fake_score)
    if "FAKE_SCORE_ERROR" in os.environ:  # scoring the rival cell raises
        def broken(self, cell):
            raise RuntimeError(os.environ["FAKE_SCORE_ERROR"])
        monkeypatch.setattr(matrix.Matrix, "score", broken)
"""
INNER_CONFTEST = INNER_CONFTEST.replace("BEHAVIOUR_JSON", repr(json.dumps(BEHAVIOUR)))
INNER_TEST = "from accel.plugin.suite import test_baseline, test_contract  # noqa: F401\n"
ARGS = ("--accel-techniques=ort-int8", "--accel-device=cpu", "-p", "no:cacheprovider")


def test_bad_option_values_list_the_valid_ones(inner: pytest.Pytester) -> None:
    result = inner.runpytest("--accel-techniques=ort-int4")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--accel-techniques: unknown value(s) ort-int4; valid: fp32,*ort-int8*"]
    )
    result = inner.runpytest("--accel-threads=0")
    result.stderr.fnmatch_lines(["*--accel-threads must be >= 1, got 0*"])


def test_an_unknown_technique_to_rebuild_is_a_usage_error(inner: pytest.Pytester) -> None:
    result = inner.runpytest("--accel-rebuild=ort-int4")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--accel-rebuild: unknown value(s) ort-int4; valid: all, fp32, *"]
    )


def test_help_lists_every_option(inner: pytest.Pytester) -> None:
    out = inner.runpytest("--help").stdout.str()
    for option in (
        "--accel-update-baselines",
        "--accel-techniques=NAMES",
        "--accel-device=DEVICES",
        "--accel-model=SPEC",
        "--accel-threads=N",
        "--accel-json=PATH",
        "--accel-data=PATH",
        "--accel-no-scaling",
        "--accel-no-serving",
        "--accel-require=CELLS",
    ):
        assert option in out


def test_the_serving_figures_are_on_unless_turned_off(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        test_serving_option="""
def test_serving(accel_state):
    print("SERVING", accel_state.run.serving, accel_state.matrix.config.serving)
"""
    )
    args = ("-k", "test_serving", "-s", "-p", "no:cacheprovider")
    inner.runpytest(*args).stdout.fnmatch_lines(["*SERVING True True*"])
    inner.runpytest(*args, "--accel-no-serving").stdout.fnmatch_lines(["*SERVING False False*"])


def test_cells_are_technique_by_device(inner: pytest.Pytester) -> None:
    result = inner.runpytest("--co", "-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        ["*test_contract?fp32/cpu?*", "*test_contract?ort-int8/cpu?*", "*test_contract?fp32/cuda?*"]
    )
    assert "torch-int8/cuda" not in result.stdout.str()  # not a cuda technique


@pytest.mark.skipif(
    torch.cuda.is_available(),
    reason="checks that skipped cells are left out, using the cuda cells, which run on a GPU",
)
def test_the_selected_runnable_cells_are_timed_together(inner: pytest.Pytester) -> None:
    """After -k selection, the cells left (skipped ones aside) are declared to the matrix."""
    inner.makepyfile(
        test_declared="""
def test_declared(accel_state):
    print("DECLARED", ",".join(c.id for c in accel_state.matrix.together))
"""
    )
    result = inner.runpytest(
        "--accel-techniques=fp32,ort-int8,ort-fp32",
        "-k",
        "not ort-fp32 or declared",
        "-s",
        "-p",
        "no:cacheprovider",
    )
    result.stdout.fnmatch_lines(["*DECLARED fp32/cpu,ort-int8/cpu"])  # cuda cells: skipped


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_cells_skip_with_a_reason(inner: pytest.Pytester) -> None:
    result = inner.runpytest("--accel-device=cuda", "-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=8)  # fp32, ort-fp32, fp16, ort-fp16: contract and baseline
    result.stdout.fnmatch_lines(["*no CUDA GPU on this machine*"])


def test_cells_without_their_instruction_set_skip_with_the_reason(
    inner: pytest.Pytester,
) -> None:
    inner.makeconftest(
        INNER_CONFTEST
        + """
from accel.measure import capabilities

_real_flags = capabilities.cpu_flags


def pytest_configure(config):
    capabilities.cpu_flags = lambda: frozenset({"avx2"})


def pytest_unconfigure(config):
    capabilities.cpu_flags = _real_flags
"""
    )
    args = ("--accel-techniques=fp32,bf16", "--accel-device=cpu", "-rs", "-p", "no:cacheprovider")
    result = inner.runpytest(*args, "--accel-update-baselines")
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines(["*SKIPPED*bf16/cpu*needs a CPU with native bfloat16*"])


def test_on_another_gpu_latency_warns(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_GPU", "NVIDIA A100-SXM4-40GB")
    inner.runpytest(*ARGS, "--accel-update-baselines").assert_outcomes(passed=2)
    monkeypatch.setenv("FAKE_GPU", "NVIDIA L4")
    monkeypatch.setenv("FAKE_SPEEDUP", "4.0")
    result = inner.runpytest(*ARGS)
    result.assert_outcomes(passed=2, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*slower than*on another GPU, not gated*",
            "*speedup*4.0000*8.0000*warn (other GPU, not gated)*",
            "*ort-int8/cpu*pass (warn: speedup on another GPU)*",
        ]
    )
    monkeypatch.setenv("FAKE_ACCURACY", "0.80")  # accuracy stays gated
    inner.runpytest(*ARGS).assert_outcomes(failed=2)
    monkeypatch.setenv("FAKE_GPU", "NVIDIA A100-SXM4-40GB")  # the baseline's own GPU: gated
    monkeypatch.setenv("FAKE_ACCURACY", "0.87")
    inner.runpytest(*ARGS).assert_outcomes(passed=1, failed=1)


def test_on_other_instruction_sets_latency_warns_and_the_title_says_why(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_ISA", '["avx2", "avx512f", "avx512_vnni"]')
    inner.runpytest(*ARGS, "--accel-update-baselines").assert_outcomes(passed=2)
    monkeypatch.setenv("FAKE_ISA", '["avx2"]')
    monkeypatch.setenv("FAKE_SPEEDUP", "4.0")
    result = inner.runpytest(*ARGS)
    result.assert_outcomes(passed=2, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*accel matrix: *this CPU's instruction sets differ from the baseline's*",
            "*ort-int8/cpu*pass (warn: speedup on other instruction sets)*",
        ]
    )
    monkeypatch.setenv("FAKE_ISA", '["avx512_vnni", "avx512f", "avx2"]')  # the same sets
    inner.runpytest(*ARGS).assert_outcomes(passed=1, failed=1)


def test_reported_figures_follow_the_table(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_REPORTED", "1")
    out = inner.path / "out.json"
    result = inner.runpytest(*ARGS, "--accel-update-baselines", f"--accel-json={out}")
    result.stdout.fnmatch_lines(
        ["*reported, not gated:*", "*ort-int8/cpu: compile 12.5 s; throughput seq/s b8: 1,234*"]
    )
    reported = json.loads(out.read_text())["cells"][0]["reported"]
    assert reported == {"compile_seconds": 12.5, "throughput_seq_per_s.b8": 1234.0}


def test_baseline_lifecycle(inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # 1. no baseline: the cell fails and says how to create it
    result = inner.runpytest(*ARGS)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*No baseline for ort-int8/cpu*", "*--accel-update-baselines*"])
    # 2. explicit update writes it
    result = inner.runpytest(*ARGS, "--accel-update-baselines")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*ort-int8/cpu*baseline written*"])
    path = inner.path / "baselines" / "cpu" / "ort-int8.json"
    assert json.loads(path.read_text())["metrics"]["speedup"] == 8.0
    # 3. unchanged: green, and nothing is rewritten
    before = path.read_text()
    result = inner.runpytest(*ARGS, f"--accel-json={inner.path / 'out.json'}")
    result.assert_outcomes(passed=2)
    assert path.read_text() == before
    result.stdout.fnmatch_lines(["*accel comparison table*", "*ort-int8/cpu*pass*"])
    written = json.loads((inner.path / "out.json").read_text())
    assert written["cells"][0]["verdict"] == "pass"
    assert written["cells"][0]["speedup_ci"] == pytest.approx(
        {"low": 8.0, "high": 8.0, "level": 0.9}
    )
    assert written["run"]["speedup_ci_level"] == 0.9
    # 4. a real slowdown fails with the metric table and how to accept it
    monkeypatch.setenv("FAKE_SPEEDUP", "5.0")
    result = inner.runpytest(*ARGS)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*metric*obtained*baseline*diff*tolerance*",
            "*speedup*5.0000 [[]5.0000, 5.0000]*8.0000*-3.0000*worse*",
            "speedup: speedup 5.00x (90% CI 5.00-5.00x, 10 rounds), baseline 8.00x: the rule "
            "fails a run when the CI's upper bound is below (1 - 12.5%) x baseline = 7.00x; here "
            "5.00x < 7.00x",
        ]
    )
    assert path.read_text() == before
    # 5. an accuracy drop below the contract fails the contract test too
    monkeypatch.setenv("FAKE_ACCURACY", "0.80")
    result = inner.runpytest(*ARGS)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*breaks its contract*", "*accuracy 0.8000 < 0.99 x reference*"])
    result.stdout.fnmatch_lines(["*ort-int8/cpu*FAIL contract; FAIL accuracy*"])


def test_corrupt_baseline_names_file_and_field(inner: pytest.Pytester) -> None:
    inner.runpytest(*ARGS, "--accel-update-baselines").assert_outcomes(passed=2)
    path = inner.path / "baselines" / "cpu" / "ort-int8.json"
    doc = json.loads(path.read_text())
    del doc["metrics"]["size_mb"]
    path.write_text(json.dumps(doc))
    result = inner.runpytest(*ARGS)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([f"*{path}: missing field metrics.size_mb*"])


def test_step_summary_gets_markdown(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = inner.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    inner.runpytest(*ARGS, "--accel-update-baselines")
    text = summary.read_text()
    assert "| cell | accuracy |" in text and "| ort-int8/cpu |" in text


def test_inner_runs_do_not_leak_the_fake(inner: pytest.Pytester) -> None:
    from accel.matrix import Matrix

    original = Matrix.measure
    inner.runpytest(*ARGS, "--accel-update-baselines")
    assert Matrix.measure is original


def test_retrained_cell_model_gets_retrain_tolerances(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A student retrained on a cold cache (same teacher) is another model: its accuracy is
    compared with the retrain tolerances, and the table says so."""
    monkeypatch.setenv("FAKE_TRAINED", "sha256:student-a")
    inner.runpytest(*ARGS, "--accel-update-baselines").assert_outcomes(passed=2)
    monkeypatch.setenv("FAKE_ACCURACY", "0.862")  # -0.008: beyond ±0.005, within ±0.01
    inner.runpytest(*ARGS).assert_outcomes(passed=1, failed=1)  # same student: a regression
    monkeypatch.setenv("FAKE_TRAINED", "sha256:student-b")
    result = inner.runpytest(*ARGS)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*ort-int8/cpu*retrained model*"])


def test_a_changed_model_fails_until_its_baseline_is_rewritten(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another definition (a recipe or builder changed) fails even with equal figures; the
    message names the artifact and the way to accept it."""
    inner.runpytest(*ARGS, "--accel-update-baselines").assert_outcomes(passed=2)
    written = json.loads((inner.path / "baselines" / "cpu" / "ort-int8.json").read_text())
    assert written["model"]["definition"] == "def-1"
    assert written["model"]["artifacts"] == [{"kind": "onnx", "key": "k1", "definition": "def-1"}]
    monkeypatch.setenv("FAKE_DEFINITION", "def-2")
    result = inner.runpytest(*ARGS)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*the model changed: review and update the baseline*artifacts that differ: onnx#0*"]
    )
    inner.runpytest(*ARGS, "--accel-update-baselines").assert_outcomes(passed=2)
    inner.runpytest(*ARGS).assert_outcomes(passed=2)


def test_a_baseline_without_a_definition_is_a_changed_model(
    inner: pytest.Pytester,
) -> None:
    """A baseline written before provenance cannot vouch for the model: it is not a retrain."""
    inner.runpytest(*ARGS, "--accel-update-baselines").assert_outcomes(passed=2)
    path = inner.path / "baselines" / "cpu" / "ort-int8.json"
    document = json.loads(path.read_text())
    del document["model"]["definition"]
    path.write_text(json.dumps(document))
    result = inner.runpytest(*ARGS)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*records no definition of its model*"])


# A team's promise that `distilled` beats `finetuned-student` (the built-in contract makes none).
RIVAL = '[tool.accel.contracts.distilled]\nbeats = "finetuned-student"\n'


def test_contract_against_a_rival_cell(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A contract's rival (`beats`) is measured in the same run, and must score lower."""
    inner.makepyprojecttoml(RIVAL)
    args = ("--accel-techniques=distilled", "--accel-device=cpu", "-p", "no:cacheprovider")
    monkeypatch.setenv("FAKE_ACCURACY", "0.865")
    monkeypatch.setenv("FAKE_RIVAL_ACCURACY", "0.866")
    result = inner.runpytest(*args, "-k", "contract")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*accuracy 0.8650 does not beat finetuned-student's 0.8660*"])
    monkeypatch.setenv("FAKE_RIVAL_ACCURACY", "0.86")
    inner.runpytest(*args, "-k", "contract").assert_outcomes(passed=1)


def test_an_error_while_judging_fails_both_checks(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check that raises (here: scoring the rival cell) leaves no "pass" behind: both tests
    fail and the table says ERROR."""
    inner.makepyprojecttoml(RIVAL)
    args = ("--accel-techniques=distilled", "--accel-device=cpu", "-p", "no:cacheprovider")
    inner.runpytest(*args, "--accel-update-baselines", "-k", "baseline")
    monkeypatch.setenv("FAKE_SCORE_ERROR", "the rival could not be built")
    result = inner.runpytest(*args)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*RuntimeError: the rival could not be built*"])
    result.stdout.fnmatch_lines(["*distilled/cpu*ERROR*"])


def test_pruned_cell_gates_sparsity_and_compressed_size(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ("--accel-techniques=pruned-magnitude", "--accel-device=cpu", "-p", "no:cacheprovider")
    monkeypatch.setenv("FAKE_SPEEDUP", "1.0")
    monkeypatch.setenv("FAKE_EXTRA", json.dumps({"sparsity": 0.5, "compressed_size_mb": 55.0}))
    result = inner.runpytest(*args, "--accel-update-baselines")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*gated, beyond the columns:*",
            "*pruned-magnitude/cpu: *sparsity 0.5000, compressed_size_mb 55.0*",
        ]
    )
    path = inner.path / "baselines" / "cpu" / "pruned-magnitude.json"
    assert json.loads(path.read_text())["metrics"]["sparsity"] == 0.5
    # less sparse: the contract and the baseline both fail
    monkeypatch.setenv("FAKE_EXTRA", json.dumps({"sparsity": 0.4, "compressed_size_mb": 55.0}))
    result = inner.runpytest(*args)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*sparsity 0.4000 < 0.495*"])
    result.stdout.fnmatch_lines(["*sparsity*0.4000*0.5000*-0.1000*worse*"])
    result.stdout.fnmatch_lines(["*sparsity 0.4000 (-0.1000)*"])
