"""Whole-slide features stored once, in the HDF5 layout TRIDENT and CLAM use, and read back instead of pixels.

One file per slide, ``<slide stem>.h5``: ``coords`` ``[N, 2]`` int64, each tile's top-left at level 0, with the
attributes ``patch_size`` (tile side at the tiling resolution), ``patch_size_level0``, ``level`` (pyramid level read),
``mpp`` (tiling resolution, um/px) and ``slide_mpp``; ``features`` ``[N, D]`` float32, the L2-normalised image
embeddings of the tiles in ``coords`` order. The file's attributes record the model (name/version, weights sha256)
and a fingerprint of everything the features depend on (weights, tiling resolution, tile size, tissue threshold):
a reader uses the features only when the fingerprint matches and the tiles are the slide's current tissue tiles.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from clipzoo.core.errors import InputError
from clipzoo.core.model import ClipModel

from .slide import Slide
from .tiling import TilePlan

SUFFIX = ".h5"
LAYOUT = "trident-clam/1"


def features_fingerprint(clip: ClipModel, mpp: float, tile_px: int, min_tissue: float) -> str:
    """What a slide's features depend on, besides the slide itself."""
    spec = clip.spec
    if not clip.weights_sha256:
        raise InputError("only a registered model's features can be stored (its weights carry no sha256 here)")
    settings = {
        "weights": clip.weights_sha256, "mpp": round(float(mpp), 6), "tile_px": int(tile_px),
        "min_tissue": round(float(min_tissue), 6), "image_size": spec.image_size, "mean": list(spec.mean),
        "std": list(spec.std), "resize_mode": spec.resize_mode, "interpolation": spec.interpolation,
    }  # fmt: skip
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def features_path(folder: str | Path, slide: str | Path) -> Path:
    return Path(folder) / f"{Path(slide).stem}{SUFFIX}"


def write_features(
    path: Path, slide: Slide, plan: TilePlan, features: torch.Tensor, fingerprint: str, model: str, weights: str
) -> Path:
    """Write one slide's coords and features (atomically: a temporary file renamed into place)."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with h5py.File(tmp, "w") as h5:
        coords = h5.create_dataset("coords", data=np.asarray(plan.coords, dtype=np.int64).reshape(-1, 2))
        coords.attrs.update({"patch_size": plan.tile_px, "patch_size_level0": float(plan.size0), "level": plan.level,
                             "mpp": plan.target_mpp, "slide_mpp": float(slide.mpp or 0)})  # fmt: skip
        h5.create_dataset("features", data=features.float().numpy())
        h5.attrs.update({"layout": LAYOUT, "fingerprint": fingerprint, "model": model, "weights_sha256": weights,
                         "slide": Path(slide.path).name})  # fmt: skip
    os.replace(tmp, path)
    return path


def read_features(path: Path, fingerprint: str, plan: TilePlan) -> torch.Tensor | None:
    """The stored features when they were made by the same model and settings for these very tiles, else None."""
    import h5py

    if not path.is_file():
        return None
    try:
        with h5py.File(path, "r") as h5:
            if h5.attrs.get("fingerprint") != fingerprint:
                return None
            coords = h5["coords"][()]
            if coords.shape != plan.coords.shape or not np.array_equal(coords, np.asarray(plan.coords)):
                return None
            return torch.from_numpy(h5["features"][()].astype(np.float32))
    except (OSError, KeyError) as err:
        raise InputError(f"not a readable features file: {err}", path) from err


def stored_fingerprint(path: Path) -> str | None:
    """The fingerprint a features file was written with (None: no such file)."""
    import h5py

    if not path.is_file():
        return None
    with h5py.File(path, "r") as h5:
        return str(h5.attrs.get("fingerprint"))


def describe(path: Path) -> dict[str, Any]:
    """A features file's attributes (for a report)."""
    import h5py

    with h5py.File(path, "r") as h5:
        return {**{k: v for k, v in h5.attrs.items()}, "tiles": int(h5["coords"].shape[0])}
