"""Which sensor a raster comes from, whether its bands fit that sensor, and how its values are declared.

A raster says what it is through its tags and band names (``SENSOR=S2``, band descriptions ``B01``..``B12``/``B8A`` or
``VV``/``VH``); unnamed bands are taken in the order of their count: 13 -> B01..B08, B8A, B09..B12 (torchgeo), 12 ->
the same without B10 (L2A, BigEarthNet), 2 -> VV, VH, 3 -> an 8-bit RGB chip (PNG, JPEG, GeoTIFF: the input of RGB
models such as RemoteCLIP, ``rgb.py``; ``SENSOR=RGB`` also says so). Sentinel-1 units (power, amplitude or dB) must be
declared by the ``BACKSCATTER_UNITS`` tag (or by a layout that documents them, BigEarthNet-S1: dB), never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from clipzoo.core.errors import InputError

from .bands import RGB_BANDS, S1_BANDS, S1_UNITS, S2_BANDS, S2_OPTIONAL
from .raster import GeoRaster

SENSOR_ALIASES = {
    "s1": "s1", "sentinel-1": "s1", "sentinel1": "s1", "sar": "s1",
    "s2": "s2", "sentinel-2": "s2", "sentinel2": "s2", "msi": "s2",
    "rgb": "rgb",
}  # fmt: skip
S2_REQUIRED = tuple(b for b in S2_BANDS if b not in S2_OPTIONAL)
_EXPECTED = {
    "s1": "Sentinel-1 needs 2 bands (VV, VH)",
    "s2": "Sentinel-2 needs 13 bands (B01..B12 with B8A) or 12 without B10",
    "rgb": "an RGB chip has 3 unnamed bands of 8-bit values (uint8)",
}


@dataclass
class SensorSample:
    """A raster known to be one sensor's, with canonical band names and the declared meaning of its values."""

    raster: GeoRaster
    sensor: str
    bands: tuple[str, ...]
    units: str | None = None  # Sentinel-1: "power" | "amplitude" | "dB"
    reflectance_scale: float = 10000.0  # Sentinel-2: DN per unit reflectance

    @property
    def lonlat(self) -> tuple[float, float] | None:
        return self.raster.lonlat


def _sensor_from_tags(raster: GeoRaster) -> str | None:
    tag = raster.tags.get("SENSOR") or raster.tags.get("MISSION")
    if tag is None:
        return None
    sensor = SENSOR_ALIASES.get(tag.strip().lower())
    if sensor is None:
        raise InputError(f"unknown SENSOR tag {tag!r}; use S1, S2 or RGB", raster.path)
    return sensor


def _sensor_from_names(raster: GeoRaster, names: list[str]) -> str:
    if set(names) <= set(S1_BANDS):
        return "s1"
    if set(names) <= set(S2_BANDS):
        return "s2"
    raise InputError(f"bands {names} mix Sentinel-1 and Sentinel-2 names", raster.path)


def _describe(raster: GeoRaster) -> str:
    return f"a {raster.driver} raster with {raster.count} band(s) of {raster.dtype}"


def identify(raster: GeoRaster) -> SensorSample:
    """Name the sensor and bands of ``raster`` and check they fit; ``InputError`` naming the file otherwise."""
    named = [n for n in raster.band_names if n]
    sensor = _sensor_from_tags(raster) or (_sensor_from_names(raster, named) if named else None)
    if sensor is None:
        sensor = {2: "s1", 3: "rgb", 12: "s2", 13: "s2"}.get(raster.count)
        if sensor is None:
            raise InputError(
                f"{_describe(raster)} is neither Sentinel-1 (VV, VH) nor Sentinel-2 (13 bands B01..B12 with B8A, "
                "or 12 without B10) nor an 8-bit RGB chip (3 bands); name its bands or tag SENSOR",
                raster.path,
            )
    if sensor == "rgb":
        return _rgb_sample(raster, named)
    if len(named) == raster.count:
        bands = tuple(named)
    elif named:
        raise InputError(f"only {len(named)} of {raster.count} bands are named: name all or none", raster.path)
    elif sensor == "s1" and raster.count == 2:
        bands = S1_BANDS
    elif sensor == "s2" and raster.count in (12, 13):
        bands = S2_BANDS if raster.count == 13 else S2_REQUIRED
    else:
        raise InputError(f"wrong band count for the sensor: {_describe(raster)}; {_EXPECTED[sensor]}", raster.path)
    _check_bands(raster, sensor, bands)
    sample = SensorSample(raster=raster, sensor=sensor, bands=bands)
    if sensor == "s1":
        sample.units = declared_units(raster)
    else:
        scale = raster.tags.get("REFLECTANCE_SCALE")
        sample.reflectance_scale = float(scale) if scale else 10000.0
    return sample


def _rgb_sample(raster: GeoRaster, named: list[str]) -> SensorSample:
    """A 3-band 8-bit colour chip; wider values have no colour rendering declared, so they are refused."""
    if raster.count != 3 or named:
        raise InputError(f"wrong bands for RGB in {_describe(raster)}; {_EXPECTED['rgb']}", raster.path)
    if raster.dtype != "uint8":
        raise InputError(
            f"{_describe(raster)}: RGB chips are read as 8-bit colour; give an 8-bit chip, or the Sentinel-2 scene "
            "itself (12/13 bands), which an RGB model reads as true colour",
            raster.path,
        )
    return SensorSample(raster=raster, sensor="rgb", bands=RGB_BANDS)


def _check_bands(raster: GeoRaster, sensor: str, bands: tuple[str, ...]) -> None:
    dupes = sorted({b for b in bands if bands.count(b) > 1})
    if dupes:
        raise InputError(f"bands {dupes} occur more than once", raster.path)
    allowed = S1_BANDS if sensor == "s1" else S2_BANDS
    required = S1_BANDS if sensor == "s1" else S2_REQUIRED
    foreign = [b for b in bands if b not in allowed]
    missing = [b for b in required if b not in bands]
    if foreign or missing:
        what = "; ".join([f"missing {missing}"] * bool(missing) + [f"unexpected {foreign}"] * bool(foreign))
        raise InputError(
            f"wrong bands for {sensor.upper()} in {_describe(raster)}: {what}; {_EXPECTED[sensor]}", raster.path
        )


def declared_units(raster: GeoRaster) -> str:
    """Sentinel-1 units from the ``BACKSCATTER_UNITS`` tag, or the BigEarthNet-S1 layout's documented dB."""
    tag = raster.tags.get("BACKSCATTER_UNITS") or raster.tags.get("UNITS")
    if tag is None and raster.tags.get("CLIPZOO_LAYOUT") == "bigearthnet-s1":
        return "dB"
    if tag is None:
        raise InputError(
            "Sentinel-1 backscatter units are not declared: tag the file BACKSCATTER_UNITS=power|amplitude|dB",
            raster.path,
        )
    by_lower = {u.lower(): u for u in S1_UNITS}
    if tag.strip().lower() not in by_lower:
        raise InputError(f"BACKSCATTER_UNITS={tag!r}; declare one of {list(S1_UNITS)}", raster.path)
    return by_lower[tag.strip().lower()]
