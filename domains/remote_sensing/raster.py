"""Rasters through rasterio: any band count and dtype, nodata masks, windowed chip reads, georeferencing kept.

``read_raster`` reads one GeoTIFF/COG (or any GDAL raster), whole or through a ``rasterio.windows.Window``, so a chip
of a large scene never brings the scene into memory. ``read_band_folder`` reads a folder of one-band files named
``*_B02.tif`` / ``*_VV.tif`` (the BigEarthNet layout) and resamples bands at 20 m and 60 m onto the finest grid
with a ``WarpedVRT``. Both return a ``GeoRaster`` carrying CRS, transform, band names and the chip centre (lon, lat).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from clipzoo.core.errors import InputError
from clipzoo.core.notes import note
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform as warp_transform
from rasterio.windows import Window

from .bands import canonical_band

RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".jp2", ".img")
WGS84 = CRS.from_epsg(4326)


@dataclass
class GeoRaster:
    """Pixels as float32 ``[C, H, W]`` with a validity mask ``[C, H, W]`` (False = nodata), and where they lie."""

    path: str
    data: np.ndarray
    valid: np.ndarray
    band_names: tuple[str | None, ...]
    crs: CRS | None
    transform: Affine
    dtype: str
    driver: str
    tags: dict[str, str] = field(default_factory=dict)
    window: Window | None = None
    filled_bands: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return int(self.data.shape[0])

    @property
    def centre_xy(self) -> tuple[float, float]:
        """The chip centre in the raster's CRS."""
        h, w = self.data.shape[1:]
        x, y = self.transform @ (w / 2.0, h / 2.0)
        return float(x), float(y)

    @property
    def lonlat(self) -> tuple[float, float] | None:
        """The chip centre as (longitude, latitude) in degrees (WGS84), or None without a CRS."""
        if self.crs is None:
            return None
        x, y = self.centre_xy
        lon, lat = warp_transform(self.crs, WGS84, [x], [y])
        return float(lon[0]), float(lat[0])


def gdal_reason(err: BaseException) -> str:
    """GDAL's own message: rasterio raises "Read failed. See previous exception for details." with the reason in the
    exception it chains (a CPLE error naming the block that failed)."""
    cause = err.__cause__ or err.__context__
    return str(cause) if cause is not None and str(cause) else str(err)


def _read(src: Any, path: Path, *args: Any, **kwargs: Any) -> np.ma.MaskedArray:
    """``src.read`` with a failed read (a truncated or corrupt file) named and explained."""
    try:
        return src.read(*args, **kwargs)
    except RasterioIOError as err:
        raise InputError(f"corrupt raster data: {gdal_reason(err)}", path) from err


def _open_error(path: Path, err: Exception) -> InputError:
    if not path.exists():
        return InputError("file not found", path)
    if path.is_file() and path.stat().st_size == 0:
        return InputError("file is empty (0 bytes)", path)
    return InputError(f"not a raster GDAL can read: {gdal_reason(err)}", path)


def _names(src: rasterio.io.DatasetReader) -> tuple[str | None, ...]:
    """Band names from the band descriptions, else from a ``BAND_NAME``/``NAME`` band tag."""
    out = []
    for i, desc in enumerate(src.descriptions, start=1):
        tags = src.tags(i)
        out.append(canonical_band(desc) or canonical_band(tags.get("BAND_NAME") or tags.get("NAME")))
    return tuple(out)


def _check_window(window: Window, width: int, height: int, path: str | Path) -> None:
    inside = window.col_off >= 0 and window.row_off >= 0 and window.width > 0 and window.height > 0
    if not inside or window.col_off + window.width > width or window.row_off + window.height > height:
        raise InputError(f"window {tuple(map(int, window.flatten()))} lies outside the {width}x{height} raster", path)


def _unmask(masked: np.ma.MaskedArray, nodatavals: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(float32 data, validity) from a masked read; NaN declared as nodata counts as nodata."""
    data = np.asarray(masked.data, dtype=np.float32)
    valid = ~np.ma.getmaskarray(masked)
    if masked.dtype.kind == "f" and any(v is not None and np.isnan(v) for v in nodatavals):
        valid &= ~np.isnan(data)
    return data, valid


def check_pixels(data: np.ndarray, valid: np.ndarray, path: str | Path) -> None:
    """Refuse chips without a valid pixel, and NaN/inf pixels that nodata does not cover."""
    if not valid.any():
        raise InputError("chip holds no valid pixel (all nodata)", path)
    bad = ~np.isfinite(data) & valid
    if bad.any():
        n_inf = int((np.isinf(data) & valid).sum())
        n_nan = int(bad.sum()) - n_inf
        raise InputError(f"{n_nan} NaN and {n_inf} inf pixel values not covered by a nodata mask", path)


def read_raster(
    path: str | Path, window: Window | None = None, require_location: bool = False, check: bool = True
) -> GeoRaster:
    """Read every band of a raster (or one window of it) as float32 with its nodata mask and georeferencing."""
    path = Path(path)
    try:
        src_ctx = rasterio.open(path)
    except (RasterioIOError, OSError) as err:
        raise _open_error(path, err) from err
    with src_ctx as src:
        if window is not None:
            _check_window(window, src.width, src.height, path)
        if require_location and src.crs is None:
            raise InputError("raster has no CRS, but a location (lon/lat) is required", path)
        masked = _read(src, path, window=window, masked=True)
        data, valid = _unmask(masked, src.nodatavals)
        raster = GeoRaster(
            path=str(path),
            data=data,
            valid=valid,
            band_names=_names(src),
            crs=src.crs,
            transform=src.window_transform(window) if window is not None else src.transform,
            dtype=src.dtypes[0],
            driver=src.driver,
            tags={k.upper(): v for k, v in src.tags().items()},
            window=window,
        )
    if check:
        check_pixels(raster.data, raster.valid, path)
    return raster


def _band_files(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for f in sorted(folder.iterdir()):
        if f.suffix.lower() not in RASTER_SUFFIXES:
            continue
        name = canonical_band(f.stem.rsplit("_", 1)[-1])
        if name is not None:
            found[name] = f
    return found


def read_band_folder(
    folder: str | Path, window: Window | None = None, require_location: bool = False, check: bool = True
) -> GeoRaster:
    """Read a folder of one-band rasters named ``<anything>_<BAND>.tif`` onto the grid of its finest band.

    Coarser bands (20 m, 60 m) are resampled bilinearly through a ``WarpedVRT`` aligned to that grid; ``window``
    is in the finest grid's pixels.
    """
    folder = Path(folder)
    files = _band_files(folder)
    if not files:
        raise InputError("folder holds no band files named like *_B02.tif or *_VV.tif", folder)
    with contextlib.ExitStack() as stack:
        srcs = {}
        for name, band_file in files.items():
            try:
                srcs[name] = stack.enter_context(rasterio.open(band_file))
            except (RasterioIOError, OSError) as err:
                raise InputError(f"unreadable band file ({name}): {gdal_reason(err)}", band_file) from err
        multi = [n for n, s in srcs.items() if s.count != 1]
        if multi:
            raise InputError(f"band files {multi} hold more than one band", folder)
        ref = min(srcs.values(), key=lambda s: abs(s.res[0]))
        if require_location and ref.crs is None:
            raise InputError("band files have no CRS, but a location (lon/lat) is required", folder)
        if window is not None:
            _check_window(window, ref.width, ref.height, folder)
        arrays, masks, resampled = [], [], []
        for name, src in srcs.items():
            if src.crs != ref.crs:
                raise InputError(f"band {name} is in {src.crs}, the others in {ref.crs}", files[name])
            if (src.width, src.height, src.transform) == (ref.width, ref.height, ref.transform):
                masked = _read(src, files[name], 1, window=window, masked=True)
            else:
                vrt = stack.enter_context(
                    WarpedVRT(
                        src,
                        crs=ref.crs,
                        transform=ref.transform,
                        width=ref.width,
                        height=ref.height,
                        resampling=Resampling.bilinear,
                    )
                )
                masked = _read(vrt, files[name], 1, window=window, masked=True)
                resampled.append(f"{name} ({abs(src.res[0]):g})")
            arrays.append(np.asarray(masked.data, dtype=np.float32))
            masks.append(~np.ma.getmaskarray(masked))
        if resampled:
            note(
                f"bands resampled bilinearly onto the finest band's grid (pixel size {abs(ref.res[0]):g}): "
                + ", ".join(resampled)
            )
        tags = {k.upper(): v for k, v in ref.tags().items()}
        if set(srcs) <= {"VV", "VH"} and any(folder.glob("*_labels_metadata.json")):
            tags.setdefault("CLIPZOO_LAYOUT", "bigearthnet-s1")  # BigEarthNet-S1 documents its values as dB
        raster = GeoRaster(
            path=str(folder),
            data=np.stack(arrays),
            valid=np.stack(masks),
            band_names=tuple(srcs),
            crs=ref.crs,
            transform=ref.window_transform(window) if window is not None else ref.transform,
            dtype=ref.dtypes[0],
            driver=f"folder of {ref.driver}",
            tags=tags,
            window=window,
        )
    if check:
        check_pixels(raster.data, raster.valid, folder)
    return raster


def chip_windows(width: int, height: int, size: int, stride: int | None = None) -> Iterator[Window]:
    """Windows of ``size`` x ``size`` pixels tiling a ``width`` x ``height`` raster (partial edge chips dropped)."""
    stride = stride or size
    for row in range(0, height - size + 1, stride):
        for col in range(0, width - size + 1, stride):
            yield Window(col, row, size, size)


def iter_chips(
    path: str | Path, size: int, stride: int | None = None, check: bool = True, cache_mb: int = 32
) -> Iterator[GeoRaster]:
    """Chips of a large scene, one windowed read each from one open dataset.

    Each block is decoded once, so GDAL's block cache (5% of RAM by default) is capped at ``cache_mb`` while
    iterating: memory stays that of a few chips whatever the scene size.
    """
    path = Path(path)
    try:
        src_ctx = rasterio.open(path)
    except (RasterioIOError, OSError) as err:
        raise _open_error(path, err) from err
    with rasterio.Env(GDAL_CACHEMAX=cache_mb), src_ctx as src:
        names, tags = _names(src), {k.upper(): v for k, v in src.tags().items()}
        for window in chip_windows(src.width, src.height, size, stride):
            data, valid = _unmask(_read(src, path, window=window, masked=True), src.nodatavals)
            if check and not valid.any():
                continue  # a chip entirely outside the swath
            if check:
                check_pixels(data, valid, path)
            yield GeoRaster(
                path=str(path),
                data=data,
                valid=valid,
                band_names=names,
                crs=src.crs,
                transform=src.window_transform(window),
                dtype=src.dtypes[0],
                driver=src.driver,
                tags=tags,
                window=window,
            )
