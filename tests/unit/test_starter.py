"""accel init (accel.plugin.starter): detection, the written configuration, refusals, the run."""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomllib

from accel.artifacts.sources import DataSpec
from accel.plugin import starter
from accel.plugin.config import resolve
from accel.plugin.starter import add_init_arguments, run_init
from accel.plugin.starter_detect import InitError, Table, detect, read_file
from accel.techniques import Registry, builtin_registry

LABELS = ["book_flight", "weather", "balance", "oos"]


def _rows(n: int) -> list[tuple[int, str, str]]:
    return [
        (i, f"utterance {i} about {LABELS[i % 4]} {'x' * (i % 7)}", LABELS[i % 4]) for i in range(n)
    ]


def _csv(path: Path, header: tuple[str, str, str], n: int = 40, sep: str = ",") -> Path:
    lines = [sep.join(header)] + [sep.join(map(str, row)) for row in _rows(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _jsonl(path: Path, header: tuple[str, str, str], n: int = 40) -> Path:
    rows = [dict(zip(header, row, strict=True)) for row in _rows(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _init(folder: Path, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.chdir(folder)
    parser = argparse.ArgumentParser(prog="accel init")
    add_init_arguments(parser)
    return run_init(parser.parse_args(list(argv)))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    _csv(tmp_path / "data" / "train.csv", ("id", "utt", "tag"))
    _csv(tmp_path / "data" / "test.csv", ("id", "utt", "tag"), n=12)
    return tmp_path


@pytest.fixture
def no_pytest(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """subprocess.run recorded, never run; it answers exit status 0."""
    calls: list[dict[str, Any]] = []

    def fake(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append({"command": command, **kwargs})
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, "run", fake)
    return calls


@pytest.mark.parametrize(
    ("name", "writer", "header"),
    [
        ("t.csv", _csv, ("id", "text", "label")),
        ("t.csv", _csv, ("id", "utt", "tag")),
        ("t.jsonl", _jsonl, ("id", "sentence", "intent")),
        ("t.jsonl", _jsonl, ("n", "body", "kind")),
    ],
)
def test_detects_named_and_unnamed_columns(
    tmp_path: Path, name: str, writer: Any, header: tuple[str, str, str]
) -> None:
    found = detect(read_file(writer(tmp_path / name, header), None), None, None)
    assert (found.text_column, found.label_column) == header[1:]
    assert found.labels == tuple(sorted(LABELS))
    assert found.reject_candidates == ("oos",)
    assert len(found.reasons) == 2


def test_detects_tsv_and_checks_given_columns(tmp_path: Path) -> None:
    table = read_file(_csv(tmp_path / "t.tsv", ("id", "utt", "tag"), sep="\t"), None)
    assert detect(table, None, None).label_column == "tag"
    assert detect(table, "utt", "tag").reasons[0].endswith("given (--text-column)")
    with pytest.raises(InitError, match=r"no column 'nope' \(--label-column\).*'utt'"):
        detect(table, None, "nope")


def test_ambiguous_and_impossible_detection_name_the_file_and_the_flag(tmp_path: Path) -> None:
    two = Table({"text": ["a b", "c d"], "label": ["x", "y"], "intent": ["x", "y"]}, "file f.csv")
    with pytest.raises(InitError, match=r"file f\.csv: ambiguous label.*--label-column"):
        detect(two, None, None)
    same = Table(
        {
            "a": ["long text one", "long text two", "long text 3"],
            "b": ["p", "q", "p"],
            "c": ["u", "v", "u"],
        },
        "file g.csv",
    )
    with pytest.raises(InitError, match=r"file g\.csv: ambiguous label.*'a', 'b', 'c'"):
        detect(same, None, None)
    unique = Table({"a": ["one", "two"], "b": ["three", "four"]}, "file h.csv")
    with pytest.raises(InitError, match=r"file h\.csv: no column looks like a label"):
        detect(unique, None, None)
    similar = Table(
        {"q": ["abcd", "efgh", "ijkl"], "r": ["abce", "efgi", "ijkm"], "label": ["x", "y", "x"]},
        "file k.csv",
    )
    with pytest.raises(InitError, match=r"ambiguous text column.*--text-column"):
        detect(similar, None, None)


def test_writes_a_config_that_resolves_and_round_trips(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "data" / "dev.jsonl").write_text("", encoding="utf-8")
    _csv(project / "data" / "dev.csv", ("id", "utt", "tag"), n=8)
    code = _init(
        project,
        monkeypatch,
        "--train",
        "data/train.csv",
        "--validation",
        "data/dev.csv",
        "--test",
        "data/test.csv",
        "--config",
        "conf/accel.toml",
        "--reject-label",
        "oos",
        "--no-run",
    )
    assert code == 0
    path = project / "conf" / "accel.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    assert raw["data"]["files"]["train"] == "../data/train.csv"
    assert raw["baselines"] == "../baselines"
    config = resolve(path, {})
    assert config["data"] == DataSpec(
        kind="files",
        files={
            s: str(project / "data" / f"{n}.csv")
            for s, n in [("train", "train"), ("validation", "dev"), ("test", "test")]
        },
        text_column="utt",
        label_column="tag",
        reject_label="oos",
    )
    assert config["techniques"] == "fp32,torch-int8,ort-fp32,ort-int8"
    assert config["devices"] == "cpu" and config["threads"] == 1
    registry = builtin_registry()
    assert (
        config["contracts"]["ort-int8"]["min_speedup"] == registry["ort-int8"].contract.min_speedup
    )
    assert "fp32" not in config["contracts"]  # the reference promises nothing
    assert not (project / "baselines").exists()


def test_refuses_to_overwrite_without_force(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_pytest: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = ("--train", "data/train.csv", "--test", "data/test.csv")
    (project / "accel.toml").write_text("# mine\n", encoding="utf-8")
    assert _init(project, monkeypatch, *data, "--no-run") == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert (project / "accel.toml").read_text(encoding="utf-8") == "# mine\n"
    (project / "accel.toml").unlink()
    (project / "baselines" / "cpu").mkdir(parents=True)
    (project / "baselines" / "cpu" / "ort-int8.json").write_text("{}", encoding="utf-8")
    assert _init(project, monkeypatch, *data) == 2
    assert "ort-int8.json; pass --force" in capsys.readouterr().err
    assert not (project / "accel.toml").exists()
    assert not no_pytest
    assert _init(project, monkeypatch, *data, "--force", "--no-run") == 0
    assert resolve(project / "accel.toml", {})["data"].label_column == "tag"


def test_dry_run_writes_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "accel.toml").write_text("# mine\n", encoding="utf-8")
    before = sorted(p.name for p in project.rglob("*"))
    assert (
        _init(
            project,
            monkeypatch,
            "--train",
            "data/train.csv",
            "--test",
            "data/test.csv",
            "--dry-run",
            "--model",
            "org/model",
        )
        == 0
    )
    assert sorted(p.name for p in project.rglob("*")) == before
    out = capsys.readouterr().out
    assert 'model = "org/model"' in out and "[contracts.ort-int8]" in out
    assert "--reject-label oos" in out  # noted, never set
    assert "reject_label =" not in out
    assert f"# note: {project / 'accel.toml'} already exists" in out
    assert (project / "accel.toml").read_text(encoding="utf-8") == "# mine\n"


def test_pyproject_appends_only_without_tool_accel(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n\n[tool.ruff]\nline-length = 99\n', "utf-8")
    args = (
        "--train",
        "data/train.csv",
        "--test",
        "data/test.csv",
        "--config",
        "pyproject.toml",
        "--no-run",
    )
    assert _init(project, monkeypatch, *args) == 0
    doc = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    assert doc["project"] == {"name": "x"} and doc["tool"]["ruff"] == {"line-length": 99}
    assert resolve(pyproject, {})["data"].text_column == "utt"
    once = pyproject.read_text(encoding="utf-8")
    assert _init(project, monkeypatch, *args) == 2
    assert pyproject.read_text(encoding="utf-8") == once
    assert _init(project, monkeypatch, *args, "--force", "--techniques", "fp32,ort-int8") == 0
    doc = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    assert doc["tool"]["accel"]["techniques"] == ["fp32", "ort-int8"]
    assert doc["tool"]["ruff"] == {"line-length": 99}


def test_run_step_calls_pytest_and_prints_what_to_commit(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_pytest: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    (project / "ckpt").mkdir()
    assert (
        _init(
            project,
            monkeypatch,
            "--train",
            "data/train.csv",
            "--test",
            "data/test.csv",
            "--model",
            "ckpt",
            "--baselines",
            "gate",
        )
        == 0
    )
    config = project / "accel.toml"
    assert resolve(config, {})["model"] == str(project / "ckpt")
    [call] = no_pytest
    assert call["command"] == [
        sys.executable,
        "-m",
        "pytest",
        "--pyargs",
        "accel.plugin.suite",
        "--accel-config",
        str(config),
        "--accel-update-baselines",
        "-p",
        "no:cacheprovider",
    ]
    assert Path(call["cwd"]) == project
    out = capsys.readouterr().out
    assert "  accel.toml\n  gate/\n" in out
    assert "pip install accel" in out and "pytest --pyargs accel.plugin.suite" in out


def test_exit_code_is_pytests(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "run", lambda c, **_: subprocess.CompletedProcess(c, 1))
    assert _init(project, monkeypatch, "--clinc", "data/train.csv") == 1


def test_bad_arguments_are_refused(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _init(project, monkeypatch, "--train", "data/train.csv", "--dry-run") == 2
    assert _init(project, monkeypatch, "--clinc", "x.json", "--hub-id", "a/b", "--dry-run") == 2
    assert (
        _init(
            project, monkeypatch, "--clinc", "data/train.csv", "--techniques", "nope", "--dry-run"
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "--test FILE is missing" in err and "name the data once" in err
    assert "unknown technique 'nope'" in err
    assert _init(project, monkeypatch, "--clinc", "x.json", "--dry-run") == 2
    assert "--clinc x.json: no such file" in capsys.readouterr().err


def test_detects_parquet_and_hub_class_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets

    features = datasets.Features(
        {"sentence": datasets.Value("string"), "y": datasets.ClassLabel(names=LABELS)}
    )
    rows = {"sentence": [r[1] for r in _rows(20)], "y": [i % 4 for i in range(20)]}
    train = datasets.Dataset.from_dict(rows, features=features)
    train.to_parquet(str(tmp_path / "t.parquet"))
    found = detect(read_file(tmp_path / "t.parquet", None), None, None)
    assert (found.text_column, found.label_column) == ("sentence", "y")
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: train)
    monkeypatch.chdir(tmp_path)
    assert _init(tmp_path, monkeypatch, "--hub-id", "org/set", "--no-run") == 0
    spec = resolve(tmp_path / "accel.toml", {})["data"]
    assert spec == DataSpec(kind="hub", hub_id="org/set", text_column="sentence", label_column="y")
    assert "'oos' may be a reject" in (tmp_path / "accel.toml").read_text(encoding="utf-8")


def test_clinc_needs_no_columns(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "clinc.json").write_text("{}", encoding="utf-8")
    assert _init(project, monkeypatch, "--clinc", "clinc.json", "--no-run") == 0
    spec = resolve(project / "accel.toml", {})["data"]
    assert spec == DataSpec(kind="clinc150", path=str(project / "clinc.json"))


def test_a_rival_left_out_is_pointed_out(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A technique whose contract names a rival (`beats`; here one a plugin could declare)."""

    def with_rival() -> Registry:
        registry = builtin_registry()
        contract = dataclasses.replace(registry["distilled"].contract, beats="finetuned-student")
        registry.set_contract("distilled", contract)
        return registry

    monkeypatch.setattr(starter, "builtin_registry", with_rival)
    assert (
        _init(
            project,
            monkeypatch,
            "--clinc",
            "data/train.csv",
            "--techniques",
            "ort-int8,distilled",
            "--dry-run",
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "distilled must beat finetuned-student: add finetuned-student" in out
    assert "# beats: add finetuned-student to techniques too" in out
