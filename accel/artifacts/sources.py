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
from typing import TYPE_CHECKING

from accel.artifacts.canonical import SPLITS, canonical, check_split_names, validation_carve
from accel.artifacts.data import OOS, DataError, intent_names, load_clinc
from accel.artifacts.readers import EXTENSIONS, FORMATS, read_files

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
        if spec.text_column == spec.label_column:
            raise DataError(
                f"text_column and label_column are both {spec.text_column!r}; name two "
                "different columns."
            )
        if spec.kind == "files":
            raw, where = read_files(spec.files, spec.format, spec.text_column, spec.label_column)
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
    check_split_names(splits, "splits")
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
