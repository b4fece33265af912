"""Users' data into fashion manifests: captions from text + attribute columns, and the FashionIQ layout.

``clipzoo convert fashion captions products.csv train.csv --option text=title --option attributes='["category",
"colour"]'`` writes a manifest whose ``caption`` joins the text and the attributes.
``clipzoo convert fashion fashioniq ROOT OUT --option split=train`` reads FashionIQ
(``captions/cap.<category>.<split>.json``: ``[{"candidate", "target", "captions": [two texts]}]``,
``image_splits/split.<category>.<split>.json``: image names, ``images/<name>.{png,jpg,...}``) and writes
``OUT/<split>.csv`` (one product per image) and ``OUT/<split>.triplets.csv``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from clipzoo.core.data import Manifest
from clipzoo.core.domain import Converter
from clipzoo.core.errors import InputError

from .captions import attribute_caption
from .images import PRODUCT_SUFFIXES
from .triplets import ID_COLUMN, triplets_path_for

FASHIONIQ_CATEGORY_WORDS = {"dress": "dress", "shirt": "shirt", "toptee": "top or tee"}
_CAPTION_FILE = re.compile(r"^cap\.(?P<category>[^.]+)\.(?P<split>[^.]+)\.json$")


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


def caption_manifest(
    source: str | Path, out: str | Path, text_column: str | None = "title", attributes: Sequence[str] = ()
) -> Path:
    """Write ``out``: the rows of ``source`` with a ``caption`` from ``text_column`` and ``attributes``; paths
    are rewritten relative to ``out``'s folder. A row with neither text nor attributes is an ``InputError``."""
    manifest = Manifest.read(source, require_caption=False)
    frame = manifest.frame.copy()
    wanted = ([text_column] if text_column else []) + list(attributes)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise InputError(f"no column(s) {missing}; the manifest has {list(frame.columns)}", source)
    captions = []
    for row, rec in enumerate(frame.to_dict("records")):
        try:
            text = rec[text_column] if text_column else None
            captions.append(attribute_caption(text, {a: rec[a] for a in attributes}))
        except ValueError as err:
            raise InputError(f"row {row + 1}: {err}", source) from err
    out = Path(out)
    frame["path"] = [os.path.relpath(manifest.file(i), out.parent.resolve()) for i in range(len(frame))]
    frame["caption"] = captions
    return _write_csv(frame, out)


@dataclass
class FashionIQResult:
    manifest: Path
    triplets: Path
    products: int
    triplet_rows: int
    skipped_missing: int


def _find_image(images: Path, name: str) -> Path | None:
    for suffix in ("", *PRODUCT_SUFFIXES):
        candidate = images / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"not readable JSON: {err}", path) from err


def convert_fashioniq(
    root: str | Path, out_dir: str | Path, split: str = "train", skip_missing: bool = False
) -> FashionIQResult:
    """Convert one FashionIQ split (every category found) to a product manifest and a triplet file."""
    root, out_dir = Path(root), Path(out_dir)
    caption_files = sorted(p for p in (root / "captions").glob(f"cap.*.{split}.json") if _CAPTION_FILE.match(p.name))
    if not caption_files:
        raise InputError(f"no captions/cap.<category>.{split}.json files: not a FashionIQ folder", root)
    images = root / "images"
    products: dict[str, str] = {}  # image name -> category
    triplets: list[tuple[str, str, str]] = []
    for cap_file in caption_files:
        category = _CAPTION_FILE.match(cap_file.name)["category"]
        split_file = root / "image_splits" / f"split.{category}.{split}.json"
        names = _read_json(split_file) if split_file.is_file() else []
        for name in names:
            products.setdefault(str(name), category)
        entries = _read_json(cap_file)
        if not isinstance(entries, list):
            raise InputError("expected a JSON list of {candidate, target, captions}", cap_file)
        for i, entry in enumerate(entries):
            try:
                reference, target, texts = str(entry["candidate"]), str(entry["target"]), entry["captions"]
            except (KeyError, TypeError) as err:
                raise InputError(f"entry {i} lacks candidate/target/captions", cap_file) from err
            products.setdefault(reference, category)
            products.setdefault(target, category)
            # CLIP4Cir joins FashionIQ's two relative captions into one modification text.
            words = [str(t).strip(" .?,") for t in texts if str(t).strip(" .?,")]
            if not words:
                raise InputError(f"entry {i} has no caption text", cap_file)
            triplets.append((reference, " and ".join(words), target))

    out_dir.mkdir(parents=True, exist_ok=True)
    rows, missing = [], []
    for name, category in products.items():
        found = _find_image(images, name)
        if found is None:
            missing.append(name)
            continue
        word = FASHIONIQ_CATEGORY_WORDS.get(category, category)
        rows.append((os.path.relpath(found.resolve(), out_dir.resolve()), name, word, category))
    if missing and not skip_missing:
        raise InputError(
            f"{len(missing)} image(s) named by the split are missing, e.g. {missing[:3]}; "
            "pass --option skip_missing=true to leave them and their triplets out",
            images,
        )
    absent = set(missing)
    kept = [t for t in triplets if t[0] not in absent and t[2] not in absent]
    if not rows:
        raise InputError("no product images found: the catalogue would be empty", images)
    manifest = _write_csv(
        pd.DataFrame(rows, columns=["path", ID_COLUMN, "caption", "category"]), out_dir / f"{split}.csv"
    )
    triplet_file = _write_csv(
        pd.DataFrame(kept, columns=["reference", "modification", "target"]), triplets_path_for(manifest)
    )
    return FashionIQResult(manifest, triplet_file, len(rows), len(kept), len(triplets) - len(kept))


def captions(source: str, out: str, *, text: str | None = "title", attributes: Sequence[str] = ()) -> str:
    """Product table: SOURCE is a manifest (CSV, JSONL or Parquet with a path column) whose caption is built from a
    text column and attribute columns; OUT the manifest (.csv), paths rewritten relative to its folder.

    Options: text (the title/description column, default "title"; "" or null for none); attributes (a list of
    columns appended as "name: value", e.g. ["colour", "material"]; default none).
    """
    if isinstance(attributes, str):
        attributes = [attributes]
    if not isinstance(attributes, list | tuple) or not all(isinstance(a, str) for a in attributes):
        raise InputError(f'option attributes must be a list of column names, e.g. ["colour"], got {attributes!r}')
    if text is not None and not isinstance(text, str):
        raise InputError(f"option text must be a column name, got {text!r}")
    return str(caption_manifest(source, out, text or None, list(attributes)))


def fashioniq(source: str, out: str, *, split: str = "train", skip_missing: bool = False) -> str:
    """FashionIQ: SOURCE holds captions/cap.<category>.<split>.json, image_splits/split.<category>.<split>.json and
    images/; OUT a folder that gets <split>.csv (one product per image) and <split>.triplets.csv.

    Options: split (default "train"); skip_missing (true: leave out images not on disk and their triplets; default
    false).
    """
    res = convert_fashioniq(source, out, str(split), skip_missing)
    skipped = f" ({res.skipped_missing} skipped: missing images)" if res.skipped_missing else ""
    return f"{res.manifest}: {res.products} products; {res.triplets}: {res.triplet_rows} triplets{skipped}"


CONVERTERS: dict[str, Converter] = {
    c.name: c
    for c in (
        Converter("captions", captions, "product table: captions from a text column and attribute columns"),
        Converter("fashioniq", fashioniq, "FashionIQ: captions/, image_splits/, images/ -> products + triplets"),
    )
}
