"""Local data files (CSV, TSV, JSON Lines, Parquet) as raw splits, read as they are written."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accel.artifacts.canonical import SPLITS, check_columns, check_split_names
from accel.artifacts.data import DataError

if TYPE_CHECKING:
    import datasets

FORMATS: tuple[str, ...] = ("csv", "tsv", "json", "parquet")
# A file's format from its extension (when DataSpec.format is not set).
EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "json",
    ".json": "json",
    ".parquet": "parquet",
}


def file_format(path: Path, fmt: str | None, split: str) -> str:
    """``fmt`` (checked), else the format of ``path``'s extension; ``split`` names the file's
    key (``files.<split>``) in the error."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise DataError(f"format = {fmt!r} is not a known format; valid formats: {FORMATS}.")
        return fmt
    found = EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise DataError(
            f"file {path} (files.{split}): unknown extension {path.suffix!r}; valid "
            f"extensions: {sorted(EXTENSIONS)}. Rename the file or set format to one of "
            f"{FORMATS}."
        )
    return found


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
    while (inner := exc.__cause__ or exc.__context__) is not None:
        exc = inner
    return exc


def _read_file(path: Path, fmt: str, split: str, columns: list[str]) -> datasets.Dataset:
    """One split from one file, texts and labels as they are written."""
    import datasets
    import pandas as pd

    kwargs: dict[str, Any] = {}
    if fmt in ("csv", "tsv"):
        sep = "\t" if fmt == "tsv" else ","
        try:
            header = list(pd.read_csv(path, sep=sep, nrows=0, keep_default_na=False).columns)
        except pd.errors.EmptyDataError as exc:
            raise DataError(f"file {path} (files.{split}) is empty; give it a header row.") from exc
        except (ValueError, pd.errors.ParserError) as exc:
            raise DataError(f"file {path} (files.{split}): not a valid {fmt}: {exc}") from exc
        check_columns(header, f"file {path} (files.{split})", *columns)
        # Every field read as the string it is ("NA", "null", "007" included).
        kwargs = {
            "delimiter": sep,
            "keep_default_na": False,
            "usecols": columns,
            "features": datasets.Features({c: datasets.Value("string") for c in columns}),
        }
    builder = "csv" if fmt == "tsv" else fmt
    try:
        loaded = datasets.load_dataset(
            builder, data_files={split: str(path)}, split=split, **kwargs
        )
    except Exception as exc:  # datasets wraps the reader's error in its own
        cause = _root(exc)
        if "corresponds to no data" in str(cause):  # datasets' word for a file without rows
            raise DataError(
                f"file {path} (files.{split}): the {split} split is empty; give it some rows."
            ) from exc
        raise DataError(
            f"file {path} (files.{split}): could not be read as {fmt}: "
            f"{type(cause).__name__}: {cause}. Check the file's {fmt} syntax, or set format."
        ) from exc
    assert isinstance(loaded, datasets.Dataset)
    return loaded


def read_files(
    files: Mapping[str, str], fmt: str | None, text_column: str, label_column: str
) -> tuple[dict[str, datasets.Dataset], dict[str, str]]:
    """The raw splits of ``files`` (split -> path) in ``fmt`` (default: each file's
    extension), and a description of each split's source for the errors."""
    check_split_names(files, "files")
    for split in ("train", "test"):
        if split not in files:
            raise DataError(
                f"files has no {split!r} entry (it has {sorted(files)}): accel trains on "
                f'train and gates on test; add files.{split} = "path/to/{split}.csv".'
            )
    raw, where = {}, {}
    for split in SPLITS:
        if split not in files:
            continue
        path = Path(files[split])
        if not path.is_file():
            raise DataError(
                f"file {path} (files.{split}) does not exist. Fix the path in files.{split}."
            )
        found = file_format(path, fmt, split)
        if found != "parquet":
            _check_utf8(path, split)
        raw[split] = _read_file(path, found, split, [text_column, label_column])
        where[split] = f"file {path} (files.{split})"
    return raw, where
