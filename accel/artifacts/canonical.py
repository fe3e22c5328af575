"""Raw splits of any single-label text classification data -> accel's canonical ``DatasetDict``.

The canonical form: splits ``train``, ``validation`` and ``test``; columns ``TEXT`` (a string)
and ``LABEL`` (a ``ClassLabel`` over the sorted union of every split's label names; labels are
matched by name). A missing validation split is carved from train and the carve is recorded in
every split's ``info.description`` (read it back with :func:`validation_carve`).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from accel.artifacts.data import LABEL, TEXT, DataError

if TYPE_CHECKING:
    import datasets

SPLITS = ("train", "validation", "test")
CARVE_KEY = "validation_carved_from_train"
_STRING_TYPES = ("string", "large_string")
_INT_TYPES = tuple(f"{s}int{b}" for s in ("", "u") for b in (8, 16, 32, 64))


def _listed(values: Sequence[object], limit: int = 10) -> str:
    """A short, readable list: the first ``limit`` items, then how many more."""
    shown = ", ".join(repr(v) for v in values[:limit])
    return f"[{shown}{f', ... ({len(values) - limit} more)' if len(values) > limit else ''}]"


def check_split_names(names: Mapping[str, str], field_name: str) -> None:
    """Every key of ``names`` (a mapping keyed by split) is one of accel's splits."""
    unknown = sorted(set(names) - set(SPLITS))
    if unknown:
        raise DataError(
            f"{field_name}: unknown split(s) {unknown}; accel's splits are {list(SPLITS)} "
            "(map a source's 'dev' split as validation)."
        )


def check_columns(columns: Sequence[str], where: str, text_column: str, label_column: str) -> None:
    """Both columns are among ``columns``, else a :class:`DataError` listing those found."""
    missing = [c for c in (text_column, label_column) if c not in columns]
    if missing:
        raise DataError(
            f"{where}: no column {_listed(missing)} (text_column = {text_column!r}, "
            f"label_column = {label_column!r}); the columns found are {_listed(columns)}. "
            "Set text_column / label_column to them."
        )


def _texts(ds: datasets.Dataset, column: str, where: str) -> list[str]:
    feature = ds.features[column]
    dtype = getattr(feature, "dtype", type(feature).__name__)
    if dtype not in _STRING_TYPES:
        raise DataError(
            f"{where}: text column {column!r} holds {dtype}, not strings. Point text_column at "
            "the column of texts, or store the texts as strings."
        )
    texts: list[str] = ds[column]
    for i, text in enumerate(texts):
        if text is None:
            raise DataError(
                f"{where}: row {i + 1} has no text (column {column!r} is null). Give every row "
                "a text or drop the row."
            )
    return texts


def _labels(ds: datasets.Dataset, column: str, where: str) -> list[str]:
    """Label names: a ``ClassLabel``'s names, strings as they are, integers as ``str(int)``."""
    import datasets

    feature = ds.features[column]
    values: list[Any] = ds[column]
    names: Sequence[str] | None = None
    if isinstance(feature, datasets.ClassLabel):
        names = feature.names
    elif getattr(feature, "dtype", None) not in _STRING_TYPES + _INT_TYPES:
        dtype = getattr(feature, "dtype", type(feature).__name__)
        raise DataError(
            f"{where}: label column {column!r} holds {dtype}. Labels must be names (strings), "
            "integer ids or a datasets.ClassLabel; point label_column at the label column."
        )
    out = []
    for i, value in enumerate(values):
        if value is None or (names is not None and not 0 <= value < len(names)):
            raise DataError(
                f"{where}: row {i + 1} has no label (column {column!r} holds {value!r}). Give "
                "every row a label or drop the row."
            )
        out.append(names[value] if names is not None else str(value))
    return out


def _check_names(labels: Mapping[str, list[str]], where: Mapping[str, str]) -> None:
    """No empty label name, and no two names that differ only by surrounding whitespace."""
    for split, split_labels in labels.items():
        for i, name in enumerate(split_labels):
            if not name.strip():
                raise DataError(
                    f"{where[split]}: row {i + 1} has an empty label name {name!r}. Give every "
                    "row a non-blank label or drop the row."
                )
    variants: dict[str, set[str]] = defaultdict(set)
    for split_labels in labels.values():
        for name in set(split_labels):
            variants[name.strip()].add(name)
    clashes = sorted(sorted(names) for names in variants.values() if len(names) > 1)
    if clashes:
        sources = ", ".join(where[split] for split in labels)
        raise DataError(
            f"{sources}: label names that differ only by surrounding whitespace: "
            f"{_listed(clashes)}. They would be different classes; write each label the same "
            "way everywhere (strip the spaces)."
        )


def _check_seen(labels: Mapping[str, list[str]], where: Mapping[str, str]) -> None:
    """Every validation and test label occurs in train."""
    known = set(labels["train"])
    for split in ("validation", "test"):
        unseen = sorted(set(labels[split]) - known)
        if unseen:
            raise DataError(
                f"{where[split]}: {len(unseen)} {split} label(s) never seen in train "
                f"({where['train']}): {_listed(unseen)}. A model trained on train cannot "
                f"predict them: add train rows with these labels, or drop them from {split}."
            )


def _carve(
    labels: list[str], fraction: float, seed: int, where: str
) -> tuple[list[int], dict[str, Any]]:
    """Rows of train that become the validation split (in order), and the carve's record."""
    import datasets

    if not 0.0 < fraction < 1.0:
        raise DataError(
            f"{where}: there is no validation split, and validation_fraction = {fraction!r} "
            "cannot carve one from train: give a fraction between 0 and 1 (e.g. 0.1), or a "
            "validation split."
        )
    names = sorted(set(labels))
    index = {name: i for i, name in enumerate(names)}
    rows = datasets.Dataset.from_dict(
        {"row": list(range(len(labels))), LABEL: [index[n] for n in labels]},
        features=datasets.Features(
            {"row": datasets.Value("int64"), LABEL: datasets.ClassLabel(names=names)}
        ),
    )
    stratified = min(Counter(labels).values()) >= 2
    try:
        try:
            parts = rows.train_test_split(
                test_size=fraction, seed=seed, stratify_by_column=LABEL if stratified else None
            )
        except ValueError:  # too few rows for one of each class on both sides
            if not stratified:
                raise
            stratified = False
            parts = rows.train_test_split(test_size=fraction, seed=seed)
    except ValueError as exc:
        raise DataError(
            f"{where}: train ({len(labels)} rows) is too small to carve a validation split "
            f"of validation_fraction = {fraction}: {exc}. Give a validation split."
        ) from exc
    carved = sorted(parts["test"]["row"])
    record = {"fraction": fraction, "seed": seed, "stratified": stratified, "rows": len(carved)}
    return carved, record


def canonical(
    raw: Mapping[str, datasets.Dataset],
    where: Mapping[str, str],
    text_column: str,
    label_column: str,
    validation_fraction: float = 0.1,
    seed: int = 0,
) -> datasets.DatasetDict:
    """The canonical form of ``raw`` (``train`` and ``test``, ``validation`` optional).

    ``where`` names each split's source for the errors (a :class:`DataError` naming the
    source, the column, the offending value and the fix). Texts are kept exactly, rows in
    order; without a validation split, ``validation_fraction`` of train (stratified by label
    when every label has two rows or more) is carved with ``seed``.
    """
    import datasets

    texts: dict[str, list[str]] = {}
    labels: dict[str, list[str]] = {}
    for split, ds in raw.items():
        check_columns(ds.column_names, where[split], text_column, label_column)
        if len(ds) == 0:
            raise DataError(f"{where[split]}: the {split} split is empty; give it some rows.")
        texts[split] = _texts(ds, text_column, where[split])
        labels[split] = _labels(ds, label_column, where[split])
    _check_names(labels, where)
    description = ""
    if "validation" not in raw:
        carved, record = _carve(labels["train"], validation_fraction, seed, where["train"])
        chosen = set(carved)
        kept = [i for i in range(len(labels["train"])) if i not in chosen]
        for split, rows in (("validation", carved), ("train", kept)):
            texts[split] = [texts["train"][i] for i in rows]
            labels[split] = [labels["train"][i] for i in rows]
        where = {**where, "validation": f"the validation rows carved from {where['train']}"}
        description = json.dumps({CARVE_KEY: record})
    _check_seen(labels, where)
    names = sorted({name for split_labels in labels.values() for name in split_labels})
    index = {name: i for i, name in enumerate(names)}
    features = datasets.Features(
        {TEXT: datasets.Value("string"), LABEL: datasets.ClassLabel(names=names)}
    )
    return datasets.DatasetDict(
        {
            split: datasets.Dataset.from_dict(
                {TEXT: texts[split], LABEL: [index[n] for n in labels[split]]},
                features=features,
                info=datasets.DatasetInfo(description=description, features=features)
                if description
                else None,
            )
            for split in SPLITS
        }
    )


def validation_carve(data: datasets.DatasetDict) -> dict[str, Any] | None:
    """How the validation split was carved from train (``fraction``, ``seed``, ``stratified``,
    ``rows``), or None when the data had its own validation split."""
    description = data["validation"].info.description or ""
    try:
        record = json.loads(description)
    except json.JSONDecodeError:
        return None
    found = record.get(CARVE_KEY) if isinstance(record, dict) else None
    return dict(found) if isinstance(found, dict) else None
