"""Users' data: turn CT-RATE's layout into a clipzoo manifest (path, caption, finding columns).

CT-RATE (Hamamci et al.) ships volumes as ``<split>/<patient>/<study>/<VolumeName>.nii.gz`` (e.g.
``train/train_1/train_1_a/train_1_a_1.nii.gz``), reports as a CSV with ``VolumeName``, ``Findings_EN`` and
``Impressions_EN``, and optionally multi-abnormality labels as a CSV with ``VolumeName`` and one 0/1 column per
abnormality. The manifest's caption is findings + impression; the label columns keep their names in snake case, and
the three the demo's finding prompts know (``nodule``, ``effusion``, ``cardiomegaly``) are added under those names.

    python -m clipzoo.domains.medical.convert ct-rate --root CT-RATE/dataset --split train --out train.csv
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import pandas as pd
from clipzoo.core.errors import InputError, exit_code_for_input_errors

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert a public dataset layout into a clipzoo manifest.")
    sub = parser.add_subparsers(dest="layout", required=True)
    p = sub.add_parser("ct-rate", help="CT-RATE: <split>/<patient>/<study>/*.nii.gz + reports CSV (+ labels CSV)")
    p.add_argument("--root", required=True, help="the dataset folder holding train/, valid/, radiology_text_reports/")
    p.add_argument("--split", default="train")
    p.add_argument("--out", required=True, help="manifest to write (.csv, .jsonl or .parquet)")
    p.add_argument("--reports", help="reports CSV (default: <root>/radiology_text_reports/<split>_reports.csv)")
    p.add_argument(
        "--labels", help="labels CSV (default: <root>/multi_abnormality_labels/<split>_predicted_labels.csv)"
    )
    p.add_argument("--skip-missing", action="store_true", help="leave out reports whose volume is not downloaded")
    args = parser.parse_args(argv)

    def run() -> int:
        out = convert_ct_rate(args.root, args.split, args.out, args.reports, args.labels, args.skip_missing)
        print(f"wrote {out}")
        return 0

    return exit_code_for_input_errors(run)


if __name__ == "__main__":
    sys.exit(main())
