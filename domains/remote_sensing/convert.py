"""Users' data: a manifest from BigEarthNet patch folders (Sentinel-2 L2A and/or Sentinel-1 GRD).

    clipzoo convert remote_sensing bigearthnet BIGEARTHNET_ROOT manifest.csv [--option sensor=s1|s2|both ...]

Each patch folder (``<patch>/<patch>_B02.tif``... or ``<patch>_VV.tif``/``_VH.tif`` with
``<patch>_labels_metadata.json``) becomes one row: ``path`` (the folder, relative to the manifest), ``caption`` (its
CORINE labels in words), ``sensor``, ``labels`` (``;``-joined), ``landcover`` (the first label that maps to one of
the six zero-shot classes) and the patch centre ``lon``/``lat``. Patches none of whose labels map are left out
unless ``keep_unmapped`` (then ``landcover`` is empty: fine for training, not for a held-out manifest).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from clipzoo.core.domain import Converter
from clipzoo.core.errors import InputError

from .raster import _band_files, read_band_folder

# CORINE level-3 labels of BigEarthNet (43-class nomenclature) -> the demo's land-cover classes.
CORINE_TO_LANDCOVER: dict[str, str] = {
    "Water bodies": "water", "Water courses": "water", "Sea and ocean": "water", "Coastal lagoons": "water",
    "Estuaries": "water",
    "Coniferous forest": "forest", "Broad-leaved forest": "forest", "Mixed forest": "forest",
    "Non-irrigated arable land": "cropland", "Permanently irrigated land": "cropland", "Rice fields": "cropland",
    "Annual crops associated with permanent crops": "cropland", "Complex cultivation patterns": "cropland",
    "Continuous urban fabric": "urban", "Discontinuous urban fabric": "urban",
    "Industrial or commercial units": "urban", "Port areas": "urban", "Airports": "urban",
    "Bare rock": "bare soil", "Sparsely vegetated areas": "bare soil", "Beaches, dunes, sands": "bare soil",
    "Mineral extraction sites": "bare soil", "Burnt areas": "bare soil",
    "Inland marshes": "flooded", "Salt marshes": "flooded", "Intertidal flats": "flooded", "Peatbogs": "flooded",
}  # fmt: skip
COLUMNS = ("path", "caption", "sensor", "labels", "landcover", "lon", "lat")


def patch_folders(root: Path) -> Iterator[Path]:
    """Every folder under ``root`` holding a BigEarthNet ``*_labels_metadata.json``, in sorted order."""
    for meta in sorted(root.rglob("*_labels_metadata.json")):
        yield meta.parent


def caption_for(labels: list[str]) -> str:
    words = [lb.lower() for lb in labels]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def patch_row(folder: Path, manifest_dir: Path) -> dict:
    """One manifest row for a patch folder; ``InputError`` naming the folder when it is not a usable patch."""
    metas = list(folder.glob("*_labels_metadata.json"))
    try:
        labels = list(json.loads(metas[0].read_text())["labels"])
    except (ValueError, KeyError, IndexError) as err:
        raise InputError(f"unreadable labels metadata: {err}", folder) from err
    if not labels:
        raise InputError("patch has no labels", folder)
    bands = set(_band_files(folder))
    sensor = "s1" if bands and bands <= {"VV", "VH"} else "s2"
    raster = read_band_folder(folder, require_location=True, check=False)  # the centre and a check of the files
    lon, lat = raster.lonlat
    landcover = next((CORINE_TO_LANDCOVER[lb] for lb in labels if lb in CORINE_TO_LANDCOVER), "")
    return {
        "path": os.path.relpath(folder, manifest_dir),
        "caption": caption_for(labels),
        "sensor": sensor,
        "labels": ";".join(labels),
        "landcover": landcover,
        "lon": round(lon, 6),
        "lat": round(lat, 6),
    }


def convert(root: str | Path, manifest: str | Path, sensor: str = "both", keep_unmapped: bool = False) -> pd.DataFrame:
    """Write ``manifest`` (CSV, JSONL or Parquet by suffix) for the patches under ``root``; returns its table."""
    root, manifest = Path(root), Path(manifest)
    if not root.is_dir():
        raise InputError("BigEarthNet root folder not found", root)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    rows = [patch_row(f, manifest.parent.resolve()) for f in patch_folders(root.resolve())]
    rows = [r for r in rows if sensor == "both" or r["sensor"] == sensor]
    if not keep_unmapped:
        rows = [r for r in rows if r["landcover"]]
    if not rows:
        raise InputError(f"no {sensor} patch with a mappable label under it", root)
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    writers = {".csv": lambda p: frame.to_csv(p, index=False), ".parquet": frame.to_parquet,
               ".jsonl": lambda p: frame.to_json(p, orient="records", lines=True)}  # fmt: skip
    if manifest.suffix not in writers:
        raise InputError("manifest must end in .csv, .jsonl or .parquet", manifest)
    writers[manifest.suffix](manifest)
    return frame


SENSORS = ("s1", "s2", "both")


def bigearthnet(source: str, out: str, *, sensor: str = "both", keep_unmapped: bool = False) -> str:
    """BigEarthNet: SOURCE holds patch folders (any depth) of Sentinel-2 L2A bands and/or Sentinel-1 VV/VH, each
    with its <patch>_labels_metadata.json; OUT the manifest (.csv, .jsonl or .parquet).

    Options: sensor ("s1", "s2" or "both", the default); keep_unmapped (true: keep patches none of whose labels maps
    to a land-cover class, with an empty landcover; default false).
    """
    if sensor not in SENSORS:
        raise InputError(f"option sensor must be one of {list(SENSORS)}, got {sensor!r}")
    frame = convert(source, out, sensor, keep_unmapped)
    return f"{out}: {len(frame)} patches ({frame['sensor'].value_counts().to_dict()})"


CONVERTERS: dict[str, Converter] = {
    c.name: c
    for c in (
        Converter("bigearthnet", bigearthnet, "BigEarthNet: patch folders of S2 bands / S1 VV+VH + labels metadata"),
    )
}
