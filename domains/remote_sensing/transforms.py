"""From a sensor sample to the model's input: bands in the spec's order, physical normalisation, augmentation.

Sentinel-2: reflectance = DN / scale (10000 by default), standardised per band. Sentinel-1: the declared units are
converted to dB (power: 10 log10, amplitude: 20 log10), clipped, standardised per polarisation. Nodata pixels and
missing optional bands (B10 in L2A) become 0 after standardisation, i.e. the band mean. Training augmentation keeps
the physics: flips and 90-degree rotations for both sensors, multiplicative speckle on SAR linear power, and no
colour jitter on SAR.
"""

from __future__ import annotations

from typing import Any

import albumentations as A
import numpy as np
import torch
import torch.nn.functional as F
from clipzoo.core.errors import InputError
from clipzoo.core.notes import note

from .bands import S1_CLIP_DB, SENSOR_IDS, SensorBands
from .sensors import SensorSample


def to_db(values: np.ndarray, units: str) -> np.ndarray:
    """Backscatter in dB from declared power (sigma0, linear), amplitude (sqrt of power) or dB."""
    if units == "power":
        return 10.0 * np.log10(np.maximum(values, 1e-10))
    if units == "amplitude":
        return 20.0 * np.log10(np.maximum(values, 1e-5))
    if units == "dB":
        return values
    raise ValueError(f"unknown backscatter units {units!r}")


def select_bands(sample: SensorSample, bands: SensorBands) -> tuple[np.ndarray, np.ndarray]:
    """``(data, valid)`` with the spec's bands in the spec's order; absent optional bands are filled (invalid)
    and recorded in ``sample.raster.filled_bands``."""
    raster = sample.raster
    h, w = raster.data.shape[1:]
    data = np.zeros((len(bands.bands), h, w), dtype=np.float32)
    valid = np.zeros((len(bands.bands), h, w), dtype=bool)
    filled = []
    for i, name in enumerate(bands.bands):
        if name in sample.bands:
            j = sample.bands.index(name)
            data[i], valid[i] = raster.data[j], raster.valid[j]
        elif name in bands.optional:
            filled.append(name)
        else:
            raise ValueError(f"{raster.path}: band {name} of the model is absent from the sample")
    raster.filled_bands = tuple(filled)
    if filled:
        note(
            f"band{'s' if len(filled) > 1 else ''} {', '.join(filled)} absent from the input: zero-filled, "
            "so the answer may be less reliable"
        )
    return data, valid


def physical(sample: SensorSample, data: np.ndarray) -> np.ndarray:
    """S2 reflectance, or S1 backscatter in dB clipped to ``S1_CLIP_DB``."""
    if sample.sensor == "s2":
        return data / np.float32(sample.reflectance_scale)
    return np.clip(to_db(data, sample.units or "dB"), *S1_CLIP_DB)


def standardise(values: np.ndarray, valid: np.ndarray, bands: SensorBands) -> np.ndarray:
    mean = np.asarray(bands.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(bands.std, dtype=np.float32)[:, None, None]
    return np.where(valid, (values - mean) / std, 0.0).astype(np.float32)


def _geometric() -> A.Compose:
    return A.Compose([A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5), A.RandomRotate90(p=1.0)])


def _speckle() -> A.Compose:
    return A.Compose([A.MultiplicativeNoise(multiplier=(0.7, 1.3), per_channel=True, elementwise=True, p=0.5)])


class RemoteSensingTransform:
    """Sample -> ``{"pixels": [C, S, S], "sensor": id, "lonlat": [2] (NaN when unknown)}``.

    With ``require_location`` (training a model with a location encoder) a raster without CRS is refused.
    Augmentation draws its seed from numpy's global generator, which the trainer seeds per sample, so a resumed
    run repeats the augmentation of an uninterrupted one.
    """

    def __init__(self, sensors: dict[str, SensorBands], image_size: int, train: bool, require_location: bool = False):
        self.sensors, self.image_size, self.train = sensors, image_size, train
        self.require_location = require_location
        self.geometric, self.speckle = _geometric(), _speckle()

    def _augment(self, sample: SensorSample, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
        if sample.sensor == "s1":  # speckle is multiplicative on linear power
            self.speckle.set_random_seed(int(np.random.randint(2**31)))
            power = np.moveaxis(10.0 ** (values / 10.0), 0, -1).astype(np.float32)
            noisy = self.speckle(image=power)["image"]
            values = np.where(valid, np.clip(to_db(np.moveaxis(noisy, -1, 0), "power"), *S1_CLIP_DB), values)
        return values

    def __call__(self, sample: SensorSample) -> dict[str, Any]:
        bands = self.sensors.get(sample.sensor)
        if bands is None:
            hint = "; 3-band chips are read by an imported RGB model (clipzoo import)" if sample.sensor == "rgb" else ""
            raise InputError(
                f"this model has no encoder for {sample.sensor.upper()}: it reads "
                f"{', '.join(s.upper() for s in self.sensors)}{hint}",
                sample.raster.path,
            )
        data, valid = select_bands(sample, bands)
        values = physical(sample, data)
        if self.train:
            values = self._augment(sample, values, valid)
        pixels = standardise(values, valid, bands)
        if self.train:
            self.geometric.set_random_seed(int(np.random.randint(2**31)))
            pixels = np.moveaxis(self.geometric(image=np.moveaxis(pixels, 0, -1))["image"], -1, 0)
        tensor = torch.from_numpy(np.ascontiguousarray(pixels))
        if tensor.shape[-2:] != (self.image_size, self.image_size):
            tensor = F.interpolate(
                tensor[None], size=(self.image_size, self.image_size), mode="bilinear", antialias=True
            )[0]
        lonlat = sample.lonlat
        if lonlat is None and self.require_location:
            raise InputError(
                "raster has no CRS, so no location (lon/lat), but this model's location encoder trains on it",
                sample.raster.path,
            )
        return {
            "pixels": tensor,
            "sensor": SENSOR_IDS[sample.sensor],
            "lonlat": torch.tensor(lonlat if lonlat is not None else (float("nan"), float("nan"))),
        }


def collate_samples(items: list[dict[str, Any]], channels: int) -> dict[str, torch.Tensor]:
    """Mixed S1/S2 batches: pixels zero-padded to ``channels`` bands, with each row's sensor id and (lon, lat)."""
    first = items[0]["pixels"]
    pixels = first.new_zeros((len(items), channels, *first.shape[-2:]))
    for i, it in enumerate(items):
        pixels[i, : it["pixels"].shape[0]] = it["pixels"]
    return {
        "pixels": pixels,
        "sensor": torch.tensor([it["sensor"] for it in items], dtype=torch.long),
        "lonlat": torch.stack([it["lonlat"].float() for it in items]),
    }
