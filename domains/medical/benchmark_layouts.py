"""Standard chest X-ray benchmarks as published: CheXpert 5x200 and RSNA Pneumonia.

``chexpert-5x200``: the 5 competition findings x 200 images GLoRIA (Huang et al. 2021) and MedCLIP (Wang et al.
2022) sample from CheXpert; a CSV with the image path (``Path`` as in CheXpert's own CSVs, or MedCLIP's
``imgpath``) and one 0/1 column per finding, exactly one of the five set. Paths hold
``CheXpert-v1.0[-small]/<split>/patient<N>/study<K>/view<V>_<frontal|lateral>.jpg``; they are resolved from the
``CheXpert-v1.0...`` component on, under SOURCE. The manifest has ``path`` and ``finding`` (the class).

``rsna-pneumonia``: the RSNA Pneumonia Detection Challenge's ``stage_2_train_images/<patientId>.dcm`` and
``stage_2_train_labels.csv`` (``patientId,x,y,width,height,Target``, one row per box, one row with empty box for a
negative); one manifest row per patient with ``pneumonia`` = the max of its ``Target``.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pandas as pd
from clipzoo.core.domain import Converter
from clipzoo.core.errors import InputError
from clipzoo.core.files import read_table, write_csv

CHEXPERT_5X200_CLASSES = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion")
CHEXPERT_PATH_COLUMNS = ("Path", "imgpath")  # CheXpert's / GLoRIA's, MedCLIP's
RSNA_COLUMNS = ("patientId", "x", "y", "width", "height", "Target")


def chexpert_image(root: Path, recorded: str) -> Path:
    """The image a 5x200 CSV path names, under ``root``: from its ``CheXpert-v1.0...`` component on (so
    ``./data/CheXpert/data/CheXpert-v1.0-small/train/...`` and ``CheXpert-v1.0/valid/...`` both resolve)."""
    parts = PurePosixPath(str(recorded).replace("\\", "/")).parts
    start = next((i for i, p in enumerate(parts) if p.startswith("CheXpert-v1.0")), None)
    return root.joinpath(*parts[start:]) if start is not None else root / str(recorded)


def convert_chexpert_5x200(root: str | Path, out: str | Path, csv: str = "chexpert_5x200.csv") -> pd.DataFrame:
    """Write the 5x200 manifest (``path``, ``finding``); every row must have exactly one of the five findings."""
    root, out = Path(root), Path(out)
    table = root / csv
    frame = read_table(table, "CheXpert 5x200 CSV")
    path_column = next((c for c in CHEXPERT_PATH_COLUMNS if c in frame.columns), None)
    missing = [c for c in CHEXPERT_5X200_CLASSES if c not in frame.columns]
    if path_column is None or missing:
        raise InputError(
            f"CheXpert 5x200 CSV needs a path column {list(CHEXPERT_PATH_COLUMNS)} and the finding columns "
            f"{list(CHEXPERT_5X200_CLASSES)}; missing {missing or [' or '.join(CHEXPERT_PATH_COLUMNS)]}",
            table,
        )
    labels = frame[list(CHEXPERT_5X200_CLASSES)].fillna(0).astype(float)
    rows, absent = [], []
    for i, (recorded, values) in enumerate(zip(frame[path_column], labels.to_numpy(), strict=True)):
        positive = [c for c, v in zip(CHEXPERT_5X200_CLASSES, values, strict=True) if v == 1]
        if len(positive) != 1:
            raise InputError(f"row {i + 2} ({recorded}): expected exactly one of the 5 findings, got {positive}", table)
        image = chexpert_image(root, recorded)
        if not image.is_file():
            absent.append(str(image))
            continue
        rows.append((os.path.relpath(image.resolve(), out.parent.resolve()), positive[0]))
    if absent:
        raise InputError(f"{len(absent)} image(s) named by the CSV are missing, e.g. {absent[0]}", table)
    manifest = pd.DataFrame(rows, columns=["path", "finding"])
    write_csv(manifest, out)
    return manifest


def convert_rsna_pneumonia(
    root: str | Path,
    out: str | Path,
    labels: str = "stage_2_train_labels.csv",
    images: str = "stage_2_train_images",
    skip_missing: bool = False,
) -> pd.DataFrame:
    """Write the RSNA manifest (``path``, ``patientId``, ``pneumonia``, ``boxes``): one row per patient."""
    root, out = Path(root), Path(out)
    table = root / labels
    frame = read_table(table, "RSNA labels CSV")
    missing = [c for c in RSNA_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"RSNA labels CSV lacks columns {missing}; expected {list(RSNA_COLUMNS)}", table)
    if not set(frame["Target"].dropna().unique()) <= {0, 1} or frame["Target"].isna().any():
        raise InputError("column Target must hold 0 or 1 on every row", table)
    grouped = frame.groupby("patientId", sort=False).agg(pneumonia=("Target", "max"), boxes=("x", "count"))
    folder = root / images
    rows, absent = [], []
    for patient, rec in grouped.iterrows():
        dicom = folder / f"{patient}.dcm"
        if not dicom.is_file():
            absent.append(str(dicom))
            continue
        rows.append((os.path.relpath(dicom.resolve(), out.parent.resolve()), patient, int(rec.pneumonia), rec.boxes))
    if absent and not skip_missing:
        raise InputError(f"{len(absent)} DICOM file(s) named by the labels are missing, e.g. {absent[0]}", table)
    if not rows:
        raise InputError("no DICOM of the labels CSV was found", folder)
    manifest = pd.DataFrame(rows, columns=["path", "patientId", "pneumonia", "boxes"])
    write_csv(manifest, out)
    return manifest


def chexpert_5x200(source: str, out: str, *, csv: str = "chexpert_5x200.csv") -> str:
    """CheXpert 5x200 (GLoRIA / MedCLIP): SOURCE holds the 5x200 CSV and the CheXpert-v1.0[-small]/ images; OUT
    the manifest (.csv) with path and finding.

    Options: csv (the 5x200 CSV under SOURCE, default "chexpert_5x200.csv"; MedCLIP's is
    "chexpert-5x200-meta.csv").
    """
    manifest = convert_chexpert_5x200(source, out, str(csv))
    return f"wrote {out} ({len(manifest)} images: {manifest['finding'].value_counts().to_dict()})"


def rsna_pneumonia(
    source: str,
    out: str,
    *,
    labels: str = "stage_2_train_labels.csv",
    images: str = "stage_2_train_images",
    skip_missing: bool = False,
) -> str:
    """RSNA Pneumonia: SOURCE holds stage_2_train_labels.csv and stage_2_train_images/<patientId>.dcm; OUT the
    manifest (.csv) with path, patientId, pneumonia (0/1, the max over the patient's rows) and boxes.

    Options: labels (default "stage_2_train_labels.csv"); images (default "stage_2_train_images"); skip_missing
    (true: leave out patients whose DICOM is absent; default false).
    """
    manifest = convert_rsna_pneumonia(source, out, str(labels), str(images), skip_missing)
    return f"wrote {out} ({len(manifest)} patients, {int(manifest['pneumonia'].sum())} with pneumonia)"


BENCHMARK_CONVERTERS: tuple[Converter, ...] = (
    Converter("chexpert-5x200", chexpert_5x200, "CheXpert 5x200 (GLoRIA/MedCLIP): 5x200 CSV + CheXpert-v1.0 JPEGs"),
    Converter("rsna-pneumonia", rsna_pneumonia, "RSNA Pneumonia: stage_2_train_labels.csv + stage_2_train_images"),
)
