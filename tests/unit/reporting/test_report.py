"""`accel report`: Markdown and PNG plots from a synthetic run JSON; clear errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from accel.cli import main
from accel.reporting.report import SCALING_LEFT_OUT, ReportError, read_run, write_report
from accel.reporting.schema import CellRecord
from tests.unit.reporting.fakes import SETTINGS, behaviour, cell_record, write_run

PNG = b"\x89PNG\r\n\x1a\n"


def _run(tmp_path: Path) -> Path:
    return write_run(
        tmp_path / "run.json",
        [
            cell_record("fp32/cpu", 0.8647, 91.1, 11.0, 1.0),
            cell_record("ort-int8/cpu", 0.862, 22.9, 1.7, 6.5),
            cell_record("distilled-ort-int8/cpu", 0.854, 17.0, 0.8, 13.7),
            cell_record(
                "pruned-movement/cpu",
                0.8633,
                91.1,
                10.6,
                1.0,
                extra={"compressed_size_mb": 71.2, "sparsity": 0.5},
            ),
            CellRecord.unmeasured("torch-compile/cpu", "error", "ERROR", ["RuntimeError: boom"]),
        ],
    )


def test_report_writes_markdown_and_plots(tmp_path: Path) -> None:
    written = write_report(_run(tmp_path), tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == [
        "accuracy-vs-latency-cpu.png",
        "frontier-size-cpu.png",
        "frontier-speedup-cpu.png",
        "latency-vs-length-cpu.png",
        "report.md",
    ]
    for path in written:
        if path.suffix == ".png":
            assert path.read_bytes().startswith(PNG) and path.stat().st_size > 10_000
    text = (tmp_path / "out" / "report.md").read_text()
    assert "| `ort-int8/cpu` | 0.8620 | 22.9 | 1.70 | 6.50 [6.30-6.70] | pass |" in text
    assert "| `torch-compile/cpu` | - | - | - | - | ERROR |" in text
    assert "| `pruned-movement/cpu` | 0.8633 | 91.1 (71.2 compressed) | 10.60 |" in text
    assert "speedup [90% CI]" in text
    assert "![accuracy-vs-latency-cpu.png](accuracy-vs-latency-cpu.png)" in text
    assert "| cell | 16 | 32 | 64 | 128 | 256 | 512 |" in text
    assert "| cell | batch 1 | batch 8 | batch 32 |" in text
    assert not list((tmp_path / "out").glob(".*"))  # no temporary files left behind


@pytest.mark.parametrize("scaling", [True, False])
def test_a_run_without_scaling_says_so(tmp_path: Path, scaling: bool) -> None:
    cells = [cell_record("fp32/cpu", 0.8647, 91.1, 11.0, 1.0)]
    run = write_run(tmp_path / "run.json", cells, SETTINGS | {"scaling": scaling})
    write_report(run, tmp_path / "out")
    text = (tmp_path / "out" / "report.md").read_text()
    assert (SCALING_LEFT_OUT in text) is not scaling


def test_cli_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(_run(tmp_path)), "--out", str(tmp_path / "r")]) == 0
    assert "report.md" in capsys.readouterr().out
    assert (tmp_path / "r" / "report.md").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"run": {}}', "missing field cells"),
        ('{"run": {}, "cells": {}}', "field cells must be a list"),
        ('{"run": {}, "cells": [{"verdict": "pass"}]}', "missing field cells[0].cell"),
    ],
)
def test_bad_files_name_the_file_and_the_field(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "run.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ReportError, match=re.escape(str(path))) as err:
        read_run(path)
    assert message in str(err.value)


def test_a_cell_missing_a_figure_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _run(tmp_path)
    doc = json.loads(path.read_text())
    del doc["cells"][1]["metrics"]["latency_ms"]["p50"]
    doc["cells"][2]["metrics"]["accuracy"] = "high"
    path.write_text(json.dumps(doc))
    with pytest.raises(ReportError, match=r"missing field cells\[1\]\.metrics\.latency_ms\.p50"):
        read_run(path)
    assert main(["report", str(path), "--out", str(tmp_path / "r")]) == 1
    assert "cells[1].metrics.latency_ms.p50" in capsys.readouterr().err
    del doc["cells"][1]
    path.write_text(json.dumps(doc))
    with pytest.raises(ReportError, match=r"field cells\[1\]\.metrics\.accuracy must be a finite"):
        read_run(path)


def test_a_run_without_measured_cells_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"run": {}, "cells": [{"cell": "fp32/cpu", "verdict": "ERROR"}]}))
    with pytest.raises(ReportError, match="no measured cell"):
        write_report(path, tmp_path / "out")


def test_behaviour_adds_its_charts_and_table(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "run.json",
        [
            cell_record("fp32/cpu", 0.8647, 91.1, 11.0, 1.0, behaviour=behaviour(0)),
            cell_record("ort-int8/cpu", 0.862, 22.9, 1.7, 6.5, behaviour=behaviour(2)),
            cell_record("distilled/cpu", 0.86, 50.0, 5.5, 2.0, behaviour=behaviour(9)),
        ],
    )
    written = {p.name for p in write_report(run, tmp_path / "out")}
    assert {"agreement-vs-speedup-cpu.png", "class-drops-cpu.png"} <= written
    text = (tmp_path / "out" / "report.md").read_text()
    assert "Behaviour against the reference" in text
    assert "| `distilled/cpu` | 0.8500 | 9 / 0 | - | - | a +0.300 | -15.00 [" in text
    assert "| `fp32/cpu` | 1.0000" not in text  # the reference is not compared with itself
