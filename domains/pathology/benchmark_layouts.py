"""Standard pathology benchmarks as published: CRC-100K's test split with its 9 classes, and slide-level subtyping
from a folder of whole slides plus a labels CSV (TCGA NSCLC / RCC as MI-Zero and CONCH use them).

``crc-val-he-7k``: Kather et al.'s test split, ``CRC-VAL-HE-7K/<CLASS>/<CLASS>-<ID>.tif`` (SOURCE may be the split
folder or the folder holding it); all 9 classes, through the ``crc100k`` converter with ``keep_all``.

``slides``: MI-Zero's ``src/data_csvs/tcga_rcc_zeroshot_example.csv`` layout (``slide_id`` without extension,
``case_id``, ``project_id``, ``Diagnosis``, ``OncoTreeCode``, ``level0_mag``) and the slides as TCGA ships them,
``<slide_id>.svs`` anywhere under the slides folder. One manifest row per slide: ``path``, ``slide_id`` and
``diagnosis`` (the label column's value), the columns the pathology slide evaluation reads.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from clipzoo.core.domain import Converter
from clipzoo.core.errors import InputError
from clipzoo.core.files import read_table, write_csv

from .convert import convert_crc100k
from .slide import SLIDE_SUFFIXES

CRC_TEST_FOLDER = "CRC-VAL-HE-7K"


def slide_files(folder: Path) -> dict[str, Path]:
    """Every whole slide under ``folder`` by its name without extension (TCGA's ``slide_id``)."""
    found: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in SLIDE_SUFFIXES and path.is_file():
            found.setdefault(path.stem, path)
    return found


def convert_slides(
    root: str | Path,
    out: str | Path,
    labels: str = "labels.csv",
    label_column: str = "OncoTreeCode",
    slides: str = ".",
    classes: list[str] | None = None,
    skip_missing: bool = False,
) -> pd.DataFrame:
    """Write the slide manifest (``path``, ``slide_id``, ``diagnosis``) for the labels CSV's slides."""
    root, out = Path(root), Path(out)
    table = root / labels
    frame = read_table(table, "slide labels CSV")
    missing = [c for c in ("slide_id", label_column) if c not in frame.columns]
    if missing:
        raise InputError(f"slide labels CSV lacks column(s) {missing}; it has {list(frame.columns)}", table)
    if classes:
        frame = frame[frame[label_column].astype(str).isin([str(c) for c in classes])]
    folder = root / slides
    if not folder.is_dir():
        raise InputError("slides folder not found", folder)
    found = slide_files(folder)
    rows, absent = [], []
    for slide_id, label in zip(frame["slide_id"].astype(str), frame[label_column].astype(str), strict=True):
        key = Path(slide_id).stem if Path(slide_id).suffix.lower() in SLIDE_SUFFIXES else slide_id
        path = found.get(key)
        if path is None:
            absent.append(slide_id)
            continue
        rows.append((os.path.relpath(path.resolve(), out.parent.resolve()), key, label))
    if absent and not skip_missing:
        raise InputError(f"{len(absent)} slide(s) of the labels CSV are not under {folder}, e.g. {absent[:3]}", table)
    if not rows:
        raise InputError(f"no slide of the labels CSV found under {folder}", table)
    manifest = pd.DataFrame(rows, columns=["path", "slide_id", "diagnosis"])
    write_csv(manifest, out)
    return manifest


def crc_val_he_7k(source: str, out: str) -> str:
    """CRC-100K's test split: SOURCE is CRC-VAL-HE-7K/ (class folders ADI ... TUM of .tif tiles) or the folder
    holding it; OUT the manifest (.csv) with path, caption, tissue and crc_class, all 9 classes kept."""

    root = Path(source)
    root = root / CRC_TEST_FOLDER if (root / CRC_TEST_FOLDER).is_dir() else root
    written = convert_crc100k(root, out, keep_all=True)
    return f"wrote {written} ({len(pd.read_csv(written))} tiles)"


def slides(
    source: str,
    out: str,
    *,
    labels: str = "labels.csv",
    label_column: str = "OncoTreeCode",
    slides: str = ".",
    classes: list[str] | None = None,
    skip_missing: bool = False,
) -> str:
    """Whole slides + labels CSV (TCGA NSCLC/RCC as MI-Zero and CONCH ship them): SOURCE holds the labels CSV
    (slide_id without extension, a label column) and the slides (<slide_id>.svs, any depth); OUT the manifest
    (.csv) with path, slide_id and diagnosis.

    Options: labels (the CSV under SOURCE, default "labels.csv"); label_column (default "OncoTreeCode"); slides
    (the slides folder under SOURCE, default SOURCE itself); classes (keep only these labels, e.g. ["LUAD",
    "LUSC"]; default all); skip_missing (true: leave out slides not on disk; default false).
    """
    if isinstance(classes, str):
        classes = [classes]
    manifest = convert_slides(source, out, str(labels), str(label_column), str(slides), classes, skip_missing)
    return f"wrote {out} ({len(manifest)} slides: {manifest['diagnosis'].value_counts().to_dict()})"


BENCHMARK_CONVERTERS: tuple[Converter, ...] = (
    Converter("crc-val-he-7k", crc_val_he_7k, "CRC-100K test split CRC-VAL-HE-7K/<CLASS>/*.tif, all 9 classes"),
    Converter("slides", slides, "whole slides (<slide_id>.svs) + labels CSV (slide_id, OncoTreeCode), MI-Zero style"),
)
