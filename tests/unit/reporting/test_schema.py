"""The run JSON's schema: round trips, version 1 files, versions, errors that name the field."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import accel
from accel.reporting.fields import status_from_verdict
from accel.reporting.report import markdown
from accel.reporting.schema import (
    SCHEMA_VERSION,
    CellRecord,
    ReportError,
    RunRecord,
)
from tests.unit.reporting.fakes import SETTINGS, cell_record, cell_result, write_run

V1_FILE = Path(__file__).parent / "data" / "run-v1.json"  # written by the version 1 writer
SKIPPED = CellRecord.unmeasured(
    "bf16/cpu", "skipped", "skipped", ["no bf16 on this CPU"], skip_reason="no AVX512-BF16"
)


def _record() -> RunRecord:
    return RunRecord(
        SETTINGS,
        (
            CellRecord.from_result(cell_result("ort-int8/cpu"), "pass", "pass"),
            CellRecord.from_result(
                cell_result("pruned-movement/cpu", speedup=2.0),
                "fail",
                "FAIL speedup",
                ["speedup 2.00x below 7.00x"],
            ),
            cell_record("fp16/cuda", 0.8646, 45.6, 3.1, 2.0, status="better", verdict="pass (b)"),
            CellRecord.unmeasured("torch-compile/cpu", "error", "ERROR", ["RuntimeError: boom"]),
            SKIPPED,
        ),
    )


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_round_trip(tmp_path: Path) -> None:
    record = _record()
    text = record.to_json()
    assert text.endswith("}\n") and text.startswith('{\n  "cells": [')  # sorted, indent 2
    assert json.loads(text)["schema_version"] == SCHEMA_VERSION == 2
    path = tmp_path / "run.json"
    path.write_text(text, encoding="utf-8")
    assert RunRecord.read(path) == record
    assert RunRecord.from_dict(json.loads(text), path).to_json() == text
    assert RunRecord(SETTINGS, record.cells).to_json() == text


def test_from_result_holds_the_measurements() -> None:
    cell = CellRecord.from_result(cell_result("ort-int8/cpu", speedup=8.0), "pass", "pass")
    assert (cell.device, cell.technique, cell.speedup, cell.size_mb) == ("cpu", "ort-int8", 8, 20)
    assert cell.p50_ms == pytest.approx(1.0)
    assert cell.speedup_ci is not None and cell.speedup_ci.low == pytest.approx(8.0)
    assert cell.compressed_size_mb == 14.0
    assert cell.throughput == {8: 1234.0} and cell.length_p50_ms == {}
    doc = cell.to_dict()
    assert doc["metrics"]["sparsity"] == 0.5 and doc["metrics"]["latency_ms.p50"] == cell.p50_ms
    assert doc["reference"]["latency_ms"]["p50"] == pytest.approx(8.0)


def test_an_unmeasured_cell_round_trips(tmp_path: Path) -> None:
    assert SKIPPED.to_dict() == {
        "cell": "bf16/cpu",
        "status": "skipped",
        "verdict": "skipped",
        "reasons": ["no bf16 on this CPU"],
        "skip_reason": "no AVX512-BF16",
    }
    error = CellRecord.unmeasured("torch-compile/cpu", "error", "ERROR")
    path = write_run(tmp_path / "run.json", [SKIPPED, error])
    assert RunRecord.read(path).cells == (SKIPPED, error)
    assert not error.measured and error.metrics is None and error.length_p50_ms == {}
    with pytest.raises(ValueError, match="torch-compile/cpu was not measured"):
        _ = error.p50_ms


def test_a_version_1_file_still_reads() -> None:
    run = RunRecord.read(V1_FILE)
    assert run.schema_version == 1 and "schema_version" not in json.loads(V1_FILE.read_text())
    assert [(c.cell, c.status, c.reasons) for c in run.cells] == [
        ("fp32/cpu", "pass", ()),
        ("ort-int8/cpu", "better", ()),
        ("pruned-movement/cpu", "fail", ()),
        ("torch-compile/cpu", "error", ()),
        ("fp16/cuda", "written", ()),
    ]
    pruned = run.cells[2]
    assert pruned.compressed_size_mb == 71.2 and pruned.verdict == "FAIL speedup"
    assert pruned.length_p50_ms[128] == pytest.approx(31.8) and list(pruned.throughput) == [
        1,
        8,
        32,
    ]
    assert not run.cells[3].measured


def test_version_2_is_version_1_plus_status_and_reasons(tmp_path: Path) -> None:
    """Every version 1 key keeps its place and value; the report reads both the same."""
    v1 = json.loads(V1_FILE.read_text())
    run = RunRecord.read(V1_FILE)
    v2 = json.loads(run.to_json())
    assert v2.pop("schema_version") == 2
    for cell in v2["cells"]:
        del cell["status"], cell["reasons"]
    assert v2 == v1
    again = RunRecord.read(_write(tmp_path / "v2.json", json.loads(run.to_json())))
    images = {"cpu": ["a.png"], "cuda": ["b.png"]}
    assert markdown(again, images) == markdown(run, images)


@pytest.mark.parametrize("version", [3, 0, "2", 2.0, True, None])
def test_an_unknown_version_is_an_error(tmp_path: Path, version: Any) -> None:
    doc = json.loads(_record().to_json()) | {"schema_version": version}
    path = _write(tmp_path / "run.json", doc)
    with pytest.raises(ReportError) as err:
        RunRecord.read(path)
    assert str(err.value) == (
        f"{path}: field schema_version is {version!r}; this accel reads versions 1, 2"
    )


def _edit_cell(doc: dict[str, Any], dotted: str, value: Any) -> None:
    """Set (or, for ``...``, delete) the field at ``dotted`` of ``doc["cells"]``."""
    *path, last = [int(k) if k.isdigit() else k for k in dotted.split(".")]
    target = doc["cells"]
    for key in path:
        target = target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value


@pytest.mark.parametrize(
    ("dotted", "value", "message"),
    [
        ("1.reference.latency_ms.p99", ..., "missing field cells[1].reference.latency_ms.p99"),
        ("0.metrics.sparsity", "half", "field cells[0].metrics.sparsity must be a finite number"),
        ("2.round_speedups.1", None, "field cells[2].round_speedups[1] must be a finite number"),
        ("1.speedup_ci.level", ..., "missing field cells[1].speedup_ci.level"),
        ("0.machine", [], "field cells[0].machine must be an object"),
        ("0.reported.compile_seconds", float("nan"), "cells[0].reported.compile_seconds must"),
        ("3.status", ..., "missing field cells[3].status"),
        ("3.status", "fine", "field cells[3].status must be one of pass, fail, better"),
        ("3.reasons", [1], "field cells[3].reasons[0] must be a string"),
        ("3.skip_reason", "no GPU", "field cells[3].skip_reason is for skipped cells"),
        ("4.cell", "bf16", "field cells[4].cell must be like 'ort-int8/cpu'"),
        ("2.build_seconds", ..., "missing field cells[2].build_seconds"),
    ],
)
def test_a_bad_field_names_the_file_and_the_dotted_path(
    tmp_path: Path, dotted: str, value: Any, message: str
) -> None:
    doc = json.loads(_record().to_json())
    _edit_cell(doc, dotted, value)
    path = _write(tmp_path / "run.json", doc)
    with pytest.raises(ReportError, match=re.escape(f"{path}: ")) as err:
        RunRecord.read(path)
    assert message in str(err.value)


def test_records_refuse_inconsistent_fields() -> None:
    with pytest.raises(ValueError, match="`status` must be one of"):
        CellRecord.unmeasured("fp32/cpu", "ok", "pass")
    with pytest.raises(ValueError, match="`skip_reason` is for skipped cells"):
        CellRecord.unmeasured("fp32/cpu", "error", "ERROR", skip_reason="no")
    with pytest.raises(ValueError, match="missing \\['speedup_cv'"):
        CellRecord("fp32/cpu", "pass", "pass", metrics=_record().cells[0].metrics)


@pytest.mark.parametrize(
    ("verdict", "status"),
    [
        ("pass", "pass"),
        ("pass (better: speedup)", "better"),
        ("pass (warn: speedup on another GPU)", "pass"),
        ("FAIL speedup, accuracy", "fail"),
        ("FAIL contract; FAIL no baseline", "fail"),
        ("ERROR", "error"),
        ("baseline written", "written"),
        ("xfail accuracy; pass", "pass"),
        ("-", "pass"),
    ],
)
def test_version_1_status_from_the_verdict(verdict: str, status: str) -> None:
    assert status_from_verdict(verdict) == status


def test_reading_a_run_needs_no_torch() -> None:
    code = (
        "import sys, accel.reporting.schema, accel.reporting.report\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "heavy = {'torch', 'transformers', 'onnxruntime'} & loaded\n"
        "assert not heavy, heavy\n"
    )
    root = str(Path(accel.__file__).parents[1])
    env = os.environ | {"PYTHONPATH": root}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_run_warnings_are_written_and_read_back(tmp_path: Path) -> None:
    run = RunRecord({"model": "embedded"}, (), warnings=("possible reference slowdown: ...",))
    again = RunRecord.read(_write(tmp_path / "run.json", json.loads(run.to_json())))
    assert again.warnings == run.warnings
    assert "warnings" not in json.loads(RunRecord({}, ()).to_json())  # none: no key


def test_behaviour_round_trips_through_the_run_json(tmp_path: Path) -> None:
    cell = CellRecord.from_result(cell_result("ort-int8/cpu", lost=3), "pass", "pass")
    assert cell.behaviour is not None and cell.behaviour["flips_to_wrong"] == 3
    assert cell.behaviour["kl_mean"] is None and cell.behaviour["lacks"]  # label-only fakes
    path = write_run(tmp_path / "run.json", [cell])
    assert RunRecord.read(path).cells[0].behaviour == cell.behaviour
    without = CellRecord.from_result(cell_result("ort-int8/cpu"), "pass", "pass")
    assert "behaviour" not in without.to_dict()


def test_a_gated_figure_not_measured_is_left_out_of_the_run_json(tmp_path: Path) -> None:
    """A failed serving process leaves NaN ratios (the verdict fails them); the file still
    holds only finite numbers, so that `accel report` reads it."""
    result = cell_result("ort-int8/cpu")
    failed = replace(result, extra_metrics=result.extra_metrics | {"memory_ratio": math.nan})
    cell = CellRecord.from_result(failed, "fail", "FAIL memory_ratio")
    assert "memory_ratio" not in cell.to_dict()["metrics"]
    run = RunRecord(SETTINGS, (cell,))
    assert RunRecord.read(_write(tmp_path / "run.json", json.loads(run.to_json()))) == run
