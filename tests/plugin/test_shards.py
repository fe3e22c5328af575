"""`--accel-shard I/N`: the deal of the selected cells, its usage errors, and shard runs that
merge (`accel report a.json b.json`) to the rows of one unsharded run: on the synthetic
measurements of test_plugin, and on a real tiny model (slow)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from accel.reporting.merge import merge_runs
from accel.reporting.schema import RunRecord
from tests.plugin.test_plugin import INNER_TEST

pytest_plugins = ["pytester"]

CELLS = ("--accel-techniques=fp32,torch-int8,ort-fp32,ort-int8", "--accel-device=cpu")
QUIET = ("-p", "no:cacheprovider", "-q")


@pytest.mark.parametrize("value", ["0/2", "3/2", "x", "1/0", "2"])
def test_a_bad_shard_is_a_usage_error_naming_the_form(inner: pytest.Pytester, value: str) -> None:
    result = inner.runpytest(f"--accel-shard={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--accel-shard*expected I/N with 1 <= I <= N*got '{value}'*"])


def test_accel_run_checks_and_forwards_the_shard(capsys: pytest.CaptureFixture[str]) -> None:
    from accel.cli import build_parser
    from accel.plugin.options import forward

    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--shard", "0/2"])
    assert "argument --shard: expected I/N with 1 <= I <= N" in capsys.readouterr().err
    args = build_parser().parse_args(["run", "--shard", " 2/3"])
    assert "--accel-shard=2/3" in forward(vars(args))


def test_help_lists_the_shard_option(inner: pytest.Pytester) -> None:
    assert "--accel-shard=I/N" in inner.runpytest("--help").stdout.str()


def test_more_shards_than_cells_is_a_usage_error(inner: pytest.Pytester) -> None:
    result = inner.runpytest("--accel-techniques=fp32", "--accel-device=cpu", "--accel-shard=2/2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--accel-shard 2/2: the selection has 1 cell(s)*at most 1*"])


def test_the_deal_takes_every_nth_cell_of_the_matrix_order(inner: pytest.Pytester) -> None:
    def collected(*args: str) -> list[str]:
        out = inner.runpytest("--co", *QUIET, *CELLS, "--accel-device=cpu,cuda", *args)
        return [line.split("[")[1].rstrip("]") for line in out.outlines if "test_contract[" in line]

    every = collected()
    shards = [collected(f"--accel-shard={i}/3") for i in (1, 2, 3)]
    assert every[:4] == ["fp32/cpu", "torch-int8/cpu", "ort-fp32/cpu", "ort-int8/cpu"]
    assert shards == [every[0::3], every[1::3], every[2::3]]
    assert sorted(c for s in shards for c in s) == sorted(every)  # each cell in one shard


def _run(pytester: pytest.Pytester, name: str, *args: str) -> Path:
    path = pytester.path / f"{name}.json"
    pytester.runpytest(*QUIET, *CELLS, f"--accel-json={path}", *args)
    return path


def test_shards_merge_to_the_rows_of_one_run(inner: pytest.Pytester) -> None:
    """Synthetic measurements are exact: the merged cells equal the unsharded run's."""
    one = RunRecord.read(_run(inner, "one"))
    shards = [_run(inner, f"shard-{i}", f"--accel-shard={i}/2") for i in (1, 2)]
    assert json.loads(shards[1].read_text())["run"]["shard"] == "2/2"
    merged = merge_runs(shards, expect_shards=2)
    assert merged.cells == one.cells
    assert {k: v for k, v in merged.settings.items() if k != "merged"} == one.settings


def _deterministic(run: RunRecord) -> list[dict[str, Any]]:
    """Each row's cell, status and the figures that do not depend on timing."""
    return [
        {
            "cell": c.cell,
            "status": c.status,
            "accuracy": c.metrics and c.metrics.accuracy,
            "oos_recall": c.metrics and c.metrics.oos_recall,
            "size_mb": c.metrics and c.metrics.size_mb,
            "reference_accuracy": c.reference and c.reference.accuracy,
            "behaviour": c.behaviour,
            "model": c.model,
        }
        for c in run.cells
    ]


@pytest.mark.slow  # builds three cells of a tiny model once, times them three times
def test_real_shards_on_a_tiny_model_merge_to_one_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The real matrix on a tiny random BERT (private cache, no baselines, so every cell fails
    its baseline check): fp32, torch-int8 and ort-fp32 in two shards, then unsharded."""
    # Imported once, out here: pytester drops the modules an in-process run imported, and
    # importing datasets again in the next run fails (pyarrow registers its extension types
    # once per process: "Array2DExtensionType already defined").
    import datasets  # noqa: F401

    from tests.conftest import TINY_LABELS, tiny_model

    model = tiny_model()
    model.model.save_pretrained(tmp_path / "tiny")
    model.tokenizer.save_pretrained(tmp_path / "tiny")
    intents = [n for n in TINY_LABELS if n != "oos"]
    rows = {s: [[f"{s} {i} {n}", i] for i in intents for n in range(3)] for s in ("train", "val")}
    doc = rows | {"test": [[f"test {i} {n}", i] for i in intents for n in range(3)]}
    splits = ("train", "val", "test")
    doc |= {f"oos_{s}": [[f"{s} oos {n}", "oos"] for n in range(2)] for s in splits}
    (tmp_path / "data.json").write_text(json.dumps(doc))
    monkeypatch.setenv("ACCEL_CACHE_DIR", str(tmp_path / "cache"))
    pytester.makepyfile(test_gate=INNER_TEST)
    args = (
        "--accel-techniques=fp32,torch-int8,ort-fp32",
        "--accel-device=cpu",
        f"--accel-model={tmp_path / 'tiny'}",
        f"--accel-data={tmp_path / 'data.json'}",
        "--accel-rounds=2",
        "--accel-no-scaling",
        "--accel-no-serving",  # a fresh process per cell and run; the synthetic test merges them
        "-W",
        "ignore",
    )
    shards = [_run(pytester, f"shard-{i}", *args, f"--accel-shard={i}/2") for i in (1, 2)]
    one = RunRecord.read(_run(pytester, "one", *args))
    assert [c.cell for c in one.cells] == ["fp32/cpu", "torch-int8/cpu", "ort-fp32/cpu"]
    assert all(c.measured for c in one.cells), [c.verdict for c in one.cells]
    merged = merge_runs(shards, expect_shards=2)
    assert _deterministic(merged) == _deterministic(one)
