"""Fashion200k (Han et al., ICCV 2017) as published, for text-to-product retrieval.

The release holds ``labels/<category>_<split>_detect_all.txt`` for the categories dress, jacket, pants, skirt and
top, one image a line: ``<image path>\\t<detection score>\\t<description>``, the path relative to the dataset folder
(``women/dresses/casual_and_day_dresses/51727804/51727804_0.jpeg``). The manifest has ``path``, ``product_id`` (the
folder above the image), ``caption`` (the description, whitespace collapsed), ``category`` and ``score``.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd
from clipzoo.core.domain import Converter
from clipzoo.core.errors import InputError
from clipzoo.core.files import write_csv

FASHION200K_CATEGORIES = ("dress", "jacket", "pants", "skirt", "top")
FASHION200K_SPLITS = ("train", "test")


def label_file(root: Path, category: str, split: str) -> Path:
    return root / "labels" / f"{category}_{split}_detect_all.txt"


def read_label_file(path: Path) -> list[tuple[str, float, str]]:
    """The (image path, detection score, description) lines of one ``*_detect_all.txt``."""
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        for n, fields in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if not fields or not "".join(fields).strip():
                continue
            if len(fields) < 3:
                raise InputError(f"line {n}: expected <path>\\t<score>\\t<description>, got {fields!r}", path)
            try:
                score = float(fields[1])
            except ValueError as err:
                raise InputError(f"line {n}: detection score {fields[1]!r} is not a number", path) from err
            rows.append((fields[0].strip(), score, " ".join("\t".join(fields[2:]).split())))
    return rows


def convert_fashion200k(
    root: str | Path,
    out: str | Path,
    split: str = "test",
    categories: list[str] | tuple[str, ...] = FASHION200K_CATEGORIES,
    skip_missing: bool = False,
) -> pd.DataFrame:
    """Write the manifest of one split's images over ``categories``; a missing image is an error unless
    ``skip_missing``."""
    if split not in FASHION200K_SPLITS:
        raise InputError(f"option split must be one of {list(FASHION200K_SPLITS)}, got {split!r}")
    unknown = sorted(set(categories) - set(FASHION200K_CATEGORIES))
    if unknown:
        raise InputError(f"unknown Fashion200k categories {unknown}; expected {list(FASHION200K_CATEGORIES)}")
    root, out = Path(root), Path(out)
    files = [label_file(root, c, split) for c in categories]
    if not any(f.is_file() for f in files):
        raise InputError(f"no labels/<category>_{split}_detect_all.txt: not a Fashion200k folder", root)
    rows, absent = [], []
    for category, file in zip(categories, files, strict=True):
        if not file.is_file():
            raise InputError(f"Fashion200k label file for {category!r} not found", file)
        for image, score, description in read_label_file(file):
            path = root / image
            if not description:
                raise InputError(f"{image}: empty description", file)
            if not path.is_file():
                absent.append(str(path))
                continue
            rel = os.path.relpath(path.resolve(), out.parent.resolve())
            rows.append((rel, Path(image).parent.name, description, category, score))
    if absent and not skip_missing:
        raise InputError(
            f"{len(absent)} image(s) named by the label files are missing, e.g. {absent[0]}; "
            "pass --option skip_missing=true to leave them out",
            root,
        )
    if not rows:
        raise InputError("no image of the label files was found", root)
    frame = pd.DataFrame(rows, columns=["path", "product_id", "caption", "category", "score"])
    write_csv(frame, out)
    return frame


def fashion200k(
    source: str,
    out: str,
    *,
    split: str = "test",
    categories: list[str] | None = None,
    skip_missing: bool = False,
) -> str:
    """Fashion200k: SOURCE holds labels/<category>_<split>_detect_all.txt and the images they name (women/...);
    OUT the manifest (.csv) with path, product_id, caption, category and score.

    Options: split ("test", the default, or "train"); categories (a list among dress, jacket, pants, skirt, top;
    default all five); skip_missing (true: leave out images not on disk; default false).
    """
    if isinstance(categories, str):
        categories = [categories]
    frame = convert_fashion200k(source, out, str(split), tuple(categories or FASHION200K_CATEGORIES), skip_missing)
    return f"wrote {out} ({len(frame)} images, {frame['product_id'].nunique()} products)"


BENCHMARK_CONVERTERS: tuple[Converter, ...] = (
    Converter("fashion200k", fashion200k, "Fashion200k: labels/<category>_<split>_detect_all.txt + women/ images"),
)
