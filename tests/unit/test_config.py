"""The project's configuration: [tool.accel] / accel.toml, checked key by key, under the
command line (accel.plugin.config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from accel.artifacts.sources import DataSpec
from accel.gate.metrics import Tolerance
from accel.plugin.config import (
    ConfigError,
    customize,
    describe,
    find_config,
    read_table,
    resolve,
)
from accel.techniques import builtin_registry
from accel.techniques.registry import RegistryError

NO_OPTIONS: dict[str, object] = {}


def _pyproject(folder: Path, body: str) -> Path:
    path = folder / "pyproject.toml"
    path.write_text("[project]\nname = 'team'\n\n" + body, encoding="utf-8")
    return path


def test_no_file_is_the_zero_configuration_default(tmp_path: Path) -> None:
    config = resolve(None, NO_OPTIONS)
    assert config["model"] == "embedded" and config["data"] == DataSpec()
    assert config["threads"] == 1 and config["techniques"] is None
    assert {config.source(k) for k in config.settings} == {"default"}
    assert "none (every value is a default)" in describe(config)


def test_found_in_pyproject_and_accel_toml(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    assert find_config(tmp_path) is None  # a pyproject without [tool.accel] ends the search
    path = _pyproject(tmp_path, "[tool.accel]\nthreads = 2\n")
    (tmp_path / "sub").mkdir()
    assert find_config(tmp_path / "sub") == path  # found from a folder below
    (tmp_path / "accel.toml").write_text("threads = 3\n", encoding="utf-8")
    assert find_config(tmp_path) == tmp_path / "accel.toml"
    assert read_table(tmp_path / "accel.toml") == {"threads": 3}


def test_command_line_over_file_over_default(tmp_path: Path) -> None:
    path = _pyproject(
        tmp_path,
        '[tool.accel]\nmodel = "org/model"\nthreads = 2\ntechniques = ["fp32", "ort-int8"]\n'
        'baselines = "gate/baselines"\n',
    )
    config = resolve(path, {"threads": 4, "model": None})
    assert config["threads"] == 4 and config.source("threads") == "command line (--accel-threads)"
    assert config["model"] == "org/model" and "pyproject.toml [tool.accel]" in config.source(
        "model"
    )
    assert config["techniques"] == "fp32,ort-int8"
    assert config["baselines"] == str(tmp_path / "gate" / "baselines")  # relative to the file
    assert config.setter("threads") == "--accel-threads"
    assert config.setter("techniques").endswith("pyproject.toml [tool.accel]: key techniques")


def test_data_table_becomes_a_spec_with_paths_relative_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAM_DATA", str(tmp_path / "data"))
    path = _pyproject(
        tmp_path,
        '[tool.accel.data]\nkind = "files"\nfiles = { train = "d/train.csv", '
        'test = "${TEAM_DATA}/test.csv" }\nlabel_column = "topic"\nreject_label = "other"\n'
        "validation_fraction = 0.2\nseed = 7\n",
    )
    spec = resolve(path, NO_OPTIONS)["data"]
    assert spec.kind == "files" and spec.label_column == "topic" and spec.seed == 7
    assert spec.files == {
        "train": str(tmp_path / "d" / "train.csv"),
        "test": str(tmp_path / "data" / "test.csv"),
    }
    assert "reject_label = 'other'" in describe(resolve(path, NO_OPTIONS))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[tool.accel]\nthread = 2\n", "unknown key 'thread' (did you mean 'threads'?)"),
        ("[tool.accel]\nthreads = 0\n", "key threads = 0: must be an integer >= 1"),
        ("[tool.accel]\nthreads = true\n", "key threads = True: must be an integer >= 1"),
        ("[tool.accel]\nrounds = 1\n", "key rounds = 1: must be an integer >= 2"),
        ("[tool.accel]\ntechniques = []\n", "key techniques = []: must be 'all' or"),
        ('[tool.accel.data]\nkind = "csv"\n', "data.kind = 'csv': valid kinds: clinc150, files"),
        ('[tool.accel.data]\nformat = "xls"\n', "data.format = 'xls': valid formats: csv"),
        ('[tool.accel.data]\ntext = "t"\n', "data.text = 't': unknown field; valid: kind"),
        ("[tool.accel.data]\nvalidation_fraction = 1.5\n", "between 0 and 1"),
        ('[tool.accel.data]\nfiles = { train = "${NOPE_UNSET}/a.csv" }\n', "not set"),
        ("[tool.accel.contracts.ort-int8]\nmin_speed = 3\n", "unknown promise; valid:"),
        ('[tool.accel.contracts.ort-int8]\nmin_speedup = "3x"\n', "must be a number"),
        ("[tool.accel.contracts.ort-int8]\nmin_speedup = -3\n", "min_speedup"),
        ("[tool.accel.tolerances]\nspeed = { rel = 0.1 }\n", "not a gated metric; valid:"),
        ("[tool.accel.tolerances]\nspeedup = { rel = 2 }\n", "could never fail"),
        ('[tool.accel]\nplugins = ["nocolon"]\n', "'package.module:attribute'"),
        ("[tool.accel\n", "not valid TOML"),
    ],
)
def test_every_bad_value_names_the_file_the_key_and_the_fix(
    tmp_path: Path, body: str, expected: str
) -> None:
    path = _pyproject(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        resolve(path, NO_OPTIONS)
    assert str(path) in str(info.value) and expected in str(info.value)


def test_data_option_only_overrides_clinc150(tmp_path: Path) -> None:
    assert resolve(None, {"data": "/d/plus.json"})["data"].path == "/d/plus.json"
    path = _pyproject(
        tmp_path, '[tool.accel.data]\nkind = "files"\nfiles = { train = "a.csv", test = "b.csv" }\n'
    )
    with pytest.raises(ConfigError, match="kind 'files'"):
        resolve(path, {"data": "/d/plus.json"})


def test_contracts_override_the_declared_promises(tmp_path: Path) -> None:
    path = _pyproject(
        tmp_path,
        "[tool.accel.contracts.ort-int8]\nmin_speedup = 3.0\n"
        "[tool.accel.tolerances]\nspeedup = { rel = 0.2 }\n",
    )
    config = resolve(path, NO_OPTIONS)
    assert config["tolerances"] == {"speedup": Tolerance(rel=0.2)}
    registry = builtin_registry()
    before = registry["ort-int8"].contract
    customize(registry, config)
    after = registry["ort-int8"].contract
    assert after.min_speedup == 3.0 and before.min_speedup != 3.0
    assert after.max_size_ratio == before.max_size_ratio  # the others stay as declared


def test_plugins_add_the_teams_own_techniques(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "team_techniques.py").write_text(
        "import dataclasses\nfrom accel.techniques import builtin_registry\n"
        "MINE = dataclasses.replace(builtin_registry()['fp32'], name='team-fp32')\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    path = _pyproject(
        tmp_path,
        '[tool.accel]\nplugins = ["team_techniques:MINE"]\n'
        "[tool.accel.contracts.team-fp32]\nmin_accuracy_ratio = 0.99\n",
    )
    registry = builtin_registry()
    customize(registry, resolve(path, NO_OPTIONS))
    assert registry["team-fp32"].contract.min_accuracy_ratio == 0.99
    assert "team_techniques:MINE" in registry.origin("team-fp32")
    bad = _pyproject(tmp_path, '[tool.accel]\nplugins = ["team_techniques:MISSING"]\n')
    with pytest.raises(RegistryError, match=r"team_techniques:MISSING.*cannot be loaded"):
        customize(builtin_registry(), resolve(bad, NO_OPTIONS))


def test_a_contract_for_an_unknown_technique_is_an_error(tmp_path: Path) -> None:
    path = _pyproject(tmp_path, "[tool.accel.contracts.ort-int9]\nmin_speedup = 3.0\n")
    with pytest.raises(ConfigError, match="names no technique; known: fp32"):
        customize(builtin_registry(), resolve(path, NO_OPTIONS))
