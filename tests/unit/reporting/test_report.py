"""`accel report`: Markdown and PNG plots from a synthetic run JSON; clear errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from accel.cli import main
from accel.reporting.report import ReportError, read_run, write_report

PNG = b"\x89PNG\r\n\x1a\n"


def _cell(name: str, accuracy: float, size: float, p50: float, speedup: float) -> dict[str, Any]:
    sweep = {f"latency_p50_ms.tokens{n}": p50 * (1 + n / 64) for n in (16, 32, 64, 128, 256, 512)}
    rates = {f"throughput_seq_per_s.b{b}": 1000 / p50 * b**0.5 for b in (1, 8, 32)}
    return {
        "cell": name,
        "verdict": "pass",
        "metrics": {
            "accuracy": accuracy,
            "size_mb": size,
            "speedup": speedup,
            "latency_ms": {"p50": p50, "p90": p50 * 1.2},
            "latency_ms.p50": p50,
        },
        "speedup_ci": {"low": speedup * 0.97, "high": speedup * 1.03, "level": 0.9},
        "reference": {"accuracy": 0.8647, "size_mb": 91.1},
        "reported": sweep | rates | {"compile_seconds": 3.0},
    }


def _sparse(cell: dict[str, Any], compressed_mb: float) -> dict[str, Any]:
    cell["metrics"] |= {"compressed_size_mb": compressed_mb, "sparsity": 0.5}
    return cell


def _run(tmp_path: Path) -> Path:
    doc = {
        "run": {"model": "embedded", "threads": 1, "rounds": 20, "speedup_ci_level": 0.9},
        "cells": [
            _cell("fp32/cpu", 0.8647, 91.1, 11.0, 1.0),
            _cell("ort-int8/cpu", 0.862, 22.9, 1.7, 6.5),
            _cell("distilled-ort-int8/cpu", 0.854, 17.0, 0.8, 13.7),
            _sparse(_cell("pruned-movement/cpu", 0.8633, 91.1, 10.6, 1.0), 71.2),
            {"cell": "torch-compile/cpu", "verdict": "ERROR"},
        ],
    }
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_report_writes_markdown_and_plots(tmp_path: Path) -> None:
    written = write_report(_run(tmp_path), tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == [
        "accuracy-vs-latency-cpu.png",
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
