"""Whole-slide images: one small interface over OpenSlide (.svs, .ndpi, .mrxs...) and tifffile (pyramidal TIFF).

A ``Slide`` exposes its pyramid (level sizes and downsamples), its microns per pixel and ``read_region``, which
decodes only the TIFF tiles (or OpenSlide tiles) under the requested rectangle: nothing reads a whole level.
Locations are level-0 pixel coordinates, sizes are pixels of the level read (OpenSlide's convention).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
from clipzoo.core.errors import InputError

OPENSLIDE_SUFFIXES = (".svs", ".ndpi", ".mrxs", ".scn", ".vms", ".vmu", ".bif", ".svslide")
TIFF_SUFFIXES = (".tif", ".tiff")
SLIDE_SUFFIXES = OPENSLIDE_SUFFIXES + TIFF_SUFFIXES
_BACKGROUND = 255  # transparent or absent pixels read as white glass
# Decoded TIFF segments kept for neighbouring reads: a bound in bytes, not in segments, so memory stays flat whatever
# the slide's size or segment size (a tile row wider than this re-decodes at most the segment rows it straddles).
CACHE_BYTES = 16 << 20


def magnification_to_mpp(magnification: float) -> float:
    """The usual microscope convention: 10x objective = 1 um/px, so 20x = 0.5 and 40x = 0.25."""
    if magnification <= 0:
        raise InputError(f"magnification must be positive, got {magnification}")
    return 10.0 / magnification


class Slide:
    """A pyramidal slide. Subclasses fill the pyramid description and implement ``_read``."""

    path: Path
    level_dimensions: list[tuple[int, int]]  # (width, height) per level, level 0 the largest
    mpp: float | None  # microns per pixel at level 0

    @property
    def level_count(self) -> int:
        return len(self.level_dimensions)

    @property
    def dimensions(self) -> tuple[int, int]:
        return self.level_dimensions[0]

    @property
    def level_downsamples(self) -> list[float]:
        w0 = self.level_dimensions[0][0]
        return [w0 / w for w, _ in self.level_dimensions]

    def level_mpp(self, level: int) -> float:
        if self.mpp is None:
            raise InputError("slide has no microns-per-pixel metadata; pass the slide's mpp explicitly", self.path)
        return self.mpp * self.level_downsamples[level]

    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> np.ndarray:
        """RGB uint8 [h, w, 3] of ``size`` = (w, h) level pixels whose top-left is ``location`` in level-0 pixels.
        Parts outside the slide read as white."""
        if not 0 <= level < self.level_count:
            raise InputError(f"level {level} does not exist (the slide has {self.level_count})", self.path)
        w, h = size
        if w < 1 or h < 1:
            raise InputError(f"region size must be positive, got {size}", self.path)
        return self._read(location, level, size)

    def _read(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> np.ndarray:
        raise NotImplementedError

    def thumbnail(self, max_size: int = 1024) -> np.ndarray:
        """An RGB thumbnail whose longer side is at most ``max_size``, built strip by strip from the smallest level
        that is still at least as large, so memory stays bounded by one strip."""
        w0, h0 = self.dimensions
        scale = min(1.0, max_size / max(w0, h0))
        out_w, out_h = max(1, round(w0 * scale)), max(1, round(h0 * scale))
        level = self.level_count - 1
        while level > 0 and self.level_dimensions[level][0] < out_w:
            level -= 1
        lw, lh = self.level_dimensions[level]
        down = self.level_downsamples[level]
        strip = max(1, min(lh, (1 << 24) // max(1, 3 * lw)))  # about 16 MB of pixels per strip
        rows = []
        for y in range(0, lh, strip):
            sh = min(strip, lh - y)
            part = self._read((0, round(y * down)), level, (lw, sh))
            ty0, ty1 = round(y * out_h / lh), round((y + sh) * out_h / lh)
            if ty1 > ty0:
                rows.append(cv2.resize(part, (out_w, ty1 - ty0), interpolation=cv2.INTER_AREA))
        return np.concatenate(rows, axis=0)

    def close(self) -> None:
        """Release the file handle."""

    def __enter__(self) -> Slide:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OpenSlideSlide(Slide):
    """Vendor formats through OpenSlide (the ``openslide-bin`` wheel ships the C library)."""

    def __init__(self, path: Path, mpp: float | None = None):
        import openslide

        self.path = path
        try:
            self._slide = openslide.OpenSlide(str(path))
        except (openslide.OpenSlideUnsupportedFormatError, openslide.OpenSlideError) as err:
            raise InputError(f"not a whole-slide image OpenSlide can read ({err})", path) from err
        self.level_dimensions = [tuple(map(int, d)) for d in self._slide.level_dimensions]
        self.mpp = mpp if mpp is not None else _openslide_mpp(self._slide.properties)

    def _read(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> np.ndarray:
        import openslide

        try:
            rgba = np.asarray(self._slide.read_region(location, level, size))
        except openslide.OpenSlideError as err:  # a truncated or corrupt tile in a file whose header was fine
            raise InputError(f"cannot read region {location} of level {level}: {err}", self.path) from err
        alpha = rgba[..., 3:4].astype(np.uint16)
        rgb = (rgba[..., :3] * alpha + _BACKGROUND * (255 - alpha)) // 255  # premultiplied edges onto white
        return rgb.astype(np.uint8)

    def close(self) -> None:
        self._slide.close()


def _openslide_mpp(props: object) -> float | None:
    for key in ("openslide.mpp-x", "aperio.MPP"):
        try:
            value = float(props[key])  # type: ignore[index]
        except (KeyError, ValueError, TypeError):
            continue
        if value > 0:
            return value
    try:
        return magnification_to_mpp(float(props["openslide.objective-power"]))  # type: ignore[index]
    except (KeyError, ValueError, TypeError, InputError):
        return None


class TiffSlide(Slide):
    """A pyramidal TIFF (SubIFDs or a page per level) through tifffile; reads decode only the tiles they touch."""

    def __init__(self, path: Path, mpp: float | None = None, cache_bytes: int = CACHE_BYTES):
        import tifffile

        self.path = path
        try:
            self._tif = tifffile.TiffFile(str(path))
            series = self._tif.series[0]
            self._pages = [lv.keyframe for lv in series.levels]
        except (tifffile.TiffFileError, IndexError, ValueError, OSError) as err:
            raise InputError(f"not a TIFF slide tifffile can read ({err})", path) from err
        base = self._pages[0]
        if base.imagewidth < 1 or base.imagelength < 1:
            raise InputError("TIFF has an empty image", path)
        if base.samplesperpixel not in (1, 3, 4) or base.dtype is None or base.dtype.kind != "u":
            raise InputError(
                f"unsupported TIFF pixels: {base.samplesperpixel} samples of {base.dtype}; "
                "expected 8-bit RGB(A) or grey",
                path,
            )
        pages = [p for p in self._pages if p.imagewidth <= base.imagewidth]
        self._pages = sorted(pages, key=lambda p: -p.imagewidth)
        self.level_dimensions = [(int(p.imagewidth), int(p.imagelength)) for p in self._pages]
        self.mpp = mpp if mpp is not None else _tiff_mpp(base)
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._cache_bytes, self._cached = cache_bytes, 0

    def _segment_shape(self, page: object) -> tuple[int, int]:
        if page.is_tiled:  # type: ignore[attr-defined]
            return int(page.tilelength), int(page.tilewidth)  # type: ignore[attr-defined]
        return int(min(page.rowsperstrip, page.imagelength)), int(page.imagewidth)  # type: ignore[attr-defined]

    def _segment(self, level: int, index: int) -> np.ndarray:
        key = (level, index)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        page = self._pages[level]
        fh = self._tif.filehandle
        offset, count = page.dataoffsets[index], page.databytecounts[index]
        if count == 0:
            seg_h, seg_w = self._segment_shape(page)
            seg = np.full((seg_h, seg_w, 3), _BACKGROUND, np.uint8)
        else:
            fh.seek(offset)
            try:
                data, _, _ = page.decode(fh.read(count), index, jpegtables=page.jpegtables)
            except Exception as err:  # a codec tifffile lacks (JPEG without imagecodecs), a corrupt segment
                raise InputError(f"cannot decode TIFF segment {index} of level {level}: {err}", self.path) from err
            seg = _to_rgb(np.asarray(data)[0])
        self._cache[key] = seg
        self._cached += seg.nbytes
        while self._cached > self._cache_bytes and len(self._cache) > 1:
            self._cached -= self._cache.popitem(last=False)[1].nbytes
        return seg

    def _read(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> np.ndarray:
        page = self._pages[level]
        down = self.level_downsamples[level]
        x, y = math.floor(location[0] / down), math.floor(location[1] / down)
        w, h = size
        lw, lh = self.level_dimensions[level]
        out = np.full((h, w, 3), _BACKGROUND, np.uint8)
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, lw), min(y + h, lh)
        if x0 >= x1 or y0 >= y1:
            return out
        seg_h, seg_w = self._segment_shape(page)
        across = math.ceil(lw / seg_w)
        for row in range(y0 // seg_h, (y1 - 1) // seg_h + 1):
            for col in range(x0 // seg_w, (x1 - 1) // seg_w + 1):
                seg = self._segment(level, row * across + col)
                sy0, sx0 = row * seg_h, col * seg_w
                iy0, iy1 = max(y0, sy0), min(y1, sy0 + seg.shape[0], lh)
                ix0, ix1 = max(x0, sx0), min(x1, sx0 + seg.shape[1], lw)
                out[iy0 - y : iy1 - y, ix0 - x : ix1 - x] = seg[iy0 - sy0 : iy1 - sy0, ix0 - sx0 : ix1 - sx0]
        return out

    def close(self) -> None:
        self._tif.close()


def _to_rgb(data: np.ndarray) -> np.ndarray:
    if data.dtype != np.uint8:
        data = (data >> (8 * (data.dtype.itemsize - 1))).astype(np.uint8)
    if data.ndim == 2:
        data = data[..., None]
    if data.shape[-1] == 1:
        return np.repeat(data, 3, axis=-1)
    return data[..., :3]


def _tiff_mpp(page: object) -> float | None:
    tags = page.tags  # type: ignore[attr-defined]
    desc = tags["ImageDescription"].value if "ImageDescription" in tags else ""
    if isinstance(desc, str) and "MPP = " in desc:  # Aperio-style description
        try:
            return float(desc.split("MPP = ")[1].split("|")[0].strip())
        except ValueError:
            pass
    if "XResolution" not in tags or "ResolutionUnit" not in tags:
        return None
    num, den = tags["XResolution"].value
    unit = int(tags["ResolutionUnit"].value)
    if num <= 0 or den <= 0 or unit not in (2, 3):
        return None
    pixels_per_unit = num / den
    return (25400.0 if unit == 2 else 10000.0) / pixels_per_unit


def open_slide(path: str | Path, mpp: float | None = None) -> Slide:
    """Open a whole-slide image by extension: OpenSlide for vendor formats, tifffile for (pyramidal) TIFF.

    ``mpp`` overrides the microns per pixel the file declares (or supplies it when it declares none)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SLIDE_SUFFIXES:
        raise InputError(f"unsupported slide extension {suffix or '(none)'!r}; expected one of {SLIDE_SUFFIXES}", path)
    if not path.is_file():
        raise InputError("slide file not found", path)
    if path.stat().st_size == 0:
        raise InputError("slide file is empty (0 bytes)", path)
    if mpp is not None and mpp <= 0:
        raise InputError(f"mpp must be positive, got {mpp}", path)
    return TiffSlide(path, mpp) if suffix in TIFF_SUFFIXES else OpenSlideSlide(path, mpp)
