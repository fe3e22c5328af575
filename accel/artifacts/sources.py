"""Any single-label text classification data as accel's canonical ``DatasetDict``.

A :class:`DataSpec` says where the data comes from (CLINC150, local files, a hub dataset or a
Python function) and how to read it; :func:`load_data` reads it into the canonical form of
:mod:`accel.artifacts.canonical` (splits ``train``, ``validation``, ``test``; columns ``text``
and ``intent``). Every problem is a :class:`~accel.artifacts.data.DataError` that names the
source, the field or column, the offending value and the fix. See docs/data.md.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accel.artifacts.canonical import SPLITS, canonical, check_columns, validation_carve
from accel.artifacts.data import OOS, DataError, intent_names, load_clinc

if TYPE_CHECKING:
    import datasets

__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "KINDS",
    "DataSpec",
    "load_data",
    "reject_label",
    "validation_carve",
]

KINDS: tuple[str, ...] = ("clinc150", "files", "hub", "callable")
FORMATS: tuple[str, ...] = ("csv", "tsv", "json", "parquet")
# A file's format from its extension (when DataSpec.format is not set).
EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "json",
    ".json": "json",
    ".parquet": "parquet",
}


@dataclass(frozen=True)
class DataSpec:
    """Where the data comes from and how to read it."""

    # "clinc150" | "files" | "hub" | "callable"
    kind: str = "clinc150"
    # clinc150: an oos-eval JSON (else $ACCEL_CLINC_PATH, else the hub), read by load_clinc.
    path: str | None = None
    # files: split ("train", "validation", "test") -> path.
    files: Mapping[str, str] = field(default_factory=dict)
    # files: "csv", "tsv", "json" (JSON Lines), "parquet"; default: each file's extension.
    format: str | None = None
    # hub: the dataset id and config name, read by datasets.load_dataset(hub_id, hub_config).
    hub_id: str | None = None
    hub_config: str | None = None
    # hub/callable: accel split -> the source's split name (default: the same name).
    splits: Mapping[str, str] = field(default_factory=dict)
    # callable: "package.module:function" returning a datasets.DatasetDict.
    function: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    # The out-of-scope/reject class, if the data has one (clinc150: "oos").
    reject_label: str | None = None
    # Carved from train (stratified when possible) when there is no validation split.
    validation_fraction: float = 0.1
    # The carve's seed (recorded with the carve: see validation_carve).
    seed: int = 0


def reject_label(spec: DataSpec) -> str | None:
    """The reject (out-of-scope) class: ``spec.reject_label``, else ``"oos"`` for CLINC150."""
    if spec.reject_label is not None:
        return spec.reject_label
    return OOS if spec.kind == "clinc150" else None


def load_data(spec: DataSpec) -> datasets.DatasetDict:
    """Read ``spec``'s data into the canonical ``DatasetDict``; raise ``DataError`` if it
    cannot be read or is not single-label text classification data accel can gate."""
    if spec.kind not in KINDS:
        raise DataError(f"unknown data kind {spec.kind!r} (field kind); valid kinds: {KINDS}.")
    if spec.kind == "clinc150":
        data = load_clinc(spec.path)
    else:
        if spec.kind == "files":
            raw, where = _read_files(spec)
        else:
            source, origin = _read_hub(spec) if spec.kind == "hub" else _read_callable(spec)
            raw, where = _select(source, origin, spec.splits)
        data = canonical(
            raw, where, spec.text_column, spec.label_column, spec.validation_fraction, spec.seed
        )
    reject = reject_label(spec)
    if reject is not None and reject not in intent_names(data):
        raise DataError(
            f"reject_label = {reject!r} is not a label of the data (its labels: "
            f"{intent_names(data)[:20]}). Name the data's out-of-scope class, or leave "
            "reject_label unset when it has none."
        )
    return data


def _check_split_names(names: Mapping[str, str], field_name: str) -> None:
    unknown = sorted(set(names) - set(SPLITS))
    if unknown:
        raise DataError(
            f"{field_name}: unknown split(s) {unknown}; accel's splits are {list(SPLITS)} "
            "(map a source's 'dev' split as validation)."
        )


def _format(path: Path, spec: DataSpec, split: str) -> str:
    if spec.format is not None:
        if spec.format not in FORMATS:
            raise DataError(
                f"format = {spec.format!r} is not a known format; valid formats: {FORMATS}."
            )
        return spec.format
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"file {path} (files.{split}): unknown extension {path.suffix!r}; valid "
            f"extensions: {sorted(EXTENSIONS)}. Rename the file or set format to one of "
            f"{FORMATS}."
        )
    return fmt


def _check_utf8(path: Path, split: str) -> None:
    """A text file must be UTF-8: name the line of the first byte that is not."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"file {path} (files.{split}): not UTF-8 text: byte {data[exc.start]:#04x} at "
            f"line {line} (byte offset {exc.start}). Save the file as UTF-8."
        ) from exc


def _root(exc: BaseException) -> BaseException:
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return exc


def _read_file(path: Path, fmt: str, split: str, spec: DataSpec) -> datasets.Dataset:
    """One split from one file, texts and labels as they are written."""
    import datasets
    import pandas as pd

    kwargs: dict[str, Any] = {}
    if fmt in ("csv", "tsv"):
        sep = "\t" if fmt == "tsv" else ","
        try:
            columns = list(pd.read_csv(path, sep=sep, nrows=0, keep_default_na=False).columns)
        except pd.errors.EmptyDataError as exc:
            raise DataError(f"file {path} (files.{split}) is empty; give it a header row.") from exc
        except (ValueError, pd.errors.ParserError) as exc:
            raise DataError(f"file {path} (files.{split}): not a valid {fmt}: {exc}") from exc
        check_columns(columns, f"file {path} (files.{split})", spec.text_column, spec.label_column)
        wanted = [spec.text_column, spec.label_column]
        # Every field read as the string it is ("NA", "null", "007" included).
        kwargs = {
            "delimiter": sep,
            "keep_default_na": False,
            "usecols": wanted,
            "features": datasets.Features({c: datasets.Value("string") for c in wanted}),
        }
    builder = "csv" if fmt == "tsv" else fmt
    try:
        loaded = datasets.load_dataset(
            builder, data_files={split: str(path)}, split=split, **kwargs
        )
    except Exception as exc:  # datasets wraps the reader's error in its own
        cause = _root(exc)
        raise DataError(
            f"file {path} (files.{split}): could not be read as {fmt}: "
            f"{type(cause).__name__}: {cause}. Check the file's {fmt} syntax, or set format."
        ) from exc
    assert isinstance(loaded, datasets.Dataset)
    return loaded


def _read_files(spec: DataSpec) -> tuple[dict[str, datasets.Dataset], dict[str, str]]:
    _check_split_names(spec.files, "files")
    for split in ("train", "test"):
        if split not in spec.files:
            raise DataError(
                f"files has no {split!r} entry (it has {sorted(spec.files)}): accel trains on "
                f'train and gates on test; add files.{split} = "path/to/{split}.csv".'
            )
    raw, where = {}, {}
    for split in SPLITS:
        if split not in spec.files:
            continue
        path = Path(spec.files[split])
        if not path.is_file():
            raise DataError(
                f"file {path} (files.{split}) does not exist. Fix the path in files.{split}."
            )
        fmt = _format(path, spec, split)
        if fmt != "parquet":
            _check_utf8(path, split)
        raw[split] = _read_file(path, fmt, split, spec)
        where[split] = f"file {path} (files.{split})"
    return raw, where


def _read_hub(spec: DataSpec) -> tuple[datasets.DatasetDict, str]:
    import datasets

    if not spec.hub_id:
        raise DataError('kind = "hub" needs hub_id (a dataset id such as "banking77").')
    origin = f"hub dataset {spec.hub_id!r}" + (
        f" (config {spec.hub_config!r})" if spec.hub_config else ""
    )
    try:
        loaded = datasets.load_dataset(spec.hub_id, spec.hub_config)
    except Exception as exc:  # offline, unknown id or config, ...: the same advice
        raise DataError(
            f"Could not load the {origin}. Tried datasets.load_dataset({spec.hub_id!r}, "
            f"{spec.hub_config!r}): {type(exc).__name__}: {exc}\n"
            "Fix: check hub_id and hub_config and run where the Hugging Face hub is reachable "
            "(a copy in the datasets cache also loads with HF_DATASETS_OFFLINE=1), or save the "
            'splits as files and use kind = "files".'
        ) from exc
    if not isinstance(loaded, datasets.DatasetDict):
        raise DataError(f"the {origin} loaded as {type(loaded).__name__}, not a DatasetDict.")
    return loaded, origin


def _read_callable(spec: DataSpec) -> tuple[datasets.DatasetDict, str]:
    import datasets

    target = spec.function or ""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr or ":" in attr:
        raise DataError(
            f'function = {spec.function!r}: kind = "callable" needs "package.module:function".'
        )
    origin = f"function {target}"
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise DataError(
            f"{origin}: module {module_name!r} cannot be imported: {type(exc).__name__}: {exc}. "
            "Install its package or put it on PYTHONPATH."
        ) from exc
    func = getattr(module, attr, None)
    if not callable(func):
        raise DataError(
            f"{origin}: module {module_name!r} has no function {attr!r} "
            f"(found {type(func).__name__}). Fix the name after the colon."
        )
    try:
        loaded = func()
    except Exception as exc:
        raise DataError(f"{origin} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(loaded, datasets.DatasetDict):
        raise DataError(
            f"{origin} returned a {type(loaded).__name__}, not a datasets.DatasetDict: return "
            "DatasetDict({'train': ..., 'test': ...}) (validation optional)."
        )
    return loaded, origin


def _select(
    source: datasets.DatasetDict, origin: str, splits: Mapping[str, str]
) -> tuple[dict[str, datasets.Dataset], dict[str, str]]:
    """accel's splits from ``source``'s, through the ``splits`` mapping."""
    _check_split_names(splits, "splits")
    raw, where = {}, {}
    for split in SPLITS:
        name = splits.get(split, split)
        if name in source:
            raw[split] = source[name]
            where[split] = f"{origin}, split {name!r}"
        elif split in splits or split != "validation":
            raise DataError(
                f"{origin} has no split {name!r} (for accel's {split}); its splits are "
                f'{sorted(source)}. Map one with splits.{split} = "<its split name>".'
            )
    return raw, where
