"""The ``rgb`` input of imported RGB models (RemoteCLIP, GeoRSCLIP, SkyCLIP): 8-bit colour chips and Sentinel-2 true
colour, fed through the checkpoint's own open_clip preprocessing.

Such models were trained on 8-bit RGB renderings of aerial and satellite imagery, so every input becomes an 8-bit RGB
image first. PNG and JPEG chips are decoded by Pillow, as those models' own pipelines decode them (GDAL's JPEG decoder
rounds differently); GeoTIFF chips through rasterio. An RGB chip (PNG, JPEG, 3-band uint8 GeoTIFF) is used as it is. A
Sentinel-2 scene or band folder (12/13 bands) becomes true colour: B04, B03, B02 as reflectance (DN /
``REFLECTANCE_SCALE``, 10000 for L1C/L2A), times a gain of 2.5, clipped to [0, 1] and quantised to 8 bits. The gain is
Sentinel Hub's standard true-colour rendering (``return [2.5 * B04, 2.5 * B03, 2.5 * B02]``): reflectance 0.4 is
white, which keeps land, water and vegetation in the mid-range where RGB photographs lie, whereas the raw reflectance
(mostly below 0.3) renders almost black. L2A products of processing baseline 04.00 or later carry a BOA offset of
-1000 DN that must be removed before (or the scale tagged accordingly). Nodata pixels become black. Sentinel-1 has no
colour and is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from affine import Affine
from clipzoo.core.errors import InputError
from clipzoo.core.images import CheckpointPixels, rgb8, spec_image_transform
from clipzoo.core.spec import ModelSpec
from PIL import Image, UnidentifiedImageError

from .raster import GeoRaster
from .sensors import SensorSample

RGB_KEY = "rgb"  # spec.extra: the model reads RGB (its true-colour rendering of Sentinel-2 under it)
TRUE_COLOUR_BANDS = ("B04", "B03", "B02")
TRUE_COLOUR_GAIN = 2.5
RGB_SUFFIXES = (".png", ".jpg", ".jpeg")


def read_picture(path: str | Path) -> GeoRaster:
    """A PNG/JPEG chip decoded by Pillow as RGB (no georeferencing), with every pixel valid."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    try:
        with Image.open(path) as img:
            pixels = np.asarray(rgb8(img)).transpose(2, 0, 1)
            driver = str(img.format)
    except (UnidentifiedImageError, OSError) as err:
        raise InputError(f"not an image Pillow can read: {err}", path) from err
    data = pixels.astype(np.float32)
    return GeoRaster(
        path=str(path),
        data=data,
        valid=np.ones(data.shape, dtype=bool),
        band_names=(None, None, None),
        crs=None,
        transform=Affine.identity(),
        dtype="uint8",
        driver=driver,
    )


def rgb_config(spec: ModelSpec) -> dict[str, Any] | None:
    """The spec's RGB input settings, or None for a Sentinel-1/2 (multi-sensor) model."""
    return spec.extra.get(RGB_KEY)


def rgb_spec(spec: ModelSpec) -> ModelSpec:
    """An imported RGB checkpoint's spec: reads RGB chips, and Sentinel-2 as true colour (stated for the card)."""
    config = {"true_colour_bands": list(TRUE_COLOUR_BANDS), "gain": TRUE_COLOUR_GAIN}
    notes = [
        "remote sensing `rgb` sensor: 8-bit RGB chips (PNG, JPEG, 3-band uint8 GeoTIFF) as they are, through the "
        "checkpoint's own preprocessing; Sentinel-1 is refused",
        f"Sentinel-2 scenes as true colour: {', '.join(TRUE_COLOUR_BANDS)} reflectance (DN / 10000) x "
        f"{TRUE_COLOUR_GAIN}, clipped to [0, 1], 8-bit (Sentinel Hub's true-colour rendering)",
    ]
    return spec.with_input_notes(*notes, **{RGB_KEY: config})


def true_colour(
    sample: SensorSample, gain: float = TRUE_COLOUR_GAIN, bands: tuple[str, ...] = TRUE_COLOUR_BANDS
) -> np.ndarray:
    """``[H, W, 3]`` uint8 true colour of a Sentinel-2 sample (see the module doc)."""
    raster = sample.raster
    idx = [sample.bands.index(b) for b in bands]
    reflectance = raster.data[idx] / np.float32(sample.reflectance_scale)
    colour = np.clip(reflectance * np.float32(gain), 0.0, 1.0)
    colour = np.where(raster.valid[idx].all(axis=0), colour, 0.0)
    return np.round(colour * 255.0).astype(np.uint8).transpose(1, 2, 0)


def rgb_image(
    sample: SensorSample, gain: float = TRUE_COLOUR_GAIN, bands: tuple[str, ...] = TRUE_COLOUR_BANDS
) -> Image.Image:
    """The 8-bit RGB image an RGB model sees for ``sample``; Sentinel-1 is refused, naming the file."""
    if sample.sensor == "s2":
        return Image.fromarray(true_colour(sample, gain, bands))
    if sample.sensor != "rgb":
        raise InputError(
            f"this RGB model reads 8-bit RGB chips and Sentinel-2 (as true colour), not {sample.sensor.upper()}: "
            "SAR backscatter has no colour",
            sample.raster.path,
        )
    raster = sample.raster
    pixels = np.where(raster.valid, raster.data, 0.0).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(pixels.transpose(1, 2, 0)))


class RGBTransform:
    """Sample -> ``[3, S, S]``: its RGB image through open_clip's transform with the checkpoint's preprocessing."""

    def __init__(self, spec: ModelSpec, train: bool):
        config = rgb_config(spec) or {}
        self.gain = float(config.get("gain", TRUE_COLOUR_GAIN))
        self.bands = tuple(config.get("true_colour_bands", TRUE_COLOUR_BANDS))
        self.image = CheckpointPixels(spec) if spec.imported and not train else spec_image_transform(spec, train)

    def __call__(self, sample: SensorSample) -> torch.Tensor:
        return self.image(rgb_image(sample, self.gain, self.bands))
