"""Standard remote-sensing benchmarks as published: EuroSAT (RGB and 13-band MS) and BigEarthNet-19 (S2 and S1).

``eurosat``: Helber et al.'s class folders ``<Class>/<Class>_<n>.<ext>`` for the 10 classes, under ``EuroSAT_RGB/``
or ``2750/`` (RGB JPEGs, the RGB zip) or ``EuroSAT_MS/`` (13-band Sentinel-2 GeoTIFFs, the all-bands zip), or any
folder holding the class folders. The manifest has ``path``, ``eurosat_class`` (the folder name) and ``caption``
(CLIP's class name).

``bigearthnet-19``: BigEarthNet v1.0 patch folders (S2 ``<patch>_B01.tif``... or S1 ``<patch>_VV.tif``/``_VH.tif``,
each with ``<patch>_labels_metadata.json``) with their CORINE level-3 labels mapped to the 19-class nomenclature of
Sumbul et al. (2021): one 0/1 column per class; patches none of whose labels maps are left out, as in BigEarthNet-19.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from clipzoo.core.domain import Converter
from clipzoo.core.errors import InputError
from clipzoo.core.files import write_csv

from .convert import SENSORS, convert

# folder name -> CLIP's EuroSAT class name (OpenAI CLIP data/prompts.md; CLIP_benchmark en_classnames.json)
EUROSAT_CLASSES: dict[str, str] = {
    "AnnualCrop": "annual crop land",
    "Forest": "forest",
    "HerbaceousVegetation": "brushland or shrubland",
    "Highway": "highway or road",
    "Industrial": "industrial buildings or commercial buildings",
    "Pasture": "pasture land",
    "PermanentCrop": "permanent crop land",
    "Residential": "residential buildings or homes or apartments",
    "River": "river",
    "SeaLake": "lake or sea",
}
EUROSAT_FORMATS: dict[str, tuple[str, ...]] = {"rgb": (".jpg", ".jpeg", ".png"), "ms": (".tif", ".tiff")}
EUROSAT_FOLDERS = ("EuroSAT_RGB", "2750", "EuroSAT_MS", "EuroSAT", "EuroSATallBands")

# BigEarthNet-19 (Sumbul et al., IEEE TNNLS 2021): class -> the CORINE level-3 labels of BigEarthNet it merges.
BIGEARTHNET19: dict[str, tuple[str, ...]] = {
    "Urban fabric": ("Continuous urban fabric", "Discontinuous urban fabric"),
    "Industrial or commercial units": ("Industrial or commercial units",),
    "Arable land": ("Non-irrigated arable land", "Permanently irrigated land", "Rice fields"),
    "Permanent crops": ("Vineyards", "Fruit trees and berry plantations", "Olive groves",
                        "Annual crops associated with permanent crops"),
    "Pastures": ("Pastures",),
    "Complex cultivation patterns": ("Complex cultivation patterns",),
    "Land principally occupied by agriculture, with significant areas of natural vegetation": (
        "Land principally occupied by agriculture, with significant areas of natural vegetation",),
    "Agro-forestry areas": ("Agro-forestry areas",),
    "Broad-leaved forest": ("Broad-leaved forest",),
    "Coniferous forest": ("Coniferous forest",),
    "Mixed forest": ("Mixed forest",),
    "Natural grassland and sparsely vegetated areas": ("Natural grassland", "Sparsely vegetated areas"),
    "Moors, heathland and sclerophyllous vegetation": ("Moors and heathland", "Sclerophyllous vegetation"),
    "Transitional woodland, shrub": ("Transitional woodland/shrub",),
    "Beaches, dunes, sands": ("Beaches, dunes, sands",),
    "Inland wetlands": ("Inland marshes", "Peatbogs"),
    "Coastal wetlands": ("Salt marshes", "Salines"),
    "Inland waters": ("Water courses", "Water bodies"),
    "Marine waters": ("Coastal lagoons", "Estuaries", "Sea and ocean"),
}  # fmt: skip
CORINE_TO_19: dict[str, str] = {label: cls for cls, labels in BIGEARTHNET19.items() for label in labels}


def eurosat_class_root(root: Path) -> Path:
    """The folder holding EuroSAT's class folders: ``root`` itself or one of the published top folders."""
    for candidate in (root, *(root / name for name in EUROSAT_FOLDERS)):
        if candidate.is_dir() and any((candidate / c).is_dir() for c in EUROSAT_CLASSES):
            return candidate
    raise InputError(
        f"no EuroSAT class folders ({', '.join(EUROSAT_CLASSES)}) in it or in {', '.join(EUROSAT_FOLDERS)}", root
    )


def convert_eurosat(root: str | Path, out: str | Path, format: str = "rgb") -> pd.DataFrame:
    """Write the EuroSAT manifest (``path``, ``eurosat_class``, ``caption``) of every image of ``format``."""
    if format not in EUROSAT_FORMATS:
        raise InputError(f"option format must be one of {list(EUROSAT_FORMATS)}, got {format!r}")
    root, out = Path(root), Path(out)
    classes = eurosat_class_root(root)
    unknown = sorted(p.name for p in classes.iterdir() if p.is_dir() and p.name not in EUROSAT_CLASSES)
    if unknown:
        raise InputError(f"unknown EuroSAT class folder(s) {unknown}; expected {list(EUROSAT_CLASSES)}", classes)
    suffixes = EUROSAT_FORMATS[format]
    rows = []
    for name, caption in EUROSAT_CLASSES.items():
        folder = classes / name
        if not folder.is_dir():
            continue
        for image in sorted(folder.iterdir()):
            if image.suffix.lower() in suffixes:
                rows.append((os.path.relpath(image.resolve(), out.parent.resolve()), name, caption))
    if not rows:
        raise InputError(f"no {'/'.join(suffixes)} image in the EuroSAT class folders (format={format})", classes)
    frame = pd.DataFrame(rows, columns=["path", "eurosat_class", "caption"])
    write_csv(frame, out)
    return frame


def bigearthnet19_columns(labels: str) -> dict[str, int]:
    """The 19 0/1 columns of one patch's ``;``-joined CORINE labels."""
    present = {CORINE_TO_19[lb] for lb in labels.split(";") if lb in CORINE_TO_19}
    return {cls: int(cls in present) for cls in BIGEARTHNET19}


def convert_bigearthnet19(root: str | Path, out: str | Path, sensor: str = "s2") -> pd.DataFrame:
    """Write the BigEarthNet-19 manifest: the ``bigearthnet`` converter's columns plus one 0/1 column per class."""

    if sensor not in SENSORS:
        raise InputError(f"option sensor must be one of {list(SENSORS)}, got {sensor!r}")
    out = Path(out)
    frame = convert(root, out, sensor, keep_unmapped=True)
    extra = pd.DataFrame([bigearthnet19_columns(lb) for lb in frame["labels"]], index=frame.index)
    frame = pd.concat([frame, extra], axis=1)
    frame = frame[extra.sum(axis=1) > 0].reset_index(drop=True)
    if frame.empty:
        raise InputError(f"no {sensor} patch has a label of the 19-class nomenclature", root)
    write_csv(frame, out)
    return frame


def eurosat(source: str, out: str, *, format: str = "rgb") -> str:
    """EuroSAT: SOURCE holds the class folders (AnnualCrop, Forest, ...) directly or under EuroSAT_RGB/, 2750/ or
    EuroSAT_MS/; OUT the manifest (.csv) with path, eurosat_class and caption.

    Options: format ("rgb": the JPEGs of the RGB release, the default; "ms": the 13-band GeoTIFFs).
    """
    frame = convert_eurosat(source, out, str(format))
    return f"wrote {out} ({len(frame)} images, {frame['eurosat_class'].nunique()} classes)"


def bigearthnet_19(source: str, out: str, *, sensor: str = "s2") -> str:
    """BigEarthNet-19: SOURCE holds BigEarthNet-S2 and/or BigEarthNet-S1 v1.0 patch folders with their
    <patch>_labels_metadata.json; OUT the manifest (.csv) with the bigearthnet converter's columns and one 0/1
    column per BigEarthNet-19 class.

    Options: sensor ("s2", the default, "s1" or "both").
    """
    frame = convert_bigearthnet19(source, out, str(sensor))
    return f"wrote {out} ({len(frame)} {sensor} patches)"


BENCHMARK_CONVERTERS: tuple[Converter, ...] = (
    Converter("eurosat", eurosat, "EuroSAT: <Class>/<Class>_<n>.jpg (RGB) or .tif (13-band MS) class folders"),
    Converter("bigearthnet-19", bigearthnet_19, "BigEarthNet-S2/S1 v1.0 patch folders -> 19-class 0/1 columns"),
)
