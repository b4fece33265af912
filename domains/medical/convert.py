"""Users' data: turn CT-RATE's layout into a clipzoo manifest (path, caption, finding columns).

CT-RATE (Hamamci et al.) ships volumes as ``<split>/<patient>/<study>/<VolumeName>.nii.gz`` (e.g.
``train/train_1/train_1_a/train_1_a_1.nii.gz``), reports as a CSV with ``VolumeName``, ``Findings_EN`` and
``Impressions_EN``, and optionally multi-abnormality labels as a CSV with ``VolumeName`` and one 0/1 column per
abnormality. The manifest's caption is findings + impression; the label columns keep their names in snake case, and
the three the demo's finding prompts know (``nodule``, ``effusion``, ``cardiomegaly``) are added under those names.

    clipzoo convert medical ct-rate CT-RATE/dataset train.csv [--option split=valid --option skip_missing=true ...]
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
from clipzoo.core.domain import Converter
from clipzoo.core.errors import InputError

FINDING_COLUMNS = {"Lung nodule": "nodule", "Pleural effusion": "effusion", "Cardiomegaly": "cardiomegaly"}
_REPORT_COLUMNS = ("VolumeName", "Findings_EN", "Impressions_EN")
_DROP = (*_REPORT_COLUMNS, "ClinicalInformation_EN", "Technique_EN")


def _snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def _volume_path(root: Path, split: str, volume: str) -> Path:
    """``train_1_a_1.nii.gz`` -> ``root/train/train_1/train_1_a/train_1_a_1.nii.gz``."""
    parts = volume.removesuffix(".nii.gz").split("_")
    if len(parts) < 4:
        raise InputError(f"unexpected CT-RATE volume name {volume!r} (expected <split>_<n>_<letter>_<k>.nii.gz)")
    patient, study = "_".join(parts[:2]), "_".join(parts[:3])
    return root / split / patient / study / volume


def _caption(row: pd.Series) -> str:
    parts = [str(row[c]).strip() for c in ("Findings_EN", "Impressions_EN") if isinstance(row.get(c), str)]
    return " ".join(p for p in parts if p)


def convert_ct_rate(
    root: str | Path,
    split: str,
    out: str | Path,
    reports: str | Path | None = None,
    labels: str | Path | None = None,
    skip_missing: bool = False,
) -> Path:
    """Write a manifest (CSV/JSONL/Parquet by ``out``'s suffix) for one CT-RATE split; paths relative to ``out``."""
    root, out = Path(root), Path(out)
    reports = Path(reports) if reports else root / "radiology_text_reports" / f"{split}_reports.csv"
    if not reports.is_file():
        raise InputError("CT-RATE reports CSV not found", reports)
    frame = pd.read_csv(reports)
    missing = [c for c in _REPORT_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"reports CSV lacks columns {missing}", reports)
    labels = Path(labels) if labels else root / "multi_abnormality_labels" / f"{split}_predicted_labels.csv"
    if labels.is_file():
        label_frame = pd.read_csv(labels)
        label_frame = label_frame.rename(columns={c: _snake(c) for c in label_frame.columns if c != "VolumeName"})
        for source, name in FINDING_COLUMNS.items():
            if _snake(source) in label_frame.columns:
                label_frame[name] = label_frame[_snake(source)]
        frame = frame.merge(label_frame, on="VolumeName", how="left")
    rows, absent = [], []
    for _, row in frame.iterrows():
        path = _volume_path(root, split, str(row["VolumeName"]))
        if not path.is_file():
            absent.append(str(path))
            continue
        caption = _caption(row)
        if not caption:
            raise InputError(f"volume {row['VolumeName']} has an empty report", reports)
        rec = {"path": os.path.relpath(path.resolve(), out.parent.resolve()), "caption": caption}
        rec.update({k: row[k] for k in frame.columns if k not in _DROP})
        rows.append(rec)
    if absent and not skip_missing:
        raise InputError(f"{len(absent)} volume(s) named in the reports are missing, e.g. {absent[0]}", reports)
    if not rows:
        raise InputError("no volume of the reports was found", root)
    manifest = pd.DataFrame(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        manifest.to_parquet(out, index=False)
    elif out.suffix == ".jsonl":
        manifest.to_json(out, orient="records", lines=True)
    else:
        manifest.to_csv(out, index=False)
    return out


def ct_rate(
    source: str,
    out: str,
    *,
    split: str = "train",
    reports: str | None = None,
    labels: str | None = None,
    skip_missing: bool = False,
) -> str:
    """CT-RATE: SOURCE is the dataset folder holding <split>/<patient>/<study>/<VolumeName>.nii.gz and
    radiology_text_reports/; OUT the manifest (.csv, .jsonl or .parquet).

    Options: split (default "train"); reports (CSV, default <SOURCE>/radiology_text_reports/<split>_reports.csv);
    labels (CSV, default <SOURCE>/multi_abnormality_labels/<split>_predicted_labels.csv, used when present);
    skip_missing (true: leave out reports whose volume is not downloaded; default false).
    """
    written = convert_ct_rate(source, str(split), out, reports, labels, skip_missing)
    return f"wrote {written}"


CONVERTERS: dict[str, Converter] = {
    c.name: c
    for c in (
        Converter("ct-rate", ct_rate, "CT-RATE: <split>/<patient>/<study>/*.nii.gz + reports CSV (+ labels CSV)"),
    )
}
