"""Turn public pathology layouts into clipzoo manifests (path, caption[, tissue]):

    clipzoo convert pathology crc100k NCT-CRC-HE-100K/ train.csv [--option keep_all=true]
    clipzoo convert pathology captions quilt_1M_lookup.csv train.csv --option images_root=quilt_1m/

``crc100k``: Kather et al.'s class folders (ADI, BACK, DEB, LYM, MUC, MUS, NORM, STR, TUM) of 224 px tiles at
0.5 um/px; the class name becomes the caption and, for the six classes the "tissue" prompt pack covers, the
``tissue`` label (other classes are left out unless ``keep_all``; the folder code is kept in ``crc_class``).
``captions``: a Quilt-1M / ARCH-style table (CSV, JSON records or JSONL) with an image column and a caption column.
Paths are written relative to the manifest's folder when they lie under it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from clipzoo.core.domain import Converter
from clipzoo.core.errors import InputError

from .tiles import TILE_SUFFIXES

# folder code -> (caption, tissue label of the "tissue" prompt pack or None)
CRC100K_CLASSES: dict[str, tuple[str, str | None]] = {
    "ADI": ("adipose tissue", "adipose"),
    "BACK": ("background", None),
    "DEB": ("debris and necrosis", "necrosis"),
    "LYM": ("lymphocytes", "lymphocytes"),
    "MUC": ("mucus", None),
    "MUS": ("smooth muscle", None),
    "NORM": ("normal colon mucosa", "mucosa"),
    "STR": ("cancer-associated stroma", "stroma"),
    "TUM": ("colorectal adenocarcinoma epithelium", "tumour"),
}


def _relative(path: Path, base: Path) -> str:
    path, base = path.resolve(), base.resolve()
    return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)


def _write(frame: pd.DataFrame, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, out)
    return out


def convert_crc100k(root: str | Path, out: str | Path, keep_all: bool = False) -> Path:
    """A manifest of every tile under ``root/<CLASS>/``; unknown folder names are an error naming them."""
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise InputError("CRC-100K root folder not found", root)
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    unknown = [p.name for p in folders if p.name.upper() not in CRC100K_CLASSES]
    if unknown:
        raise InputError(f"unknown CRC-100K class folder(s) {unknown}; expected {sorted(CRC100K_CLASSES)}", root)
    rows = []
    for folder in folders:
        caption, tissue = CRC100K_CLASSES[folder.name.upper()]
        if tissue is None and not keep_all:
            continue
        for tile in sorted(folder.iterdir()):
            if tile.suffix.lower() in TILE_SUFFIXES:
                rows.append((_relative(tile, out.parent), caption, tissue or caption, folder.name.upper()))
    if not rows:
        raise InputError("no tiles found in the class folders", root)
    return _write(pd.DataFrame(rows, columns=["path", "caption", "tissue", "crc_class"]), out)


def _read_table(path: Path) -> pd.DataFrame:
    readers = {".csv": pd.read_csv, ".json": pd.read_json, ".jsonl": lambda p: pd.read_json(p, lines=True)}
    if path.suffix.lower() not in readers:
        raise InputError(f"unsupported caption table {path.suffix!r}; use .csv, .json or .jsonl", path)
    try:
        return readers[path.suffix.lower()](path)
    except Exception as err:
        raise InputError(f"cannot parse caption table: {err}", path) from err


def convert_captions(
    table: str | Path,
    out: str | Path,
    images_root: str | Path | None = None,
    image_column: str = "image_path",
    caption_column: str = "caption",
) -> tuple[Path, int]:
    """A manifest from an image + caption table; rows whose image is missing or caption empty are left out.
    Returns the manifest and how many rows were left out."""
    table, out = Path(table), Path(out)
    if not table.is_file():
        raise InputError("caption table not found", table)
    frame = _read_table(table)
    missing = [c for c in (image_column, caption_column) if c not in frame.columns]
    if missing:
        raise InputError(f"caption table lacks column(s) {missing}; it has {list(frame.columns)}", table)
    base = Path(images_root) if images_root else table.parent
    rows, dropped = [], 0
    for image, caption in zip(frame[image_column], frame[caption_column], strict=True):
        path = Path(str(image))
        path = path if path.is_absolute() else base / path
        text = "" if pd.isna(caption) else " ".join(str(caption).split())
        if not text or not path.is_file() or path.suffix.lower() not in TILE_SUFFIXES:
            dropped += 1
            continue
        rows.append((_relative(path, out.parent), text))
    if not rows:
        raise InputError(f"none of the {len(frame)} rows has an existing tile image and a caption", table)
    return _write(pd.DataFrame(rows, columns=["path", "caption"]), out), dropped


def crc100k(source: str, out: str, *, keep_all: bool = False) -> str:
    """CRC-100K (NCT-CRC-HE-100K): SOURCE holds the class folders ADI, BACK, DEB, LYM, MUC, MUS, NORM, STR, TUM of
    224 px tiles; OUT the manifest (.csv) with path, caption, tissue and crc_class.

    Options: keep_all (true: keep BACK, MUC and MUS, whose labels the "tissue" prompt pack lacks; default false).
    """
    written = convert_crc100k(source, out, keep_all=keep_all)
    return f"wrote {written} ({len(pd.read_csv(written))} tiles)"


def captions(
    source: str,
    out: str,
    *,
    images_root: str | None = None,
    image_column: str = "image_path",
    caption_column: str = "caption",
) -> str:
    """Quilt-1M / ARCH-style caption table: SOURCE is a CSV, JSON records or JSONL file with an image column and a
    caption column; OUT the manifest (.csv). Rows whose image is missing or caption empty are left out.

    Options: images_root (folder the image paths are relative to; default SOURCE's folder); image_column (default
    "image_path"); caption_column (default "caption").
    """
    written, dropped = convert_captions(source, out, images_root, str(image_column), str(caption_column))
    return f"wrote {written} ({len(pd.read_csv(written))} rows; {dropped} left out: missing image or caption)"


CONVERTERS: dict[str, Converter] = {
    c.name: c
    for c in (
        Converter("crc100k", crc100k, "CRC-100K: class folders (ADI, LYM, TUM, ...) of H&E tiles"),
        Converter("captions", captions, "Quilt-1M / ARCH-style table of image paths and captions (CSV, JSON, JSONL)"),
    )
}
