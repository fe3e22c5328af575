from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from accel.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_show_prints_every_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ROOT / "baselines", tmp_path / "b")
    assert main(["show", "--baselines", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "ort-int8/cpu" in out and "speedup" in out


def test_show_reports_a_corrupt_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "fp32.json").write_text("{")
    assert main(["show", "--baselines", str(tmp_path)]) == 1
    assert "not valid JSON" in capsys.readouterr().out


def test_show_with_no_baselines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "--baselines", str(tmp_path)]) == 1
    assert "no baseline files" in capsys.readouterr().out


def test_bad_threads_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as err:
        main(["run", "--threads", "0"])
    assert err.value.code == 2
