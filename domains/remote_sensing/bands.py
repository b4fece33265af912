"""Sentinel-1 and Sentinel-2 band names, the orders they come in, and the statistics inputs are normalised with.

The model's band order is recorded in its spec (``extra["sensors"]``): torchgeo / SSL4EO order B8A after B08, while
EuroSAT-MS files put B8A last; a file's bands are matched by name, never by position, whenever they are named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

S2_BANDS: tuple[str, ...] = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
EUROSAT_MS_ORDER: tuple[str, ...] = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12", "B8A",
)  # fmt: skip
S2_OPTIONAL: tuple[str, ...] = ("B10",)  # cirrus: absent from L2A products (BigEarthNet); zero-filled when missing
S1_BANDS: tuple[str, ...] = ("VV", "VH")
RGB_BANDS: tuple[str, ...] = ("red", "green", "blue")  # an 8-bit colour chip (PNG, JPEG, GeoTIFF)

# Approximate global statistics of Sentinel-2 L1C reflectance (DN / 10000) in S2_BANDS order, after SSL4EO-S12.
S2_MEAN: tuple[float, ...] = (
    0.1354, 0.1117, 0.1042, 0.0947, 0.1199, 0.2003, 0.2374, 0.2301, 0.2600, 0.0732, 0.0012, 0.1821, 0.1118,
)  # fmt: skip
S2_STD: tuple[float, ...] = (
    0.0897, 0.0736, 0.0685, 0.0620, 0.0792, 0.1341, 0.1595, 0.1546, 0.1750, 0.0475, 0.0098, 0.1217, 0.0737,
)  # fmt: skip
# Sentinel-1 GRD backscatter in dB: typical land means and spreads per polarisation, and the clipping range.
S1_MEAN_DB: tuple[float, ...] = (-12.5, -19.5)
S1_STD_DB: tuple[float, ...] = (5.0, 5.5)
S1_CLIP_DB: tuple[float, float] = (-40.0, 10.0)

S1_UNITS: tuple[str, ...] = ("power", "amplitude", "dB")
SENSOR_IDS: dict[str, int] = {"s1": 0, "s2": 1}


@dataclass(frozen=True)
class SensorBands:
    """One sensor's band order and normalisation, as recorded in a model spec."""

    name: str
    bands: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    optional: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "bands": list(self.bands),
            "mean": list(self.mean),
            "std": list(self.std),
            "optional": list(self.optional),
        }

    @classmethod
    def from_dict(cls, name: str, data: dict) -> SensorBands:
        bands = tuple(data["bands"])
        mean, std = tuple(float(v) for v in data["mean"]), tuple(float(v) for v in data["std"])
        if not len(bands) == len(mean) == len(std):
            raise ValueError(f"sensor {name}: {len(bands)} bands but {len(mean)} means and {len(std)} stds")
        return cls(name=name, bands=bands, mean=mean, std=std, optional=tuple(data.get("optional", ())))


def default_sensors() -> dict[str, SensorBands]:
    return {
        "s1": SensorBands("s1", S1_BANDS, S1_MEAN_DB, S1_STD_DB),
        "s2": SensorBands("s2", S2_BANDS, S2_MEAN, S2_STD, S2_OPTIONAL),
    }


def reorder(bands: SensorBands, order: tuple[str, ...]) -> SensorBands:
    """The same statistics for another band order (e.g. EuroSAT-MS's B8A-last)."""
    missing = sorted(set(order) ^ set(bands.bands))
    if missing:
        raise ValueError(f"order {order} and {bands.bands} differ in {missing}")
    idx = [bands.bands.index(b) for b in order]
    return SensorBands(
        bands.name, order, tuple(bands.mean[i] for i in idx), tuple(bands.std[i] for i in idx), bands.optional
    )


_S2_NAME = re.compile(r"^B0?(\d{1,2})(A?)$", re.IGNORECASE)


def canonical_band(name: str | None) -> str | None:
    """``B1``/``b01``/``B8a`` -> ``B01``/``B01``/``B8A``; ``vv`` -> ``VV``; anything else -> None."""
    if not name:
        return None
    text = name.strip()
    if text.upper() in S1_BANDS:
        return text.upper()
    m = _S2_NAME.match(text)
    if not m:
        return None
    number, a = int(m.group(1)), m.group(2).upper()
    cand = f"B{number}A" if a else f"B{number:02d}"
    return cand if cand in S2_BANDS else None
