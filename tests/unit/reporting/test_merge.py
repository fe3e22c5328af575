"""Merging the run JSONs of a sharded matrix (`accel report a.json b.json`): the union of the
rows in the matrix's order, and an error naming the files for a clash, a missing shard or
settings that disagree."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from accel.cli import main
from accel.reporting.merge import merge_runs
from accel.reporting.schema import CellRecord, ReportError, RunRecord
from tests.unit.reporting.fakes import SETTINGS, cell_record, write_run

SELECTION = {"techniques": "fp32,torch-int8,ort-fp32,ort-int8", "devices": "cpu"}


def _settings(shard: str | None = None, **changes: Any) -> dict[str, Any]:
    return SETTINGS | {"block": 25, "accel_version": "0.1"} | SELECTION | changes | (
        {"shard": shard} if shard else {}
    )


def _shards(tmp_path: Path, *, fail: bool = False) -> list[Path]:
    """The cells fp32, torch-int8, ort-fp32, ort-int8 on cpu dealt to two shards."""
    one = [
        cell_record("fp32/cpu", 0.8647, 91.1, 11.0, 1.0),
        cell_record("ort-fp32/cpu", 0.8647, 91.1, 4.6, 2.4),
    ]
    two = [
        cell_record("torch-int8/cpu", 0.861, 58.7, 4.5, 2.6),
        cell_record("ort-int8/cpu", 0.862, 22.9, 1.7, 6.5, status="fail", verdict="FAIL speedup")
        if fail
        else cell_record("ort-int8/cpu", 0.862, 22.9, 1.7, 6.5),
    ]
    a = write_run(tmp_path / "shard-1.json", one, _settings("1/2"))
    b = write_run(tmp_path / "shard-2.json", two, _settings("2/2"))
    return [a, b]


def test_two_shards_merge_to_the_union_in_the_matrix_order(tmp_path: Path) -> None:
    a, b = _shards(tmp_path)
    for paths in ([a, b], [b, a]):  # the files' order does not matter
        run = merge_runs(paths)
        assert [c.cell for c in run.cells] == [
            "fp32/cpu",
            "torch-int8/cpu",
            "ort-fp32/cpu",
            "ort-int8/cpu",
        ]
    assert run.cells[1] == RunRecord.read(b).cells[0]  # each row keeps its own figures
    assert "shard" not in run.settings and run.settings["techniques"] == SELECTION["techniques"]
    assert run.settings["merged"] == [
        {"file": str(b), "shard": "2/2"},
        {"file": str(a), "shard": "1/2"},
    ]
    again = RunRecord.from_dict(json.loads(run.to_json()), tmp_path / "merged.json")
    assert again.cells == run.cells  # the merged record is a valid run JSON


def test_warnings_are_kept_and_name_their_shard(tmp_path: Path) -> None:
    a, b = _shards(tmp_path)
    doc = json.loads(b.read_text())
    doc["warnings"] = ["possible reference slowdown: 2 of 2 latency-gated cells on cpu"]
    b.write_text(json.dumps(doc))
    assert merge_runs([a, b]).warnings == (
        f"shard 2/2 ({b}): possible reference slowdown: 2 of 2 latency-gated cells on cpu",
    )


def test_a_cell_in_two_files_is_a_clash_naming_both(tmp_path: Path) -> None:
    """An unsharded run beside the shards: its fp32 row clashes with shard 1's."""
    a, b = _shards(tmp_path)
    row = cell_record("fp32/cpu", 0.86, 91.1, 11.0, 1.0)
    c = write_run(tmp_path / "c.json", [row], _settings())
    with pytest.raises(ReportError, match=re.escape(f"cell fp32/cpu is in both {a} and {c}")):
        merge_runs([a, b, c])


def test_a_missing_shard_is_named(tmp_path: Path) -> None:
    a, _ = _shards(tmp_path)
    with pytest.raises(ReportError, match=r"missing shard\(s\) 2/2: not among .*shard-1\.json"):
        merge_runs([a])
    with pytest.raises(ReportError, match=r"shard-1\.json is a shard of 2, but --expect-shards is"):
        merge_runs(_shards(tmp_path), expect_shards=3)
    lone = write_run(tmp_path / "lone.json", [cell_record("fp32/cpu", 0.86, 91.1, 11.0, 1.0)])
    with pytest.raises(ReportError, match=r"lone\.json: missing field run\.shard, but --expect-sh"):
        merge_runs([lone], expect_shards=1)


def test_the_same_shard_twice_names_both_files(tmp_path: Path) -> None:
    a, b = _shards(tmp_path)
    doc = json.loads(b.read_text())
    doc["run"]["shard"] = "1/2"
    b.write_text(json.dumps(doc))
    with pytest.raises(ReportError, match=re.escape(f"shard 1/2 is in both {a} and {b}")):
        merge_runs([a, b])


def test_a_missing_expected_cell_is_named(tmp_path: Path) -> None:
    paths = _shards(tmp_path)
    merge_runs(paths, expect_cells=["fp32/cpu", "ort-int8/cpu"])
    with pytest.raises(ReportError, match=r"missing cell\(s\) bf16/cpu: in none of"):
        merge_runs(paths, expect_cells=["fp32/cpu", "bf16/cpu"])


@pytest.mark.parametrize(
    ("field", "value"),
    [("threads", 2), ("rounds", 60), ("model", "org/other"), ("devices", "cuda")],
)
def test_settings_that_disagree_name_both_files_and_the_field(
    tmp_path: Path, field: str, value: Any
) -> None:
    a, b = _shards(tmp_path)
    doc = json.loads(b.read_text())
    doc["run"][field] = value
    b.write_text(json.dumps(doc))
    pattern = f"{re.escape(str(b))}: field run.{field} is .* but {re.escape(str(a))} has"
    with pytest.raises(ReportError, match=pattern):
        merge_runs([a, b])


def test_a_bad_shard_value_is_named(tmp_path: Path) -> None:
    a, b = _shards(tmp_path)
    doc = json.loads(b.read_text())
    doc["run"]["shard"] = "3/2"
    b.write_text(json.dumps(doc))
    with pytest.raises(ReportError, match=re.escape(f"{b}: field run.shard expected I/N")):
        merge_runs([a, b])


def test_the_command_writes_the_merged_json_the_report_and_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = tmp_path / "out"
    paths = [str(p) for p in _shards(tmp_path)]
    assert main(["report", *paths, "--out", str(out), "--expect-shards", "2"]) == 0
    merged = RunRecord.read(out / "accel-run.json")
    assert [c.cell for c in merged.cells][:2] == ["fp32/cpu", "torch-int8/cpu"]
    assert (out / "report.md").is_file() and (out / "accuracy-vs-latency-cpu.png").is_file()
    stdout = capsys.readouterr().out
    assert "accel matrix, 2 runs merged (shards 1/2, 2/2): model=embedded, threads=1" in stdout
    assert "ort-int8/cpu" in stdout and "6.50 [6.30-6.70]" in stdout
    text = summary.read_text()
    assert text.startswith("earlier\n### accel matrix, 2 runs merged (shards 1/2, 2/2)")
    assert "| ort-int8/cpu | 0.8620 | 22.9 | 1.70 | 6.50 [6.30-6.70] | pass |" in text


def test_the_command_fails_when_a_merged_cell_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    paths = [str(p) for p in _shards(tmp_path, fail=True)]
    assert main(["report", *paths, "--out", str(tmp_path / "out")]) == 1
    assert "1 cell(s) failed or errored: ort-int8/cpu" in capsys.readouterr().out
    assert (tmp_path / "out" / "report.md").is_file()  # written all the same


def test_the_command_cannot_merge_a_missing_shard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, _ = _shards(tmp_path)
    assert main(["report", str(a), "--expect-shards", "2", "--out", str(tmp_path / "o")]) == 2
    assert "missing shard(s) 2/2" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_an_errored_cell_renders_without_figures(tmp_path: Path) -> None:
    from accel.reporting.merged import record_rows

    rows = record_rows([CellRecord.unmeasured("bf16/cpu", "error", "ERROR", ["boom"])])
    assert rows == [("bf16/cpu", "-", "-", "-", "-", "ERROR")]
