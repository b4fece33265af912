"""Tiling a slide at a requested resolution: pyramid level choice, a grid with level-0 coordinates kept, background
tiles skipped by the thumbnail tissue mask, tiles streamed in batches (never the whole slide in memory)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from clipzoo.core.errors import InputError

from .slide import Slide
from .tissue import region_fractions, tissue_mask

MPP_TOLERANCE = 0.1  # a level within 10 % of the requested mpp counts as that resolution (0.499 ~ 0.5)


def choose_level(slide: Slide, target_mpp: float, tolerance: float = MPP_TOLERANCE) -> int:
    """The coarsest level whose resolution is at least as fine as ``target_mpp`` (within ``tolerance``): it is read
    and downscaled to the target, never upscaled. A target finer than level 0 is refused."""
    if target_mpp <= 0:
        raise InputError(f"requested mpp must be positive, got {target_mpp}", slide.path)
    mpps = [slide.level_mpp(i) for i in range(slide.level_count)]
    if target_mpp < mpps[0] * (1 - tolerance):
        raise InputError(
            f"requested {target_mpp:g} um/px is finer than the slide's best level ({mpps[0]:.3g} um/px)", slide.path
        )
    usable = [i for i, m in enumerate(mpps) if m <= target_mpp * (1 + tolerance)]
    return max(usable, key=lambda i: mpps[i])


@dataclass
class TilePlan:
    """Where the tissue tiles of a slide are, and how to read them."""

    level: int
    target_mpp: float
    tile_px: int  # output tile size in pixels at target_mpp
    read_px: int  # pixels read at ``level`` per tile (then resized to tile_px)
    size0: float  # tile side in level-0 pixels
    grid_shape: tuple[int, int]  # (columns, rows) of the full grid
    coords: np.ndarray  # [N, 2] level-0 (x, y) of each kept tile's top-left
    grid: np.ndarray  # [N, 2] (column, row) of each kept tile
    tissue: np.ndarray  # [N] tissue fraction of each kept tile
    thumbnail: np.ndarray  # RGB thumbnail the mask was computed on
    mask: np.ndarray  # tissue mask of the thumbnail
    thumb_scale: float  # thumbnail pixels per level-0 pixel

    @property
    def n_tiles(self) -> int:
        return len(self.coords)

    @property
    def n_grid(self) -> int:
        return self.grid_shape[0] * self.grid_shape[1]

    @property
    def n_skipped(self) -> int:
        return self.n_grid - self.n_tiles


def plan_tiles(
    slide: Slide,
    target_mpp: float = 0.5,
    tile_px: int = 224,
    min_tissue: float = 0.25,
    thumbnail_px: int = 1024,
) -> TilePlan:
    """A non-overlapping grid of ``tile_px`` tiles at ``target_mpp``; tiles with less than ``min_tissue`` of their
    area on tissue are skipped. Raises ``InputError`` when the slide is smaller than one tile or has no tissue."""
    if tile_px < 8:
        raise InputError(f"tile size must be at least 8 px, got {tile_px}", slide.path)
    level = choose_level(slide, target_mpp)
    size0 = tile_px * target_mpp / slide.level_mpp(0)
    read_px = max(1, round(size0 / slide.level_downsamples[level]))
    w0, h0 = slide.dimensions
    cols, rows = int(w0 // size0), int(h0 // size0)
    if cols < 1 or rows < 1:
        raise InputError(
            f"slide ({w0}x{h0} px at {slide.level_mpp(0):.3g} um/px) is smaller than one {tile_px} px tile "
            f"at {target_mpp:g} um/px",
            slide.path,
        )
    thumb = slide.thumbnail(thumbnail_px)
    mask = tissue_mask(thumb)
    scale = thumb.shape[1] / w0
    gx, gy = np.meshgrid(np.arange(cols), np.arange(rows))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    x0, y0 = grid[:, 0] * size0, grid[:, 1] * size0
    boxes = np.stack([x0, y0, x0 + size0, y0 + size0], axis=1) * scale
    fractions = region_fractions(mask, boxes)
    keep = fractions >= min_tissue
    if not keep.any():
        raise InputError(
            f"no tissue found: none of the {cols * rows} tiles at {target_mpp:g} um/px has {min_tissue:.0%} tissue "
            f"(tissue covers {mask.mean():.1%} of the thumbnail)",
            slide.path,
        )
    coords = np.stack([np.round(x0[keep]), np.round(y0[keep])], axis=1).astype(np.int64)
    return TilePlan(
        level=level,
        target_mpp=target_mpp,
        tile_px=tile_px,
        read_px=read_px,
        size0=size0,
        grid_shape=(cols, rows),
        coords=coords,
        grid=grid[keep],
        tissue=fractions[keep],
        thumbnail=thumb,
        mask=mask,
        thumb_scale=scale,
    )


def read_tile(slide: Slide, plan: TilePlan, index: int) -> np.ndarray:
    """Tile ``index`` of the plan as RGB uint8 [tile_px, tile_px, 3]."""
    x, y = (int(v) for v in plan.coords[index])
    region = slide.read_region((x, y), plan.level, (plan.read_px, plan.read_px))
    if plan.read_px != plan.tile_px:
        interp = cv2.INTER_AREA if plan.read_px > plan.tile_px else cv2.INTER_LINEAR
        region = cv2.resize(region, (plan.tile_px, plan.tile_px), interpolation=interp)
    return region


def iter_tile_batches(
    slide: Slide, plan: TilePlan, batch_size: int = 64
) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
    """Yield (indices into the plan, tiles) batch by batch, in plan order; only one batch of pixels is held."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for start in range(0, plan.n_tiles, batch_size):
        idx = np.arange(start, min(start + batch_size, plan.n_tiles))
        yield idx, [read_tile(slide, plan, int(i)) for i in idx]
