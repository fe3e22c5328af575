"""``accel calibrate`` on the tiny model: the cells' A/A phases, written into their baselines."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from accel.artifacts.cache import CACHE_ENV
from accel.cli import main
from accel.gate.baselines import read_baseline
from tests.conftest import tiny_model
from tests.unit.test_base_code import tiny_data

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # builds two cells of the tiny model and times 2 x 5 phases (~20 s)
def test_calibrate_writes_each_kind_of_margin_into_the_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tiny_model()
    model.model.save_pretrained(tmp_path / "tiny")
    model.tokenizer.save_pretrained(tmp_path / "tiny")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # no project config here; the worker runs on the installed code
    (tmp_path / "b" / "cpu").mkdir(parents=True)
    shutil.copy(ROOT / "baselines/cpu/ort-fp32.json", tmp_path / "b/cpu/ort-fp32.json")
    before = (tmp_path / "b/cpu/ort-fp32.json").read_text()
    data = tiny_data(tmp_path / "d.json")
    args = ["calibrate", "--model", str(tmp_path / "tiny"), "--data", str(data), "--phases", "5"]
    args += ["--techniques", "fp32,ort-fp32", "--device", "cpu", "--baselines", "b"]

    assert main(args) == 1  # fp32 has no baseline here: said, and the others still calibrated
    out = capsys.readouterr().out
    assert "not calibrated: fp32/cpu: no baseline under b" in out
    assert "ort-fp32/cpu" in out and "margin" in out
    found = read_baseline(tmp_path / "b/cpu/ort-fp32.json")
    assert set(found.calibration) == {"artifact"}
    assert found.calibration["artifact"].phases == 5
    assert found.calibration["artifact"].margin >= 0.03

    assert main([*args, "--across-processes"]) == 1
    found = read_baseline(tmp_path / "b/cpu/ort-fp32.json")
    assert set(found.calibration) == {"artifact", "code"}
    unchanged = read_baseline(ROOT / "baselines/cpu/ort-fp32.json")
    assert (found.metrics, found.model) == (unchanged.metrics, unchanged.model)
    assert before != (tmp_path / "b/cpu/ort-fp32.json").read_text()


def test_too_few_phases_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--phases", "3"]) == 2
    assert "--phases must be at least 5, got 3" in capsys.readouterr().err


def test_an_unknown_technique_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--techniques", "nope"]) == 2
    assert "--techniques: unknown value(s) nope" in capsys.readouterr().err
