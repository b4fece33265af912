"""Write pyramidal TIFFs with tifffile: tiled level 0 plus reduced levels as SubIFDs, each with its resolution tags,
streamed from a row renderer so that a large slide is never held in memory whole."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import tifffile

RowRenderer = Callable[[int, int], np.ndarray]  # (y0, y1) level-0 rows -> RGB uint8 [y1 - y0, width, 3]


def _level_tiles(render: RowRenderer, height: int, width: int, down: int, tile: int) -> Iterator[np.ndarray]:
    lh, lw = math.ceil(height / down), math.ceil(width / down)
    for ty in range(0, lh, tile):
        rows = min(tile, lh - ty)
        y0, y1 = ty * down, min((ty + rows) * down, height)
        strip = render(y0, y1)
        if down > 1:
            strip = cv2.resize(strip, (lw, rows), interpolation=cv2.INTER_AREA)
        padded = np.full((tile, math.ceil(lw / tile) * tile, 3), 255, np.uint8)
        padded[:rows, :lw] = strip
        for tx in range(0, lw, tile):
            yield padded[:, tx : tx + tile]


def write_pyramidal_tiff(
    path: str | Path,
    render: RowRenderer,
    height: int,
    width: int,
    mpp: float,
    levels: int = 3,
    tile: int = 256,
    compression: str | None = "zlib",
) -> Path:
    """Write a ``levels``-level pyramid (downsamples 1, 2, 4, ...) of the image ``render`` draws, with XResolution /
    YResolution in pixels per centimetre so readers recover ``mpp`` at every level."""
    path = Path(path)
    bigtiff = height * width * 3 > 2**31
    with tifffile.TiffWriter(path, bigtiff=bigtiff) as tif:
        for level in range(levels):
            down = 2**level
            lh, lw = math.ceil(height / down), math.ceil(width / down)
            options = {"subifds": levels - 1} if level == 0 else {"subfiletype": 1}
            tif.write(
                _level_tiles(render, height, width, down, tile),
                shape=(lh, lw, 3),
                dtype=np.uint8,
                tile=(tile, tile),
                photometric="rgb",
                compression=compression,
                compressionargs={"level": 1} if compression == "zlib" else None,
                resolution=(1e4 / (mpp * down), 1e4 / (mpp * down)),
                resolutionunit="CENTIMETER",
                metadata=None,
                **options,
            )
    return path
