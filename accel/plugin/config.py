"""The project's configuration: ``[tool.accel]`` in ``pyproject.toml``, or an ``accel.toml``.

One file declares what a team gates: the model, the data, the techniques and devices, contract
overrides, tolerances for new baselines, threads, timing rounds, the baselines directory and
techniques of its own. Command-line options override the file; the file overrides the
defaults. :func:`resolve` returns every setting with where it came from (what ``accel config``
prints). A bad value is a :class:`ConfigError` naming the file, the key, the value and the
valid choices. Without a file, everything is the zero-configuration default (CLINC150, the
embedded teacher). docs/configuration.md is the user's guide.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from accel.artifacts.data import CLINC_PATH_ENV
from accel.artifacts.sources import DataSpec, reject_label
from accel.plugin.config_values import EMBEDDED, Checker, ConfigError, apply_contracts
from accel.techniques import Registry, builtin_registry

ACCEL_TOML = "accel.toml"
PYPROJECT = "pyproject.toml"
DEFAULT = "default"
CLI = "command line"

# Every key of the table, with what it holds (the help of `accel config`).
KEYS: dict[str, str] = {
    "model": "the reference: 'embedded', a checkpoint directory (relative to the file) or a hub id",
    "data": "a table: where the data comes from and how to read it (docs/data.md)",
    "techniques": "the techniques to run: a list of names, or 'all'",
    "devices": "the devices to run on: a list of 'cpu', 'cuda'",
    "threads": "threads for every cell, an integer >= 1",
    "rounds": "interleaved timing rounds per cell, an integer >= 2",
    "baselines": "the baselines directory (relative to the file)",
    "contracts": "a table per technique of contract promises that replace the built-in ones",
    "tolerances": "a table per gated metric, {abs = ..., rel = ...}, written into new baselines",
    "plugins": "techniques of your own: a list of 'package.module:attribute' (a Technique)",
}
# The command-line option of each key that has one (--accel-<option> / accel run --<option>).
OPTION_OF = {
    "model": "model",
    "techniques": "techniques",
    "devices": "device",
    "threads": "threads",
    "rounds": "rounds",
    "baselines": "baselines",
}


@dataclass(frozen=True)
class Setting:
    """One effective setting and where it came from."""

    value: Any
    source: str


@dataclass(frozen=True)
class Config:
    """The effective configuration: every key of :data:`KEYS` with its source."""

    file: Path | None
    settings: Mapping[str, Setting]

    def __getitem__(self, key: str) -> Any:
        return self.settings[key].value

    def source(self, key: str) -> str:
        """Where ``key``'s value came from: the file, the command line or the default."""
        return self.settings[key].source

    def setter(self, key: str) -> str:
        """Who set ``key``, for its errors: the option (``--accel-techniques``), or the file
        and key."""
        source = self.source(key)
        return f"--accel-{OPTION_OF[key]}" if source.startswith(CLI) else f"{source}: key {key}"


def find_config(start: Path) -> Path | None:
    """The configuration of the project at ``start`` or above: the first ``accel.toml``, or a
    ``pyproject.toml`` with ``[tool.accel]``; the search stops at the first ``pyproject.toml``."""
    for folder in (start.resolve(), *start.resolve().parents):
        if (folder / ACCEL_TOML).is_file():
            return folder / ACCEL_TOML
        if (folder / PYPROJECT).is_file():
            return (
                folder / PYPROJECT if "accel" in _read(folder / PYPROJECT).get("tool", {}) else None
            )
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc}") from None


def read_table(path: Path) -> dict[str, Any]:
    """The accel table of ``path``: ``[tool.accel]`` of a pyproject.toml, an accel.toml's top."""
    doc = _read(path)
    if path.name != PYPROJECT:
        return doc
    table = doc.get("tool", {}).get("accel")
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: no [tool.accel] table (add one, or use an {ACCEL_TOML})")
    return table


def resolve(file: Path | None, options: Mapping[str, Any]) -> Config:
    """The effective configuration: ``options`` (command-line values by key, None when not
    given) over ``file``'s table over the defaults."""
    table = read_table(file) if file is not None else {}
    where = f"{file} [tool.accel]" if file is not None and file.name == PYPROJECT else str(file)
    unknown = [k for k in table if k not in KEYS]
    if unknown:
        key = unknown[0]
        hint = difflib.get_close_matches(key, KEYS, n=1)
        raise ConfigError(
            f"{where}: unknown key {key!r}{f' (did you mean {hint[0]!r}?)' if hint else ''}; "
            f"valid keys: {', '.join(KEYS)}"
        )
    check = Checker(where, file.parent if file is not None else Path.cwd())
    parsed = {key: getattr(check, key)(value) for key, value in table.items()}
    defaults: dict[str, Any] = {
        "model": EMBEDDED,
        "data": DataSpec(),
        "techniques": None,
        "devices": None,
        "threads": 1,
        "rounds": None,
        "baselines": None,
        "contracts": {},
        "tolerances": {},
        "plugins": (),
    }
    settings = {}
    for key, default in defaults.items():
        option = OPTION_OF.get(key)
        given = options.get(option) if option else None
        if given is not None:
            settings[key] = Setting(given, f"{CLI} (--accel-{option})")
        elif key in parsed:
            settings[key] = Setting(parsed[key], where)
        else:
            settings[key] = Setting(default, DEFAULT)
    data_path = options.get("data")
    if data_path is not None:
        spec: DataSpec = settings["data"].value
        if spec.kind != "clinc150":
            raise ConfigError(
                f"--accel-data names a CLINC150 oos-eval JSON, but the data of {where} is of "
                f"kind {spec.kind!r}: change its files there, or drop --accel-data"
            )
        settings["data"] = Setting(
            dataclasses.replace(spec, path=data_path), f"{CLI} (--accel-data)"
        )
    return Config(file, settings)


def customize(registry: Registry, config: Config) -> None:
    """Add the config's own techniques (``plugins``) to ``registry``, then put its contract
    overrides (``contracts``) in place of the declared promises."""
    where = config.source("plugins")
    for spec in config["plugins"]:
        registry.load_object(spec, where)
    where = config.source("contracts")
    for name, promises in config["contracts"].items():
        if name not in registry:
            raise ConfigError(
                f"{where}: [contracts.{name}] names no technique; known: "
                f"{', '.join(registry.names())}"
            )
        contract = apply_contracts(
            registry[name].contract, promises, f"{where}: [contracts.{name}]"
        )
        registry.set_contract(name, contract)


def configured_registry(config: Config) -> Registry:
    """Built-ins, then entry-point plugins, then the config's plugins and contracts: the
    registry of a process that runs no pytest (no conftest hook), such as the base worker and
    ``accel calibrate``."""
    registry = builtin_registry()
    registry.load_entry_points()
    customize(registry, config)
    return registry


def describe(config: Config) -> str:
    """The effective configuration, one key a line with where its value came from (what
    ``accel config`` prints)."""
    unset = {
        "techniques": "every registered technique",
        "devices": "every registered device",
        "rounds": "20 (60 with --accel-update-baselines)",
        "baselines": "baselines/ under the pytest rootdir",
    }
    lines = [f"# configuration file: {config.file or 'none (every value is a default)'}"]
    for key, setting in config.settings.items():
        value = setting.value
        if isinstance(value, DataSpec):
            shown = _data(value)
        elif value is None:
            shown = unset[key]
        elif isinstance(value, dict):
            shown = repr({k: getattr(v, "as_dict", lambda v=v: v)() for k, v in value.items()})
        else:
            shown = repr(value)
        lines.append(f"{key} = {shown}  # {setting.source}")
    return "\n".join(lines) + "\n"


def _data(spec: DataSpec) -> str:
    default = DataSpec()
    fields = {
        f.name: getattr(spec, f.name)
        for f in dataclasses.fields(spec)
        if f.name == "kind" or getattr(spec, f.name) != getattr(default, f.name)
    }
    if spec.kind == "clinc150" and spec.path is None:
        env = os.environ.get(CLINC_PATH_ENV)
        fields["path"] = f"${CLINC_PATH_ENV} = {env}" if env else "the hub's clinc_oos/plus"
    fields["reject_label"] = reject_label(spec)
    return "{" + ", ".join(f"{k} = {v!r}" for k, v in fields.items()) + "}"
