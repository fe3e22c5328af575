from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accel.gate import metrics as gated
from accel.gate.baselines import (
    BaselineError,
    baseline_path,
    read_baseline,
    render_baseline,
    write_baseline,
)
from accel.gate.compare import compare, decide, explain, format_rows
from accel.gate.latency import SPEEDUP_MARGIN
from accel.gate.metrics import HIGHER, Tolerance
from accel.measure.intervals import SpeedupInterval
from accel.measure.machine import (
    KERNEL_ISA,
    gpu_differs,
    isa_difference,
    latency_incomparable,
    machine_record,
    same_machine,
)

DIRECTIONS = {m.name: m.direction for m in gated.METRICS.values()}
REQUIRED_METRICS = gated.required()

unit = st.floats(0, 1, allow_nan=False)
positive = st.floats(0.01, 1e4, allow_nan=False)
METRICS = {
    "accuracy": 0.8756,
    "accuracy_in_scope": 0.96,
    "oos_recall": 0.41,
    "size_mb": 22.0,
    "speedup": 6.1,
}
LATENCY = {"p50": 1.65, "p90": 1.95, "p99": 2.5, "mean": 1.7, "std": 0.1}


def _write(
    tmp_path: Path,
    metrics: dict[str, float] = METRICS,
    tolerances: dict[str, Tolerance] | None = None,
) -> Path:
    path = baseline_path(tmp_path, "ort-int8/cpu")
    write_baseline(
        path,
        render_baseline(
            "ort-int8/cpu",
            metrics,
            LATENCY,
            {"checkpoint": "embedded", "fingerprint": "sha256:x"},
            {"cpu": "EPYC", "threads": 1, "device": "cpu", "gpu": None},
            "2026-11-24T00:00:00+00:00",
            "0.1.0",
            tolerances=tolerances,
        ),
    )
    return path


@given(
    accuracy=unit,
    in_scope=unit,
    oos=unit,
    size=positive,
    speedup=positive,
    p50=positive,
)
def test_round_trip(
    tmp_path_factory: pytest.TempPathFactory,
    accuracy: float,
    in_scope: float,
    oos: float,
    size: float,
    speedup: float,
    p50: float,
) -> None:
    metrics = {
        "accuracy": accuracy,
        "accuracy_in_scope": in_scope,
        "oos_recall": oos,
        "size_mb": size,
        "speedup": speedup,
    }
    path = _write(tmp_path_factory.mktemp("b"), metrics)
    baseline = read_baseline(path)
    for key, value in metrics.items():
        assert baseline.metrics[key] == pytest.approx(value, abs=5e-5)
    text = path.read_text()
    assert text == render_baseline(
        baseline.cell,
        baseline.metrics,
        baseline.latency_ms,
        baseline.model,
        baseline.machine,
        baseline.raw["created"],
        baseline.raw["accel_version"],
        baseline.tolerances,
    ), "re-rendering a parsed file must reproduce it byte for byte"


def test_layout_and_format(tmp_path: Path) -> None:
    path = _write(tmp_path)
    assert path == tmp_path / "cpu" / "ort-int8.json"
    doc = json.loads(path.read_text())
    assert list(doc) == sorted(doc) and doc["schema_version"] == 1
    assert doc["tolerances"]["accuracy"] == {"abs": 0.005}


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["metrics"].pop("accuracy"), "metrics.accuracy"),
        (lambda d: d["metrics"].__setitem__("size_mb", "big"), "metrics.size_mb"),
        (lambda d: d["metrics"]["latency_ms"].pop("p90"), "metrics.latency_ms.p90"),
        (lambda d: d.pop("tolerances"), "tolerances"),
        (lambda d: d["tolerances"].__setitem__("speedup", {"pct": 3}), "tolerances.speedup"),
        (lambda d: d["tolerances"].__setitem__("bogus", {"abs": 1}), "tolerances.bogus"),
        (lambda d: d.__setitem__("schema_version", 7), "schema_version"),
    ],
)
def test_incomplete_file_names_file_and_field(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], object], field: str
) -> None:
    path = _write(tmp_path)
    doc = json.loads(path.read_text())
    mutate(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(BaselineError) as err:
        read_baseline(path)
    assert str(path) in str(err.value) and field in str(err.value)
    assert "--accel-update-baselines" in str(err.value)


def test_corrupt_json(tmp_path: Path) -> None:
    path = _write(tmp_path)
    path.write_text("{ half a file")
    with pytest.raises(BaselineError, match="not valid JSON"):
        read_baseline(path)


def test_unchanged_metrics_pass_and_regressions_fail(tmp_path: Path) -> None:
    baseline = read_baseline(_write(tmp_path))
    assert {r.verdict for r in compare(METRICS, baseline)} == {"ok"}
    rows = compare(METRICS | {"accuracy": 0.86, "size_mb": 30.0}, baseline)
    verdicts = {r.metric: r.verdict for r in rows}
    assert verdicts["accuracy"] == "worse" and verdicts["size_mb"] == "worse"
    assert "accuracy" in format_rows(rows) and "tolerance" in format_rows(rows)


def test_raw_latency_is_reported_never_gated(tmp_path: Path) -> None:
    """Raw milliseconds move with the machine (+12% to +83% on one host in a day): shown with
    the baseline's, never a failure, however far."""
    baseline = read_baseline(_write(tmp_path))
    slow = METRICS | {"latency_ms.p50": 10 * LATENCY["p50"]}
    row = {r.metric: r for r in compare(slow, baseline)}["latency_ms.p50"]
    assert (row.verdict, row.note) == ("skipped", "reported, not gated")
    assert row.obtained == 10 * LATENCY["p50"] and row.baseline == LATENCY["p50"]


RANK = {"worse": 0, "ok": 1, "better": 2}


@given(
    metric=st.sampled_from(sorted(DIRECTIONS)),
    baseline=positive,
    obtained=positive,
    step=st.floats(0, 1e3, allow_nan=False),
    abs_tol=st.floats(0, 1, allow_nan=False),
    rel_tol=st.floats(0, 1, allow_nan=False),
)
def test_decision_is_monotone(
    metric: str, baseline: float, obtained: float, step: float, abs_tol: float, rel_tol: float
) -> None:
    """Improving a metric never turns its verdict worse."""
    tol = Tolerance(abs=abs_tol, rel=rel_tol)
    direction = DIRECTIONS[metric]
    improved = obtained + step if direction == HIGHER else max(obtained - step, 0.0)
    assert (
        RANK[decide(direction, improved, baseline, tol)]
        >= RANK[decide(direction, obtained, baseline, tol)]
    )


@given(baseline=positive, abs_tol=st.floats(0, 1), rel_tol=st.floats(0, 1))
def test_equal_values_always_pass(baseline: float, abs_tol: float, rel_tol: float) -> None:
    for direction in set(DIRECTIONS.values()):
        assert decide(direction, baseline, baseline, Tolerance(abs_tol, rel_tol)) == "ok"


def test_update_keeps_reviewed_tolerances(tmp_path: Path) -> None:
    custom = {"speedup": Tolerance(rel=0.4)}
    baseline = read_baseline(_write(tmp_path, tolerances=custom))
    assert baseline.tolerances["speedup"] == custom["speedup"]  # over the metric's default
    assert baseline.tolerances["accuracy"] == gated.METRICS["accuracy"].tolerance  # the others


def test_other_model_widens_only_accuracy_tolerances(tmp_path: Path) -> None:
    baseline = read_baseline(_write(tmp_path))
    retrained = METRICS | {"oos_recall": METRICS["oos_recall"] - 0.04, "size_mb": 30.0}
    same = {r.metric: r for r in compare(retrained, baseline, model_matches=True)}
    other = {r.metric: r for r in compare(retrained, baseline, model_matches=False)}
    assert same["oos_recall"].verdict == "worse"
    assert other["oos_recall"].verdict == "ok" and other["oos_recall"].note == "retrain"
    assert other["size_mb"].verdict == "worse"  # same architecture: size stays tight
    too_far = METRICS | {"accuracy": METRICS["accuracy"] - 0.02}
    verdicts = {r.metric: r.verdict for r in compare(too_far, baseline, model_matches=False)}
    assert verdicts["accuracy"] == "worse"


def test_on_another_gpu_latency_only_warns(tmp_path: Path) -> None:
    """Another GPU model: accuracy and size stay gated, a slower speedup is a warning."""
    baseline = read_baseline(_write(tmp_path))
    slower = METRICS | {"speedup": METRICS["speedup"] / 2, "size_mb": 30.0}
    gated = {r.metric: r for r in compare(slower, baseline)}
    assert gated["speedup"].verdict == "worse"
    warned = {
        r.metric: r for r in compare(slower, baseline, latency_gated=False)
    }
    assert warned["speedup"].verdict == "warn"
    assert warned["speedup"].note == "other GPU, not gated"
    assert warned["size_mb"].verdict == "worse"
    assert warned["accuracy"].verdict == "ok"
    faster = METRICS | {"speedup": 2 * METRICS["speedup"]}
    rows = compare(faster, baseline, latency_gated=False)
    assert {r.metric: r.verdict for r in rows}["speedup"] == "better"
    assert "warn (other GPU, not gated)" in format_rows(list(warned.values()))


def test_gpu_differs_only_for_cuda_measurements() -> None:
    h100 = {"device": "cuda", "gpu": "NVIDIA H100 80GB HBM3", "cpu": "x", "threads": 1}
    a100 = h100 | {"gpu": "NVIDIA A100-SXM4-40GB"}
    assert gpu_differs(h100, a100)
    assert not gpu_differs(h100, dict(h100))
    assert gpu_differs(h100, {"device": "cuda"})  # a baseline without a GPU name
    cpu = {"device": "cpu", "gpu": None, "cpu": "x", "threads": 1}
    assert not gpu_differs(cpu, cpu | {"gpu": "something"})


PRUNED = METRICS | {"sparsity": 0.8, "compressed_size_mb": 55.0}


def test_extra_metrics_are_written_read_and_gated(tmp_path: Path) -> None:
    doc = json.loads(_write(tmp_path, PRUNED | {"latency_ms.p50": 1.65}).read_text())
    assert doc["metrics"]["sparsity"] == 0.8 and doc["metrics"]["compressed_size_mb"] == 55.0
    assert doc["tolerances"]["sparsity"] == {"abs": 0.005}
    assert doc["tolerances"]["compressed_size_mb"] == {"rel": 0.02}
    baseline = read_baseline(baseline_path(tmp_path, "ort-int8/cpu"))
    assert baseline.metrics["sparsity"] == 0.8
    same = PRUNED | {"latency_ms.p50": LATENCY["p50"]}
    assert {r.verdict for r in compare(same, baseline) if r.metric != "latency_ms.p50"} == {"ok"}
    worse = same | {"sparsity": 0.79, "compressed_size_mb": 57.0}
    verdicts = {r.metric: r.verdict for r in compare(worse, baseline)}
    assert verdicts["sparsity"] == "worse" and verdicts["compressed_size_mb"] == "worse"
    better = same | {"sparsity": 0.9, "compressed_size_mb": 50.0}
    verdicts = {r.metric: r.verdict for r in compare(better, baseline)}
    assert verdicts["sparsity"] == "better" and verdicts["compressed_size_mb"] == "better"


def test_an_extra_metric_no_longer_measured_is_a_regression(tmp_path: Path) -> None:
    baseline = read_baseline(_write(tmp_path, PRUNED))
    rows = compare(METRICS, baseline)
    missing = {r.metric: r for r in rows if r.metric in ("sparsity", "compressed_size_mb")}
    assert {r.verdict for r in missing.values()} == {"worse"}
    assert "nan" in format_rows(rows)


def test_cells_without_extra_metrics_keep_their_file_shape(tmp_path: Path) -> None:
    doc = json.loads(_write(tmp_path, METRICS | {"latency_ms.p50": 1.65}).read_text())
    scores = {"accuracy_in_scope", "oos_recall"}  # optional: measured here (a reject label)
    assert set(doc["metrics"]) == {*REQUIRED_METRICS, *scores, "latency_ms"}
    assert "sparsity" not in doc["tolerances"] and "latency_ms.p50" in doc["tolerances"]
    baseline = read_baseline(baseline_path(tmp_path, "ort-int8/cpu"))
    assert "sparsity" not in baseline.metrics
    rows = compare(PRUNED | {"latency_ms.p50": 1.65}, baseline)
    assert "sparsity" not in {r.metric for r in rows}


def test_speedup_is_decided_on_its_interval(tmp_path: Path) -> None:
    """The file's speedup tolerance is the margin the interval's upper bound must clear."""
    baseline = read_baseline(_write(tmp_path))  # speedup 6.1, default tolerance
    assert baseline.tolerances["speedup"] == Tolerance(rel=SPEEDUP_MARGIN)
    threshold = (1 - SPEEDUP_MARGIN) * METRICS["speedup"]

    def speedup_row(interval: SpeedupInterval) -> Any:
        obtained = METRICS | {"speedup": interval.speedup}
        rows = compare(obtained, baseline, speedup_interval=interval)
        return next(r for r in rows if r.metric == "speedup"), rows

    # below the threshold, but the interval reaches it: noise, not a regression
    row, _ = speedup_row(SpeedupInterval(threshold - 0.1, threshold - 0.4, threshold + 0.1))
    assert row.verdict == "ok"
    # the whole interval below: a regression, explained with its numbers
    row, rows = speedup_row(SpeedupInterval(4.0, 3.8, 4.2, rounds=20))
    assert row.verdict == "worse"
    assert row.interval == (3.8, 4.2)
    assert "4.0000 [3.8000, 4.2000]" in format_rows(rows)
    assert explain(rows) == (
        "speedup: speedup 4.00x (90% CI 3.80-4.20x, 20 rounds), baseline 6.10x: the rule fails "
        f"a run when the CI's upper bound is below (1 - {SPEEDUP_MARGIN * 100:g}%) x baseline = "
        f"{threshold:.2f}x; here 4.20x < {threshold:.2f}x\n"
    )
    # the whole interval above (1 + margin) x baseline: flagged, a stale baseline
    row, _ = speedup_row(SpeedupInterval(7.8, 7.2, 8.3))  # 7.2 > (1 + margin) x 6.1
    assert row.verdict == "better"
    # on another GPU model, worse only warns, with the same explanation
    interval = SpeedupInterval(4.0, 3.8, 4.2)
    rows = compare(
        METRICS | {"speedup": 4.0},
        baseline,
        latency_gated=False,
        speedup_interval=interval,
    )
    assert {r.metric: r.verdict for r in rows}["speedup"] == "warn"
    assert explain(rows).startswith("speedup: speedup 4.00x")


def test_a_margin_of_one_or_more_is_capped(tmp_path: Path) -> None:
    """A tolerance of rel 1.0 (a bad baseline in a file, but a Baseline can be built in code)
    still lets a collapse fail."""
    baseline = dataclasses.replace(
        read_baseline(_write(tmp_path)), tolerances={"speedup": Tolerance(rel=1.0)}
    )
    rows = compare(
        METRICS | {"speedup": 0.01},
        baseline,
        speedup_interval=SpeedupInterval(0.01, 0.009, 0.011),
    )
    assert {r.metric: r.verdict for r in rows}["speedup"] == "worse"


BAD_VALUES = [
    ("metrics", "accuracy", float("nan"), "a fraction in [0, 1]"),
    ("metrics", "accuracy", 1.2, "a fraction in [0, 1]"),
    ("metrics", "accuracy_in_scope", -0.1, "a fraction in [0, 1]"),
    ("metrics", "oos_recall", float("nan"), "a fraction in [0, 1]"),
    ("metrics", "size_mb", 0.0, "a finite number > 0"),
    ("metrics", "size_mb", float("inf"), "a finite number > 0"),
    ("metrics", "speedup", -6.1, "a finite number > 0"),
    ("metrics", "speedup", float("nan"), "a finite number > 0"),
    ("metrics.latency_ms", "p50", 0.0, "a finite number > 0"),
    ("metrics.latency_ms", "p99", float("-inf"), "a finite number > 0"),
    ("metrics.latency_ms", "std", -0.1, "a finite number >= 0"),
]


@pytest.mark.parametrize(("where", "key", "value", "domain"), BAD_VALUES)
def test_a_value_outside_its_domain_is_a_bad_baseline(
    tmp_path: Path, where: str, key: str, value: float, domain: str
) -> None:
    """NaN, infinite, zero or negative figures where none can be: a bad baseline (naming the
    file, the field, the value and the fix), never a pass."""
    path = _write(tmp_path)
    doc = json.loads(path.read_text())
    target = doc
    for part in where.split("."):
        target = target[part]
    target[key] = value
    path.write_text(json.dumps(doc))  # json writes NaN and Infinity, and reads them back
    with pytest.raises(BaselineError) as err:
        read_baseline(path)
    text = str(err.value)
    assert str(path) in text and f"{where}.{key} is {value!r}" in text and domain in text
    assert "--accel-update-baselines" in text


@pytest.mark.parametrize(
    ("metric", "spec", "why"),
    [
        ("speedup", {"rel": -0.1}, "finite and >= 0"),
        ("speedup", {"rel": float("nan")}, "finite and >= 0"),
        ("size_mb", {"rel": float("inf")}, "finite and >= 0"),
        ("speedup", {"rel": 1.0}, "must be < 1"),
        ("latency_ms.p50", {"rel": 2.5}, "must be < 1"),
        ("accuracy", {"abs": 1.0}, "must be < 1, the range"),
        ("oos_recall", {"abs": -0.01}, "finite and >= 0"),
    ],
)
def test_an_absurd_tolerance_is_a_bad_baseline(
    tmp_path: Path, metric: str, spec: dict[str, float], why: str
) -> None:
    path = _write(tmp_path)
    doc = json.loads(path.read_text())
    doc["tolerances"][metric] = spec
    path.write_text(json.dumps(doc))
    with pytest.raises(BaselineError) as err:
        read_baseline(path)
    text = str(err.value)
    assert str(path) in text and f"tolerances.{metric} is {spec!r}" in text and why in text


def test_a_cell_field_that_is_not_the_files_place_is_a_bad_baseline(tmp_path: Path) -> None:
    path = _write(tmp_path)  # cpu/ort-int8.json
    doc = json.loads(path.read_text())
    doc["cell"] = "ort-fp32/cpu"
    path.write_text(json.dumps(doc))
    with pytest.raises(BaselineError) as err:
        read_baseline(path)
    text = str(err.value)
    assert "field cell is 'ort-fp32/cpu'" in text and "'ort-int8/cpu'" in text
    assert "cpu/ort-fp32.json" in text  # where it belongs: the fix


def test_a_nan_optional_metric_is_left_out_of_a_written_baseline(tmp_path: Path) -> None:
    path = _write(tmp_path, METRICS | {"sparsity": float("nan"), "compressed_size_mb": 50.0})
    doc = json.loads(path.read_text())
    assert "sparsity" not in doc["metrics"] and doc["metrics"]["compressed_size_mb"] == 50.0
    assert read_baseline(path).metrics.get("sparsity") is None


def test_no_baseline_is_rendered_from_a_nan_required_metric(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="did not measure accuracy"):
        _write(tmp_path, METRICS | {"accuracy": float("nan")})


def test_scores_the_data_lacks_are_left_out_and_not_gated(tmp_path: Path) -> None:
    """Data without a reject label has no in-scope accuracy or out-of-scope recall: its
    baselines leave them out, and a run without them compares what it has."""
    lacking = {k: v for k, v in METRICS.items() if k not in ("accuracy_in_scope", "oos_recall")}
    doc = json.loads(_write(tmp_path, lacking | {"macro_f1": 0.85}).read_text())
    assert "oos_recall" not in doc["metrics"] and doc["metrics"]["macro_f1"] == 0.85
    baseline = read_baseline(baseline_path(tmp_path, "ort-int8/cpu"))
    rows = compare(lacking | {"macro_f1": 0.80}, baseline)
    verdicts = {r.metric: r.verdict for r in rows}
    assert "oos_recall" not in verdicts and verdicts["macro_f1"] == "worse"


def test_a_nan_baseline_value_never_passes() -> None:
    assert decide(HIGHER, 0.9, float("nan"), Tolerance(abs=0.005)) == "worse"


def test_every_committed_baseline_is_valid() -> None:
    root = Path(__file__).resolve().parents[3] / "baselines"
    paths = sorted(root.glob("*/*.json"))
    assert paths
    for path in paths:
        assert read_baseline(path).cell == f"{path.stem}/{path.parent.name}"


def test_other_instruction_sets_make_latency_incomparable() -> None:
    """A CPU whose kernel instruction sets differ from the baseline's (int8 without VNNI, say)
    gates accuracy and size, and only warns on latency; an older baseline without the record
    compares as before."""
    base = {"device": "cpu", "gpu": None, "cpu": "x", "threads": 1}
    vnni = base | {"isa": ["avx2", "avx512f", "avx512_vnni"]}
    avx2 = base | {"isa": ["avx2"]}
    assert isa_difference(avx2, vnni) == (
        "this CPU's instruction sets differ from the baseline's (lacks avx512_vnni, avx512f)"
    )
    assert isa_difference(vnni, vnni | {"isa": ["avx512_vnni", "avx2", "avx512f"]}) is None
    assert isa_difference(vnni, base) is None  # the baseline has no record: cannot tell
    assert not same_machine(avx2, vnni) and same_machine(vnni, dict(vnni))
    other = latency_incomparable(avx2, vnni)
    assert other is not None and other.note == "other instruction sets"
    assert latency_incomparable(vnni, vnni) is None
    h100 = base | {"device": "cuda", "gpu": "H100"}
    gpu = latency_incomparable(h100, h100 | {"gpu": "A100"})
    assert gpu is not None and gpu.where == "another GPU" and "A100" in gpu.why


def test_the_machine_record_names_the_instruction_sets() -> None:
    record = machine_record("cpu", 1)
    assert set(record["isa"]) <= set(KERNEL_ISA)
    assert isinstance(record["torch_cpu_capability"], str)
