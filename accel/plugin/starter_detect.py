"""``accel init``'s data side: read the first rows of a data source and detect its text and
label columns, its labels and a likely reject class (:mod:`accel.plugin.starter` uses it).

Files are read as accel reads them (:mod:`accel.artifacts.readers`): CSV and TSV fields as the
strings written, JSON Lines and Parquet values as typed, the format from the extension.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accel.artifacts import readers
from accel.artifacts.data import DataError

TEXT_NAMES = ("text", "sentence", "utterance", "query", "content")
LABEL_NAMES = ("label", "labels", "intent", "category", "class", "target")
REJECT_NAMES = ("oos", "out_of_scope", "other", "none")
SAMPLE_ROWS = 100_000  # rows read for detection; larger files are judged on their first rows
_INTEGER = re.compile(r"-?\d+")


class InitError(Exception):
    """``accel init`` cannot go on; the message names the file or value and the fix."""


@dataclass(frozen=True)
class Table:
    """The first rows of one split: column -> values, and where they came from."""

    columns: Mapping[str, Sequence[Any]]
    where: str

    @property
    def rows(self) -> int:
        return len(next(iter(self.columns.values()), ()))


@dataclass(frozen=True)
class Detected:
    """The text and label columns, why they were chosen, and the labels found."""

    text_column: str
    label_column: str
    reasons: tuple[str, ...]
    labels: tuple[str, ...]
    reject_candidates: tuple[str, ...]


def file_format(path: Path, fmt: str | None) -> str:
    """``fmt``, else the format of ``path``'s extension (as ``readers.file_format``)."""
    try:
        return readers.file_format(path, fmt, "train")
    except DataError as exc:
        raise InitError(f"{exc} (accel init: or pass --format)") from None


def read_file(path: Path, fmt: str | None, limit: int = SAMPLE_ROWS) -> Table:
    """The first ``limit`` rows of a data file."""
    import pandas as pd

    if not path.is_file():
        raise InitError(f"file {path} does not exist")
    found = file_format(path, fmt)
    try:
        if found in ("csv", "tsv"):
            frame = pd.read_csv(
                path,
                sep="\t" if found == "tsv" else ",",
                dtype=str,
                keep_default_na=False,
                nrows=limit,
                encoding="utf-8",
            )
            columns: dict[str, list[Any]] = frame.to_dict(orient="list")
        elif found == "json":
            frame = pd.read_json(path, lines=True, nrows=limit, dtype=False)
            columns = frame.to_dict(orient="list")
        else:
            import pyarrow.parquet as pq

            batch = next(pq.ParquetFile(path).iter_batches(batch_size=limit), None)
            columns = batch.to_pydict() if batch is not None else {}
    except (ValueError, UnicodeDecodeError, OSError, pd.errors.ParserError) as exc:
        raise InitError(
            f"file {path}: could not be read as {found}: {type(exc).__name__}: {exc}. "
            "Check the file (UTF-8, a header row for CSV/TSV) or pass --format."
        ) from None
    table = Table({str(k): v for k, v in columns.items()}, f"file {path}")
    if not table.columns or table.rows == 0:
        raise InitError(f"file {path}: no rows (columns found: {list(table.columns)})")
    return table


def read_hub(hub_id: str, hub_config: str | None, limit: int = SAMPLE_ROWS) -> Table:
    """The first ``limit`` rows of a hub dataset's train split (ClassLabel values as names)."""
    import datasets

    where = f"hub dataset {hub_id!r}" + (f" (config {hub_config!r})" if hub_config else "")
    try:
        train = datasets.load_dataset(hub_id, hub_config, split="train")
    except Exception as exc:  # offline, unknown id: the same advice
        raise InitError(
            f"could not load the train split of the {where}: {type(exc).__name__}: {exc}. "
            "Run where the hub is reachable, or save the splits as files (--train/--test)."
        ) from None
    sample = train.select(range(min(limit, len(train))))
    columns = sample.to_dict()
    for name, feature in sample.features.items():
        if isinstance(feature, datasets.ClassLabel):
            columns[name] = [feature.int2str(v) for v in columns[name]]
    return Table(columns, f"the train split of the {where}")


def _is_int(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and _INTEGER.fullmatch(value.strip()) is not None
    )


def _label_like(values: Sequence[Any]) -> bool:
    return all(isinstance(v, str) or _is_int(v) for v in values)


def _text_like(values: Sequence[Any]) -> bool:
    return all(isinstance(v, str) for v in values) and not all(_is_int(v) for v in values)


def _named(table: Table, names: Sequence[str], what: str, flag: str) -> str | None:
    found = [c for c in table.columns if c.lower() in names]
    if len(found) > 1:
        raise InitError(
            f"{table.where}: ambiguous {what} column: {found} are all named like one "
            f"(columns found: {list(table.columns)}); pass {flag} NAME"
        )
    return found[0] if found else None


def _given(table: Table, column: str, flag: str) -> str:
    if column not in table.columns:
        raise InitError(
            f"{table.where}: no column {column!r} ({flag}); columns found: {list(table.columns)}"
        )
    return column


def _pick_label(table: Table, text: str | None) -> tuple[str, str]:
    named = _named(table, LABEL_NAMES, "label", "--label-column")
    if named is not None and named != text:
        return named, f"label column {named!r}: named like a label column"
    rows = table.rows
    ranked = sorted(
        (len({str(v) for v in values}), name)
        for name, values in table.columns.items()
        if name != text and _label_like(values) and 2 <= len({str(v) for v in values}) < rows
    )
    if not ranked:
        raise InitError(
            f"{table.where}: no column looks like a label column (strings or integers with "
            f"fewer distinct values than rows); columns found: {list(table.columns)}; "
            "pass --label-column NAME"
        )
    if len(ranked) > 1 and ranked[0][0] == ranked[1][0]:
        raise InitError(
            f"{table.where}: ambiguous label column: {ranked[0][1]!r} and {ranked[1][1]!r} "
            f"both have {ranked[0][0]} distinct values in {rows} rows (columns found: "
            f"{list(table.columns)}); pass --label-column NAME"
        )
    distinct, name = ranked[0]
    return name, (
        f"label column {name!r}: {distinct} distinct values in {rows} rows, the fewest "
        f"relative to rows of the candidate columns {[n for _, n in ranked]}"
    )


def _pick_text(table: Table, label: str) -> tuple[str, str]:
    named = _named(table, TEXT_NAMES, "text", "--text-column")
    if named is not None and named != label:
        return named, f"text column {named!r}: named like a text column"
    ranked = sorted(
        (
            (sum(len(v) for v in values) / len(values), name)
            for name, values in table.columns.items()
            if name != label and _text_like(values)
        ),
        reverse=True,
    )
    if not ranked:
        raise InitError(
            f"{table.where}: no string column besides the label column {label!r} to use as "
            f"text; columns found: {list(table.columns)}; pass --text-column NAME"
        )
    if len(ranked) > 1 and ranked[1][0] >= 0.9 * ranked[0][0]:
        raise InitError(
            f"{table.where}: ambiguous text column: {ranked[0][1]!r} and {ranked[1][1]!r} have "
            f"a similar mean length ({ranked[0][0]:.1f} and {ranked[1][0]:.1f} characters; "
            f"columns found: {list(table.columns)}); pass --text-column NAME"
        )
    length, name = ranked[0]
    return name, (
        f"text column {name!r}: the longest mean length ({length:.1f} characters) of the "
        f"string columns {[n for _, n in ranked]}"
    )


def detect(table: Table, text_column: str | None, label_column: str | None) -> Detected:
    """The text and label columns of ``table`` (given ones checked, others detected), with
    the reasons, the labels and the labels that look like a reject class."""
    reasons = []
    if text_column is not None:
        text: str | None = _given(table, text_column, "--text-column")
        reasons.append(f"text column {text!r}: given (--text-column)")
    else:
        text = _named(table, TEXT_NAMES, "text", "--text-column")
    if label_column is not None:
        label = _given(table, label_column, "--label-column")
        reasons.append(f"label column {label!r}: given (--label-column)")
    else:
        label, why = _pick_label(table, text)
        reasons.append(why)
    if text is None or text == label:
        text, why = _pick_text(table, label)
        reasons.append(why)
    elif text_column is None:
        reasons.append(f"text column {text!r}: named like a text column")
    if text == label:
        raise InitError(f"{table.where}: the text and label columns are both {text!r}")
    labels = tuple(sorted({str(v) for v in table.columns[label]}))
    rejects = tuple(n for n in labels if n.strip().lower() in REJECT_NAMES)
    return Detected(text, label, tuple(reasons), labels, rejects)
