"""Composed-retrieval triplets: (reference product, modification text, target product), as a CSV/JSONL file.

Columns ``reference``, ``modification``, ``target``; the two ids name products of a manifest's ``product_id``
column. A held-out manifest ``heldout.csv`` finds its triplets in ``heldout.triplets.csv`` beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from clipzoo.core.data import Manifest
from clipzoo.core.errors import InputError

ID_COLUMN = "product_id"
TRIPLET_COLUMNS = ("reference", "modification", "target")
TRIPLET_SUFFIX = ".triplets.csv"


@dataclass
class Triplets:
    """Triplets resolved to row numbers of a manifest."""

    reference: list[int]
    modification: list[str]
    target: list[int]
    source: Path

    def __len__(self) -> int:
        return len(self.target)


def triplets_path_for(manifest_path: str | Path) -> Path:
    """Where a manifest's triplet file lives by convention: ``<stem>.triplets.csv`` beside it."""
    path = Path(manifest_path)
    return path.with_name(path.stem + TRIPLET_SUFFIX)


def product_rows(manifest: Manifest) -> dict[str, int]:
    """Row number of every product id; a missing column or a duplicated id is an ``InputError``."""
    if ID_COLUMN not in manifest.frame.columns:
        raise InputError(f"manifest has no {ID_COLUMN!r} column; composed retrieval needs product ids", manifest.source)
    ids = manifest.frame[ID_COLUMN].astype(str)
    dupes = sorted(set(ids[ids.duplicated()]))
    if dupes:
        raise InputError(f"duplicated product ids {dupes[:5]}", manifest.source)
    return {pid: row for row, pid in enumerate(ids)}


def read_triplets(path: str | Path, manifest: Manifest) -> Triplets:
    """Read a triplet file and resolve its ids against ``manifest``; any unknown id is an ``InputError``."""
    path = Path(path)
    if not path.is_file():
        raise InputError("triplet file not found", path)
    try:
        frame = pd.read_json(path, lines=True) if path.suffix == ".jsonl" else pd.read_csv(path, dtype=str)
    except Exception as err:
        raise InputError(f"cannot parse triplet file: {err}", path) from err
    missing = [c for c in TRIPLET_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"triplet file lacks column(s) {missing}; it has {list(frame.columns)}", path)
    if frame.empty:
        raise InputError("triplet file has no rows", path)
    rows = product_rows(manifest)
    for line, rec in enumerate(frame.to_dict("records"), start=2):
        for col in ("reference", "target"):
            if str(rec[col]) not in rows:
                raise InputError(f"line {line}: {col} product {rec[col]!r} is not in manifest {manifest.source}", path)
        if not str(rec["modification"]).strip() or pd.isna(rec["modification"]):
            raise InputError(f"line {line}: empty modification text", path)
    return Triplets(
        reference=[rows[str(v)] for v in frame["reference"]],
        modification=[str(v) for v in frame["modification"]],
        target=[rows[str(v)] for v in frame["target"]],
        source=path,
    )
