"""The fashion demo catalogue: synthetic product shots in JPEG, PNG and WebP, captions, attributes and triplets.

Products come in families of three sharing one silhouette: a base product, a recoloured copy and a copy with another
pattern. Every ordered pair inside a family is a composed-retrieval triplet ("same but in blue", "with stripes").
Prompts in ``prompts.json`` speak of photos, shots and catalogue images; captions never do.
"""

from __future__ import annotations

import os
from itertools import permutations
from pathlib import Path

import numpy as np
import pandas as pd
from clipzoo.core.files import demo_is_current, mark_demo_complete, package_json

from .captions import modification_text, natural_caption, product_title
from .garments import CATEGORIES, COLOURS, PATTERNS, random_geometry, render_garment
from .triplets import triplets_path_for

FORMAT_VERSION = 1
FAMILY = 3
FORMATS = (("jpg", {"quality": 92}), ("png", {}), ("webp", {"quality": 90}))
MANIFEST_COLUMNS = ("product_id", "path", "title", "caption", "category", "colour", "pattern", "family")


def _family(rng: np.random.Generator, category: str) -> list[dict[str, str]]:
    colours, patterns = list(COLOURS), list(PATTERNS)
    c0, c1 = rng.choice(colours, size=2, replace=False)
    p0, p2 = rng.choice(patterns, size=2, replace=False)
    return [
        {"category": category, "colour": str(c0), "pattern": str(p0)},
        {"category": category, "colour": str(c1), "pattern": str(p0)},
        {"category": category, "colour": str(c0), "pattern": str(p2)},
    ]


def _write_split(root: Path, name: str, first_id: int, n_families: int, rng: np.random.Generator) -> tuple[Path, Path]:
    """Render ``n_families`` families; write ``<name>.csv`` and ``<name>.triplets.csv`` atomically."""
    categories = np.resize(np.arange(len(CATEGORIES)), n_families)
    rng.shuffle(categories)
    rows, triplets = [], []
    pid = first_id
    for fam, cat_index in enumerate(categories):
        category = CATEGORIES[int(cat_index)]
        geometry = random_geometry(category, rng)
        members = _family(rng, category)
        ids = []
        for attrs in members:
            ext, options = FORMATS[pid % len(FORMATS)]
            product_id = f"FP{pid:06d}"
            rel = f"images/{product_id}.{ext}"
            render_garment(category, attrs["colour"], attrs["pattern"], geometry, rng).save(root / rel, **options)
            title = product_title(category, rng)
            caption = natural_caption(title, category, attrs["colour"], attrs["pattern"], rng)
            rows.append((product_id, rel, title, caption, category, attrs["colour"], attrs["pattern"], f"{name}-{fam}"))
            ids.append(product_id)
            pid += 1
        for i, j in permutations(range(FAMILY), 2):
            triplets.append((ids[i], modification_text(members[i], members[j], rng), ids[j]))
    manifest = root / f"{name}.csv"
    _atomic_csv(pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)), manifest)
    triplet_file = triplets_path_for(manifest)
    _atomic_csv(pd.DataFrame(triplets, columns=["reference", "modification", "target"]), triplet_file)
    return manifest, triplet_file


def _atomic_csv(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)


def write_demo_dataset(root: Path | str, n_train: int = 1800, n_heldout: int = 450, seed: int = 0) -> dict[str, Path]:
    """Write ``root/images/FP*.{jpg,png,webp}``, ``train.csv``, ``heldout.csv`` and their ``.triplets.csv``.

    Product counts are rounded up to whole families of three. Held-out products come from their own random
    stream. ``root/DONE.json`` records the arguments: a re-run with the same ones over a complete dataset returns
    at once; other arguments regenerate it.
    """
    if n_train < 1 or n_heldout < 1:
        raise ValueError(f"n_train and n_heldout must be at least 1, got {n_train} and {n_heldout}")
    root = Path(root)
    train_families, heldout_families = -(-n_train // FAMILY), -(-n_heldout // FAMILY)
    paths = {
        "train": root / "train.csv",
        "heldout": root / "heldout.csv",
        "train_triplets": triplets_path_for(root / "train.csv"),
        "heldout_triplets": triplets_path_for(root / "heldout.csv"),
    }
    args = {"format": FORMAT_VERSION, "n_train": n_train, "n_heldout": n_heldout, "seed": seed}
    if demo_is_current(root, args, list(paths.values())):
        return paths
    images = root / "images"
    if images.is_dir():
        for stale in images.glob("FP*.*"):
            stale.unlink()
    images.mkdir(parents=True, exist_ok=True)
    train_rng, heldout_rng = (np.random.default_rng([seed, stream]) for stream in (0, 1))
    _write_split(root, "train", 0, train_families, train_rng)
    _write_split(root, "heldout", train_families * FAMILY, heldout_families, heldout_rng)
    mark_demo_complete(root, args)
    return paths


def load_prompt_packs() -> dict[str, dict]:
    """The zero-shot prompt packs ("category", "colour", "pattern") of ``prompts.json``."""
    return package_json("clipzoo.domains.fashion", "prompts.json")
