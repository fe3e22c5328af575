"""``accel init``'s data: the ``[data]`` table from the command line's source, with the
columns detected (:mod:`accel.plugin.starter_detect`) and what was found, for the comments."""

from __future__ import annotations

import argparse
from pathlib import Path

from accel.artifacts.sources import DataSpec
from accel.plugin.starter_config import relative
from accel.plugin.starter_detect import Detected, InitError, Table, detect, read_file, read_hub


def data_spec(args: argparse.Namespace, folder: Path) -> tuple[DataSpec, Detected | None, str]:
    """The data's spec (paths relative to ``folder``), its detection, and where it was read."""
    files = {s: getattr(args, s) for s in ("train", "validation", "test") if getattr(args, s)}
    sources = [bool(files), bool(args.hub_id), bool(args.clinc)]
    if sum(sources) != 1:
        raise InitError(
            "name the data once: --train FILE --test FILE [--validation FILE], "
            "or --hub-id ID [--hub-config NAME], or --clinc PATH"
        )
    reject = args.reject_label
    if args.clinc:
        if not Path(args.clinc).is_file():
            raise InitError(f"--clinc {args.clinc}: no such file")
        spec = DataSpec(
            kind="clinc150", path=relative(Path(args.clinc), folder), reject_label=reject
        )
        return spec, None, f"CLINC150 {args.clinc}"
    given = (args.text_column, args.label_column)
    if files:
        missing = [s for s in ("train", "test") if s not in files]
        if missing:
            raise InitError(
                f"--{missing[0]} FILE is missing: accel trains on train and gates "
                "on test (validation is optional)"
            )
        table: Table | None = read_file(Path(files["train"]), args.format)
    else:
        table = None if all(given) else read_hub(args.hub_id, args.hub_config)
    found = detect(table, *given) if table is not None else None
    columns = (found.text_column, found.label_column) if found else given
    for split, name in files.items():
        if split != "train":
            other = read_file(Path(name), args.format, limit=5)
            lacking = [c for c in columns if c not in other.columns]
            if lacking:
                raise InitError(
                    f"{other.where}: no column {lacking[0]!r} (found in train); "
                    f"columns found: {list(other.columns)}"
                )
    if found and reject is not None and reject not in found.labels:
        raise InitError(
            f"--reject-label {reject!r} is not a label of {table.where if table else ''}"
            f"; its labels: {list(found.labels)[:20]}"
        )
    spec = DataSpec(
        kind="files" if files else "hub",
        files={s: relative(Path(p), folder) for s, p in files.items()},
        format=args.format,
        hub_id=args.hub_id,
        hub_config=args.hub_config,
        text_column=columns[0],
        label_column=columns[1],
        reject_label=reject,
    )
    return spec, found, table.where if table else f"hub dataset {args.hub_id!r}"


def data_notes(spec: DataSpec, found: Detected | None, where: str) -> list[str]:
    """What init found in the data: the [data] table's comments and the printed report."""
    if found is None:
        notes = [f"{where}: columns given on the command line (the data was not read)"]
        if spec.kind == "clinc150":
            notes = [f"{where}: text and intent columns, reject label 'oos' unless set"]
        return notes
    shown = ", ".join(found.labels[:10]) + (", ..." if len(found.labels) > 10 else "")
    notes = [
        f"Detected by accel init in {where}:",
        *found.reasons,
        f"{len(found.labels)} labels: {shown}",
    ]
    if spec.reject_label is not None:
        notes.append(f"reject label {spec.reject_label!r}: given (--reject-label)")
    elif found.reject_candidates:
        notes.append(
            f"{found.reject_candidates[0]!r} may be a reject (out-of-scope) class: "
            "accel init never sets reject_label by itself; pass --reject-label "
            f"{found.reject_candidates[0]} (or set reject_label) to gate in-scope "
            "accuracy and out-of-scope recall"
        )
    if spec.kind == "files" and "validation" not in spec.files:
        notes.append("No validation file: 10% of train is carved (validation_fraction, seed)")
    return notes
