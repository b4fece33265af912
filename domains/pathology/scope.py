"""What magnification a pathology model was trained at, and warnings for tiles at another one.

A tile file may record its resolution: TIFF ``XResolution``/``ResolutionUnit`` (what QuPath, TRIDENT and OpenSlide
exports write), PNG ``pHYs``, JPEG JFIF density. Only a resolution a microscope produces counts as microns per pixel
(``MPP_RANGE``): the 72 or 300 dpi a photo editor writes says nothing about magnification. At training time
``tile_training_scope`` records the range of microns per pixel of the training tiles that carry one; at prediction
``tile_scope_warnings`` says in plain words when a tile's resolution lies outside it by more than ``TOLERANCE`` (20x
tiles sent to a model trained at 40x), or when the tile records none and so cannot be checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

MPP_RANGE = (0.05, 20.0)  # microns per pixel a microscope scan can have (0.05: 200x; 20: 0.5x)
TOLERANCE = 2**0.5  # half a magnification step (20x vs 40x is a factor of 2) either side of the training range
SCOPE_SAMPLE = 256  # training tiles whose headers are read (no pixels)
_UM_PER_UNIT = {1: None, 2: 25_400.0, 3: 10_000.0}  # TIFF ResolutionUnit: none, inch, centimetre


class Tile(np.ndarray):
    """An RGB tile [h, w, 3] uint8 that remembers the microns per pixel its file records (``None``: none)."""

    mpp: float | None = None

    def __array_finalize__(self, obj: Any) -> None:
        self.mpp = getattr(obj, "mpp", None)


def as_tile(pixels: np.ndarray, mpp: float | None) -> Tile:
    tile = np.asarray(pixels).view(Tile)
    tile.mpp = mpp
    return tile


def _plausible(mpp: float | None) -> float | None:
    return mpp if mpp is not None and MPP_RANGE[0] <= mpp <= MPP_RANGE[1] else None


def image_mpp(img: Image.Image) -> float | None:
    """Microns per pixel from an open image's resolution tags, when they describe a microscope scan."""
    tags = getattr(img, "tag_v2", None)
    if tags is not None and 282 in tags:  # TIFF XResolution, with its unit
        per_unit = float(tags[282])
        um = _UM_PER_UNIT.get(int(tags.get(296, 2)))
        return _plausible(um / per_unit) if um and per_unit > 0 else None
    dpi = img.info.get("dpi")
    if dpi and float(dpi[0]) > 0:
        return _plausible(25_400.0 / float(dpi[0]))
    return None


def file_mpp(path: str | Path) -> float | None:
    """Microns per pixel a tile file records (its header only), or None."""
    try:
        with Image.open(path) as img:
            return image_mpp(img)
    except (OSError, ValueError):
        return None


def tile_training_scope(files: Sequence[str]) -> dict[str, Any]:
    """``{"mpp": [low, high], "with_mpp": n, "without_mpp": m}`` over (the first ``SCOPE_SAMPLE``) training tiles;
    ``{}`` when none records a resolution."""
    found = [file_mpp(name) for name in list(files)[:SCOPE_SAMPLE]]
    known = [m for m in found if m is not None]
    if not known:
        return {}
    return {"mpp": [min(known), max(known)], "with_mpp": len(known), "without_mpp": len(found) - len(known)}


def _describe(mpp: float) -> str:
    return f"{mpp:.3g} um/px (~{10.0 / mpp:.3g}x)"


def mpp_warnings(mpp: float | None, scope: dict[str, Any], what: str = "the tile is") -> list[str]:
    """Warnings for an input at ``mpp`` microns per pixel (``what``: "the tile is", "the slide is read") against the
    recorded training range."""
    if not scope.get("mpp"):
        return []
    low, high = scope["mpp"]
    trained = _describe(low) if low == high else f"{_describe(low)} to {_describe(high)}"
    if mpp is None:
        return [f"the tile records no resolution (microns per pixel): cannot check its magnification against the "
                f"model's training data ({trained})"]  # fmt: skip
    if mpp < low / TOLERANCE or mpp > high * TOLERANCE:
        return [f"{what} at {_describe(mpp)}, outside the model's training magnification ({trained}): "
                "rescale it to the training magnification, or treat the answer with caution"]  # fmt: skip
    return []


def tile_scope_warnings(sample: Any, scope: dict[str, Any]) -> list[str]:
    return mpp_warnings(getattr(sample, "mpp", None), scope)
