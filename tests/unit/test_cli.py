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


def test_bad_threads_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """`accel run` forwards its options to the plugin, which checks them once for both."""
    assert main(["run", "--threads", "0"]) == pytest.ExitCode.USAGE_ERROR
    assert "--accel-threads must be >= 1, got 0" in capsys.readouterr().err


def test_run_forwards_every_option_it_was_given(capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI's options are the plugin's, without the prefix (declared once)."""
    from accel.cli import build_parser
    from accel.plugin.options import OPTIONS, forward

    argv = ["run", "--rounds", "7", "--techniques", "ort-int8", "--update-baselines"]
    argv += ["--require", "ort-int8/cpu,bf16"]
    args = build_parser().parse_args(argv)
    assert forward(vars(args)) == [
        "--accel-update-baselines",
        "--accel-techniques=ort-int8",
        "--accel-require=ort-int8/cpu,bf16",
        "--accel-rounds=7",
    ]
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    help_text = capsys.readouterr().out
    assert all(f"--{o.name}" in help_text for o in OPTIONS)
