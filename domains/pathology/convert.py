"""Turn public pathology layouts into clipzoo manifests (path, caption[, tissue]):

    python -m clipzoo.domains.pathology.convert crc100k NCT-CRC-HE-100K/ train.csv
    python -m clipzoo.domains.pathology.convert captions quilt_1M_lookup.csv train.csv --images-root quilt_1m/

``crc100k``: Kather et al.'s class folders (ADI, BACK, DEB, LYM, MUC, MUS, NORM, STR, TUM) of 224 px tiles at
0.5 um/px; the class name becomes the caption and, for the six classes the "tissue" prompt pack covers, the
``tissue`` label (other classes are left out unless ``--keep-all``; the folder code is kept in ``crc_class``).
``captions``: a Quilt-1M / ARCH-style table (CSV, JSON records or JSONL) with an image column and a caption column.
Paths are written relative to the manifest's folder when they lie under it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from clipzoo.core.errors import InputError, exit_code_for_input_errors

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clipzoo.domains.pathology.convert", description=__doc__)
    sub = parser.add_subparsers(dest="layout", required=True)
    crc = sub.add_parser("crc100k", help="CRC-100K class folders")
    crc.add_argument("root")
    crc.add_argument("out")
    crc.add_argument("--keep-all", action="store_true", help="keep BACK, MUC, MUS (labels outside the tissue pack)")
    cap = sub.add_parser("captions", help="Quilt/ARCH-style image + caption table")
    cap.add_argument("table")
    cap.add_argument("out")
    cap.add_argument("--images-root", default=None)
    cap.add_argument("--image-column", default="image_path")
    cap.add_argument("--caption-column", default="caption")
    args = parser.parse_args(argv)

    def run() -> int:
        if args.layout == "crc100k":
            out = convert_crc100k(args.root, args.out, keep_all=args.keep_all)
            print(f"wrote {out} ({len(pd.read_csv(out))} tiles)")
        else:
            out, dropped = convert_captions(
                args.table, args.out, args.images_root, args.image_column, args.caption_column
            )
            print(f"wrote {out} ({len(pd.read_csv(out))} rows; {dropped} left out: missing image or caption)")
        return 0

    return exit_code_for_input_errors(run)


if __name__ == "__main__":
    sys.exit(main())
