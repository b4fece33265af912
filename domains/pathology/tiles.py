"""Reading tiles: PNG, JPEG or TIFF image files of any size, decoded to RGB uint8 arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openslide
from clipzoo.core.errors import InputError
from clipzoo.core.files import require_file
from clipzoo.core.guards import check_pixels
from clipzoo.core.images import rgb8
from PIL import Image, UnidentifiedImageError

from .scope import Tile, as_tile, image_mpp
from .slide import OPENSLIDE_SUFFIXES

TILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
MIN_TILE_PX = 16
MAX_TILE_PX = 8192  # a larger "tile" is a slide: classify it with `clipzoo predict MODEL SLIDE --task slide`
SLIDE_HINT = "`clipzoo predict MODEL SLIDE --task slide`"


def _as_slide(suffix: str) -> str:
    """How to classify an image too large for a tile: ``--task slide`` reads TIFF; other formats need converting."""
    if suffix in (".tif", ".tiff"):
        return f"treat it as a whole slide ({SLIDE_HINT})"
    return (
        f"save it as a pyramidal TIFF (e.g. `vips tiffsave IMAGE{suffix} slide.tif --tile --pyramid`) and classify "
        f"that with {SLIDE_HINT}"
    )


def read_tile(path: str | Path) -> Tile:
    """Decode a tile to RGB uint8 [h, w, 3] (with the microns per pixel its file records), or raise ``InputError``
    naming the file and the problem."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in OPENSLIDE_SUFFIXES:
        require_file(path)
        if openslide.OpenSlide.detect_format(str(path)) is None:
            raise InputError(
                f"has a slide extension ({suffix}) but is not a whole-slide image OpenSlide can read", path
            )
        raise InputError(f"is a whole-slide image, not a tile; classify it with {SLIDE_HINT}", path)
    if suffix not in TILE_SUFFIXES:
        raise InputError(f"unsupported tile extension {suffix or '(none)'!r}; expected one of {TILE_SUFFIXES}", path)
    require_file(path)
    try:
        with Image.open(path) as img:
            width, height = img.size
            check_pixels(width, height, name=str(path))
            if max(width, height) > MAX_TILE_PX:
                raise InputError(
                    f"is {width}x{height} px, larger than a tile ({MAX_TILE_PX} px): {_as_slide(suffix)}", path
                )
            img.load()
            rgb = rgb8(img)
            mpp = image_mpp(img)
    except UnidentifiedImageError as err:
        raise InputError("not a decodable image (unknown or corrupt format)", path) from err
    except OSError as err:
        raise InputError(f"corrupt image: {err}", path) from err
    if min(width, height) < MIN_TILE_PX:
        raise InputError(f"tile is {width}x{height} px, smaller than the {MIN_TILE_PX} px minimum", path)
    return as_tile(np.asarray(rgb), mpp)
