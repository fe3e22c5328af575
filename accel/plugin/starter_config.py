"""``accel init``'s configuration side: the starter ``[tool.accel]`` as commented TOML, checked
by reading it back through :func:`accel.plugin.config.resolve`, written atomically."""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from accel.artifacts.cache import write_text_atomic
from accel.artifacts.sources import DataSpec
from accel.plugin.config import ACCEL_TOML, PYPROJECT, Config, resolve
from accel.plugin.starter_detect import InitError

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_HEADER = re.compile(r"\s*\[\[?\s*([^\]]+?)\s*\]")
DEFAULT_FIELDS = DataSpec()


@dataclass(frozen=True)
class Plan:
    """What the starter configuration holds; paths relative to the file's folder."""

    model: str
    data: DataSpec
    techniques: tuple[str, ...]
    baselines: str
    contracts: Mapping[str, Mapping[str, float | str]]
    data_notes: Sequence[str] = field(default_factory=tuple)


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string."""
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append({"\t": "\\t", "\n": "\\n", "\r": "\\r"}.get(char, f"\\u{ord(char):04x}"))
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    """A string, number, list of strings or table of strings as TOML."""
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def toml_key(key: str) -> str:
    return key if _BARE.fullmatch(key) else toml_string(key)


def render(plan: Plan, pyproject: bool) -> str:
    """The configuration's text: a whole accel.toml, or a ``[tool.accel]`` block to append."""
    top = "tool.accel." if pyproject else ""
    lines = ["# accel's configuration, written by `accel init` (docs/init.md)."]
    if pyproject:
        lines.append("[tool.accel]")
    lines += [
        "# The reference classifier: 'embedded', a checkpoint directory or a hub id.",
        f"model = {toml_string(plan.model)}",
        "# The techniques gated on every device (`accel run --techniques` overrides).",
        f"techniques = {toml_value(list(plan.techniques))}",
        'devices = ["cpu"]',
        "# One thread for every cell: the figures least disturbed by other jobs.",
        "threads = 1",
        "# Reviewed baseline files, <device>/<technique>.json: commit them.",
        f"baselines = {toml_string(plan.baselines)}",
        "",
        f"[{top}data]",
        *(f"# {note}" for note in plan.data_notes),
    ]
    for spec_field in dataclasses.fields(DataSpec):
        value = getattr(plan.data, spec_field.name)
        column = spec_field.name in ("text_column", "label_column")
        explicit = spec_field.name == "kind" or (column and plan.data.kind != "clinc150")
        if explicit or value != getattr(DEFAULT_FIELDS, spec_field.name):
            lines.append(f"{spec_field.name} = {toml_value(value)}")
    for name, promises in plan.contracts.items():
        rival = promises.get("beats")
        lines += [
            "",
            f"# {name}: the built-in contract, relative to the reference in the same run. These",
            "# are defaults: tighten or loosen them for this model and this hardware.",
            *(
                [f"# beats: add {rival} to techniques too"]
                if rival not in (None, *plan.techniques)
                else []
            ),
            f"[{top}contracts.{toml_key(name)}]",
            *(f"{key} = {toml_value(value)}" for key, value in promises.items()),
        ]
    return "\n".join(lines) + "\n"


def _absolute(folder: Path, path: str) -> str:
    return path if Path(path).is_absolute() else str((folder / path).resolve())


def expected(plan: Plan, folder: Path) -> dict[str, Any]:
    """What :func:`resolve` must read back from ``plan`` written in ``folder``."""
    spec = plan.data
    local = plan.model.startswith((".", "/"))
    return {
        "model": _absolute(folder, plan.model) if local else plan.model,
        "data": dataclasses.replace(
            spec,
            files={s: _absolute(folder, p) for s, p in spec.files.items()},
            path=_absolute(folder, spec.path) if spec.path else None,
        ),
        "techniques": ",".join(plan.techniques),
        "devices": "cpu",
        "threads": 1,
        "baselines": _absolute(folder, plan.baselines),
        "contracts": {k: dict(v) for k, v in plan.contracts.items()},
    }


def check(path: Path, plan: Plan) -> Config:
    """Read ``path`` back through :func:`resolve`; raise if it does not hold ``plan``."""
    config = resolve(path, {})
    want = expected(plan, path.parent)
    wrong = {k: (config[k], v) for k, v in want.items() if config[k] != v}
    if wrong:
        raise InitError(f"{path} reads back differently (read, meant): {wrong}")
    return config


def check_text(plan: Plan) -> None:
    """Check ``plan``'s accel.toml form in a temporary folder (writes nothing of the project)."""
    with tempfile.TemporaryDirectory(prefix="accel-init-") as tmp:
        path = Path(tmp) / ACCEL_TOML
        path.write_text(render(plan, pyproject=False), encoding="utf-8")
        check(path, plan)
    block = tomllib.loads(render(plan, pyproject=True))["tool"]["accel"]
    if block != tomllib.loads(render(plan, pyproject=False)):
        raise InitError("the [tool.accel] block and the accel.toml form differ")


def has_accel_table(path: Path) -> bool:
    """Whether the pyproject.toml at ``path`` exists and has a ``[tool.accel]`` table."""
    if not path.is_file():
        return False
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InitError(f"{path}: not valid TOML ({exc}); fix it first") from None
    return "accel" in doc.get("tool", {})


def without_accel_table(path: Path, text: str) -> str:
    """``text`` (a pyproject.toml) without its ``[tool.accel]`` and ``[tool.accel.*]`` tables."""
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        header = _HEADER.match(line)
        if header:
            name = header.group(1).replace(" ", "").replace('"', "")
            dropping = name == "tool.accel" or name.startswith("tool.accel.")
        if not dropping:
            kept.append(line)
    result = "".join(kept)
    if "accel" in tomllib.loads(result).get("tool", {}):
        raise InitError(
            f"{path}: [tool.accel] is not only in [tool.accel] tables (dotted keys or an "
            "inline table): remove it by hand, then run accel init again"
        )
    return result


def write(path: Path, plan: Plan, force: bool) -> Config:
    """Write ``plan`` to ``path`` (an accel.toml, or appended to a pyproject.toml) and read it
    back; an existing configuration is replaced only with ``force``."""
    check_text(plan)
    if path.name == PYPROJECT:
        old = path.read_text(encoding="utf-8") if path.is_file() else ""
        if has_accel_table(path):
            if not force:
                raise InitError(f"{path} already has [tool.accel]; pass --force to replace it")
            old = without_accel_table(path, old)
        block = render(plan, pyproject=True)
        text = (old.rstrip("\n") + "\n\n" if old.strip() else "") + block
    else:
        if path.exists() and not force:
            raise InitError(f"{path} already exists; pass --force to overwrite it")
        text = render(plan, pyproject=False)
    write_text_atomic(path, text)
    return check(path, plan)


def relative(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` (POSIX separators; absolute on another drive)."""
    try:
        rel = Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()
    except ValueError:
        return path.resolve().as_posix()
    return rel
