"""Synthetic Sentinel-2 (13-band) and Sentinel-1 (VV, VH) GeoTIFF chips written with rasterio, with captions.

Six land-cover classes with realistic signatures: S2 top-of-atmosphere reflectance spectra (water dark beyond red,
vegetation's red edge and NIR plateau, soil rising into SWIR, flooded land a turbid water/vegetation mix) and S1
backscatter levels (water specular and dark, urban and flooded vegetation bright through double bounce, forest
volume scattering high in VH) with multiplicative Gamma speckle (ENL 4.4, as GRD). Chips are georeferenced in
UTM 32N (EPSG:32632, 10 m pixels) with geographic structure: three chips in four lie near one of their class's two
regions (water at lakes, flooded land on floodplains, urban at cities...; Gaussian spread 40 km), the rest anywhere
in the zone, so a chip's location says something, though not everything, about its land cover (GeoCLOSP). S1 and
S2 chips are drawn independently (unpaired, as CLOSP trains): they share no scene. S1 files declare their units
(power, amplitude or dB, mixed) in ``BACKSCATTER_UNITS``; one S2 chip in ten has a nodata (0) corner, like a swath
edge. Captions never use the prompt packs' wordings.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import rasterio
import torch
import torch.nn.functional as F
from clipzoo.core.files import demo_is_current, mark_demo_complete, package_json
from rasterio.crs import CRS
from rasterio.transform import from_origin

from .bands import S1_BANDS, S2_BANDS

FORMAT_VERSION = 2
CLASSES: tuple[str, ...] = ("water", "forest", "cropland", "urban", "bare soil", "flooded")
UTM_32N = CRS.from_epsg(32632)
PIXEL_M = 10.0
ENL = 4.4  # equivalent number of looks of S1 GRD: speckle ~ Gamma(ENL, 1/ENL)

# Reflectance in S2_BANDS order: B01 B02 B03 B04 B05 B06 B07 B08 B8A B09 B10 B11 B12
S2_SIGNATURES: dict[str, tuple[float, ...]] = {
    "water": (0.085, 0.070, 0.058, 0.038, 0.030, 0.022, 0.020, 0.018, 0.015, 0.008, 0.0015, 0.010, 0.006),
    "forest": (0.040, 0.032, 0.050, 0.028, 0.075, 0.210, 0.270, 0.290, 0.305, 0.095, 0.0030, 0.145, 0.065),
    "cropland": (0.045, 0.045, 0.080, 0.045, 0.125, 0.320, 0.400, 0.430, 0.445, 0.140, 0.0035, 0.215, 0.105),
    "urban": (0.115, 0.110, 0.120, 0.130, 0.140, 0.150, 0.160, 0.170, 0.172, 0.070, 0.0045, 0.210, 0.190),
    "bare soil": (0.095, 0.100, 0.145, 0.195, 0.225, 0.245, 0.262, 0.275, 0.290, 0.120, 0.0050, 0.345, 0.300),
    "flooded": (0.090, 0.085, 0.095, 0.075, 0.080, 0.090, 0.095, 0.098, 0.095, 0.035, 0.0020, 0.045, 0.022),
}
# Where chips lie: UTM 32N easting/northing bounds (about 3-13 E, 40-56 N) and two regions per class.
ZONE_X, ZONE_Y = (200_000.0, 800_000.0), (4_450_000.0, 6_200_000.0)
REGIONS: dict[str, tuple[tuple[float, float], ...]] = {
    "water": ((530_000.0, 5_270_000.0), (300_000.0, 6_050_000.0)),
    "forest": ((430_000.0, 5_330_000.0), (700_000.0, 5_600_000.0)),
    "cropland": ((350_000.0, 5_800_000.0), (650_000.0, 4_800_000.0)),
    "urban": ((690_000.0, 5_330_000.0), (515_000.0, 5_035_000.0)),
    "bare soil": ((280_000.0, 4_600_000.0), (750_000.0, 6_000_000.0)),
    "flooded": ((600_000.0, 4_980_000.0), (420_000.0, 5_900_000.0)),
}
REGIONAL_FRACTION, REGION_SPREAD_M = 0.75, 40_000.0
# Mean backscatter (VV, VH) in dB.
S1_BACKSCATTER_DB: dict[str, tuple[float, float]] = {
    "water": (-21.0, -28.0),
    "forest": (-7.5, -13.0),
    "cropland": (-11.0, -17.5),
    "urban": (-3.0, -10.5),
    "bare soil": (-14.0, -22.5),
    "flooded": (-4.5, -18.5),
}

# Caption vocabulary; prompts.json speaks of satellite images, imagery, overhead views: captions never do.
_PHRASES: dict[str, tuple[str, ...]] = {
    "water": ("open water", "a lake", "a reservoir", "calm deep water"),
    "forest": ("dense forest", "woodland canopy", "conifer forest", "closed tree cover"),
    "cropland": ("cropland", "agricultural fields", "farmland with crops", "cultivated field parcels"),
    "urban": ("an urban area", "built-up land", "town buildings and streets", "dense city blocks"),
    "bare soil": ("bare soil", "exposed earth", "ploughed bare ground", "barren land"),
    "flooded": ("flooded land", "inundated fields", "floodwater among vegetation", "a flooded plain"),
}
_TEMPLATES: tuple[str, ...] = (
    "{p}{s}",
    "mostly {p}{s}",
    "a tile dominated by {p}{s}",
    "{p} covering most of the scene{s}",
    "{p}{s}, seen from orbit",
    "ground below: {p}{s}",
)
_SECONDARY: tuple[str, ...] = (" with some {}", ", next to {}", " and a patch of {}")
_MANIFEST_COLUMNS = ("path", "caption", "sensor", "landcover", "lon", "lat")
_CHIP_NAME = re.compile(r"^\d{6,}\.tif$")


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def make_caption(primary: str, secondary: str | None, rng: np.random.Generator) -> str:
    s = _pick(rng, _SECONDARY).format(_PHRASES[secondary][0]) if secondary else ""
    return _pick(rng, _TEMPLATES).format(p=_pick(rng, _PHRASES[primary]), s=s)


def _smooth_field(rng: np.random.Generator, size: int, cells: int = 4) -> np.ndarray:
    coarse = torch.from_numpy(rng.standard_normal((1, 1, cells, cells)).astype(np.float32))
    return F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)[0, 0].numpy()


def class_map(primary: str, rng: np.random.Generator, size: int) -> tuple[np.ndarray, str | None, float]:
    """Per-pixel class index map: the primary class with, sometimes, a smooth patch of a secondary one."""
    labels = np.full((size, size), CLASSES.index(primary), dtype=np.int64)
    if rng.random() < 0.5:
        return labels, None, 0.0
    secondary = _pick(rng, tuple(c for c in CLASSES if c != primary))
    fraction = float(rng.uniform(0.12, 0.3))
    field = _smooth_field(rng, size)
    labels[field > np.quantile(field, 1 - fraction)] = CLASSES.index(secondary)
    return labels, secondary, fraction


def _texture(name: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """A multiplicative spatial texture per class: field stripes, city blocks, canopy, smooth water."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if name == "cropland":
        angle, period = rng.uniform(0, np.pi), rng.uniform(6, 12)
        u = xx * np.cos(angle) + yy * np.sin(angle)
        return np.where((u // period) % 2 == 0, 1.0, rng.uniform(0.65, 0.85)).astype(np.float32)
    if name == "urban":
        block = int(rng.integers(5, 9))
        streets = ((xx % block) < 1) | ((yy % block) < 1)
        blocks = rng.uniform(0.8, 1.25, size=(size // block + 1, size // block + 1))
        return np.where(streets, 0.75, blocks[(yy // block).astype(int), (xx // block).astype(int)]).astype(np.float32)
    spread = {"forest": 0.10, "water": 0.02, "flooded": 0.08, "bare soil": 0.05}[name]
    return (1.0 + spread * _smooth_field(rng, size, cells=8)).astype(np.float32)


def render_s2(primary: str, rng: np.random.Generator, size: int) -> tuple[np.ndarray, str | None]:
    """uint16 DN (reflectance x 10000) ``[13, size, size]``, 0 = nodata."""
    labels, secondary, _ = class_map(primary, rng, size)
    refl = np.zeros((len(S2_BANDS), size, size), dtype=np.float32)
    for k, name in enumerate(CLASSES):
        where = labels == k
        if not where.any():
            continue
        signature = np.asarray(S2_SIGNATURES[name], dtype=np.float32)[:, None, None]
        gain = rng.normal(1.0, 0.08)  # illumination, phenology
        refl += where * signature * gain * _texture(name, rng, size)[None]
    refl *= 1.0 + rng.normal(0.0, 0.02, size=refl.shape).astype(np.float32)
    dn = np.clip(np.rint(refl * 10000.0), 1, 65535).astype(np.uint16)
    if rng.random() < 0.1:  # a swath edge
        yy, xx = np.mgrid[0:size, 0:size]
        dn[:, xx + yy < rng.integers(size // 4, size // 2)] = 0
    return dn, secondary


def render_s1_power(primary: str, rng: np.random.Generator, size: int) -> tuple[np.ndarray, str | None]:
    """Linear backscatter power (sigma0) ``[2, size, size]`` with Gamma speckle."""
    labels, secondary, _ = class_map(primary, rng, size)
    db = np.zeros((2, size, size), dtype=np.float32)
    for k, name in enumerate(CLASSES):
        where = labels == k
        if not where.any():
            continue
        level = np.asarray(S1_BACKSCATTER_DB[name], dtype=np.float32)[:, None, None] + rng.normal(0.0, 1.0)
        db += where * (level + 10.0 * np.log10(_texture(name, rng, size)))
    speckle = rng.gamma(ENL, 1.0 / ENL, size=db.shape).astype(np.float32)
    return (10.0 ** (db / 10.0) * speckle).astype(np.float32), secondary


def _profile(count: int, dtype: str, size: int, x0: float, y0: float, nodata: float | None) -> dict:
    return {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": count,
        "dtype": dtype,
        "crs": UTM_32N,
        "transform": from_origin(x0, y0, PIXEL_M, PIXEL_M),
        "nodata": nodata,
        "tiled": False,
        "compress": "deflate",
    }


def write_s2_chip(path: Path, dn: np.ndarray, x0: float, y0: float) -> None:
    with rasterio.open(path, "w", **_profile(len(S2_BANDS), "uint16", dn.shape[-1], x0, y0, 0)) as dst:
        dst.write(dn)
        dst.descriptions = S2_BANDS
        dst.update_tags(SENSOR="S2", REFLECTANCE_SCALE="10000", PRODUCT="synthetic L1C")


def write_s1_chip(path: Path, power: np.ndarray, units: str, x0: float, y0: float) -> None:
    values = {"power": power, "amplitude": np.sqrt(power), "dB": 10.0 * np.log10(power)}[units].astype(np.float32)
    with rasterio.open(path, "w", **_profile(len(S1_BANDS), "float32", power.shape[-1], x0, y0, None)) as dst:
        dst.write(values)
        dst.descriptions = S1_BANDS
        dst.update_tags(SENSOR="S1", BACKSCATTER_UNITS=units, PRODUCT="synthetic GRD")


def _balanced(rng: np.random.Generator, n: int) -> list[str]:
    idx = np.resize(np.arange(len(CLASSES)), n)
    rng.shuffle(idx)
    return [CLASSES[i] for i in idx]


def chip_origin(primary: str, rng: np.random.Generator) -> tuple[float, float]:
    """Upper-left UTM corner of a chip: near one of its class's regions, or (one time in four) anywhere."""
    if rng.random() < REGIONAL_FRACTION:
        cx, cy = REGIONS[primary][int(rng.integers(len(REGIONS[primary])))]
        x, y = rng.normal((cx, cy), REGION_SPREAD_M)
    else:
        x, y = rng.uniform(ZONE_X[0], ZONE_X[1]), rng.uniform(ZONE_Y[0], ZONE_Y[1])
    return float(np.clip(x, *ZONE_X)), float(np.clip(y, *ZONE_Y))


def utm_to_lonlat(x: float, y: float) -> tuple[float, float]:
    from rasterio.warp import transform

    lon, lat = transform(UTM_32N, "EPSG:4326", [x], [y])
    return round(float(lon[0]), 6), round(float(lat[0]), 6)


def _write_split(root: Path, name: str, start: int, n_per_sensor: int, size: int, rng: np.random.Generator):
    import pandas as pd

    rows = []
    index = start
    for sensor in ("s2", "s1"):
        (root / sensor).mkdir(parents=True, exist_ok=True)
        for primary in _balanced(rng, n_per_sensor):
            x0, y0 = chip_origin(primary, rng)
            rel = f"{sensor}/{index:06d}.tif"
            if sensor == "s2":
                dn, secondary = render_s2(primary, rng, size)
                write_s2_chip(root / rel, dn, x0, y0)
            else:
                power, secondary = render_s1_power(primary, rng, size)
                write_s1_chip(root / rel, power, _pick(rng, ("power", "amplitude", "dB")), x0, y0)
            lon, lat = utm_to_lonlat(x0 + size * PIXEL_M / 2, y0 - size * PIXEL_M / 2)
            rows.append((rel, make_caption(primary, secondary, rng), sensor, primary, lon, lat))
            index += 1
    manifest, tmp = root / f"{name}.csv", root / f".{name}.csv.tmp"
    pd.DataFrame(rows, columns=list(_MANIFEST_COLUMNS)).to_csv(tmp, index=False)
    os.replace(tmp, manifest)
    return manifest, {r[0] for r in rows}


def write_demo_dataset(
    root: Path | str, n_train: int = 900, n_heldout: int = 150, size: int = 32, seed: int = 0
) -> dict[str, Path]:
    """Write ``root/{s1,s2}/*.tif`` and manifests ``train.csv`` / ``heldout.csv`` (``n_*`` chips per sensor).

    Columns: ``path``, ``caption``, ``sensor`` (s1/s2), ``landcover``, ``lon``, ``lat`` (chip centre, WGS84).
    ``root/DONE.json`` records the arguments: a re-run with the same ones returns at once.
    """
    if n_train < 1 or n_heldout < 1 or size < 8:
        raise ValueError(f"need n_train, n_heldout >= 1 and size >= 8; got {n_train}, {n_heldout}, {size}")
    root = Path(root)
    paths = {"train": root / "train.csv", "heldout": root / "heldout.csv"}
    args = {"format": FORMAT_VERSION, "n_train": n_train, "n_heldout": n_heldout, "size": size, "seed": seed}
    if demo_is_current(root, args, list(paths.values())):
        return paths
    root.mkdir(parents=True, exist_ok=True)
    train_rng, heldout_rng = (np.random.default_rng([seed, stream]) for stream in (0, 1))
    _, train_files = _write_split(root, "train", 0, n_train, size, train_rng)
    _, heldout_files = _write_split(root, "heldout", 2 * n_train, n_heldout, size, heldout_rng)
    keep = train_files | heldout_files
    for sensor in ("s1", "s2"):
        for stale in (root / sensor).iterdir():
            if _CHIP_NAME.match(stale.name) and f"{sensor}/{stale.name}" not in keep:
                stale.unlink()
    mark_demo_complete(root, args)
    return paths


def load_prompt_packs() -> dict[str, dict]:
    return package_json("clipzoo.domains.remote_sensing", "prompts.json")
