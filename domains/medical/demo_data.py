"""Demo data: synthetic chest CTs written as DICOM series (pydicom) and NIfTI (nibabel), each with a short report.

Even cases are DICOM series folders (shuffled file names; every other series numbers its instances against position),
odd cases ``.nii.gz``. Manifest columns: ``path``, ``caption`` (the report), ``nodule``, ``effusion``,
``cardiomegaly`` (0/1), ``nodule_side`` (left/right/none), ``format``. Reports never use the sentences of the zero-shot
prompts in ``findings.json`` / ``prompts.json`` (prompts say "is present", "there is no ...", reports do not).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from clipzoo.core.files import demo_is_current, mark_demo_complete, package_json

from .phantom import Findings, Grid, random_findings, render
from .slices2d import choose_slices, slice_caption, slice_findings
from .writers import write_dicom_series, write_dicom_slice, write_nifti

FORMAT_VERSION = 3
FINDINGS = ("nodule", "effusion", "cardiomegaly")
_COLUMNS = ("path", "caption", *FINDINGS, "nodule_side", "format")
FOV_MM = 380.0
CRANIOCAUDAL_MM = 240.0

_NODULE = (
    "A {size} mm {density} nodule in the {side} {lobe} lobe.",
    "{Side} {lobe} lobe nodule measuring {size} mm.",
    "Solitary {density} nodule of {size} mm, {side} {lobe} lobe.",
)
_NO_NODULE = ("No pulmonary nodules.", "Lungs are free of nodules.", "No suspicious nodule.")
_EFFUSION = (
    "{Amount} {side} pleural effusion.",
    "{Side} pleural effusion, {amount}.",
    "{Amount} {side}-sided effusion.",
)
_NO_EFFUSION = ("No pleural effusion.", "Pleural spaces are clear.", "No effusion.")
_BIG_HEART = ("The heart is enlarged.", "Enlarged heart.", "Heart size is increased.")
_NORMAL_HEART = ("Heart size is normal.", "Normal heart size.", "The heart is not enlarged.")
SENTENCES = {
    "nodule": _NODULE,
    "no_nodule": _NO_NODULE,
    "effusion": _EFFUSION,
    "no_effusion": _NO_EFFUSION,
    "big_heart": _BIG_HEART,
    "normal_heart": _NORMAL_HEART,
}


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def write_report(f: Findings, rng: np.random.Generator) -> str:
    """A short radiology-style report of ``f``: findings sentences, then an impression."""
    parts = ["CT chest. Findings:"]
    if f.nodule_side:
        density = "solid" if f.nodule_hu >= 50 else "part-solid"
        side = f.nodule_side
        words = {"size": int(f.nodule_mm), "density": density, "side": side, "Side": side.capitalize()}
        parts.append(_pick(rng, _NODULE).format(lobe=f.nodule_lobe, **words))
    else:
        parts.append(_pick(rng, _NO_NODULE))
    if f.effusion_side:
        amount = "small" if f.effusion_mm < 40 else "moderate"
        side = f.effusion_side
        words = {"amount": amount, "Amount": amount.capitalize(), "side": side, "Side": side.capitalize()}
        parts.append(_pick(rng, _EFFUSION).format(**words))
    else:
        parts.append(_pick(rng, _NO_EFFUSION))
    parts.append(_pick(rng, _BIG_HEART if f.cardiomegaly else _NORMAL_HEART))
    positives = [
        name
        for name, on in (
            (f"{f.nodule_side} lung nodule", f.nodule_side),
            (f"{f.effusion_side} effusion", f.effusion_side),
            ("enlarged heart", f.cardiomegaly),
        )
        if on
    ]
    parts.append("Impression: " + (", ".join(positives) + "." if positives else "no acute abnormality."))
    return " ".join(parts)


def _write_case(
    root: Path, index: int, grid: Grid, rng: np.random.Generator, seed: int, rows2d: list[tuple] | None = None
) -> tuple:
    """Write case ``index`` (a DICOM series or a NIfTI) and return its manifest row; with ``rows2d``, also write
    its chosen axial slices as single DICOM files and append their rows (slice-level captions and labels)."""
    findings = random_findings(rng)
    masks: dict[str, np.ndarray] = {}
    hu = render(grid, findings, rng, masks=masks)
    if index % 2 == 0:
        rel = f"scans/case{index:05d}"
        target = root / rel
        if target.exists():
            shutil.rmtree(target)
        write_dicom_series(hu, grid, target, f"DEMO{index:05d}", seed=seed, descending_instances=index % 4 == 0)
        fmt = "dicom"
    else:
        rel = f"scans/case{index:05d}.nii.gz"
        write_nifti(hu, grid, root / rel)
        fmt = "nifti"
    labels = findings.labels()
    report = write_report(findings, rng)
    if rows2d is not None:
        shown = slice_findings(masks, grid.slices)
        for k in choose_slices(shown, rng):
            caption, nodule, effusion, cardio = slice_caption(findings, shown[k], SENTENCES, rng)
            rel2d = f"slices/case{index:05d}_k{k:03d}.dcm"
            write_dicom_slice(hu, grid, k, root / rel2d, f"DEMO{index:05d}", seed=seed)
            side = findings.nodule_side if nodule else "none"
            rows2d.append((rel2d, caption, nodule, effusion, cardio, side, "dicom-slice"))
    return (rel, report, *(labels[k] for k in FINDINGS), labels["nodule_side"], fmt)


def _write_manifest(root: Path, name: str, rows: list[tuple]) -> Path:
    import pandas as pd

    manifest = root / f"{name}.csv"
    tmp = root / f".{name}.csv.tmp"
    pd.DataFrame(rows, columns=list(_COLUMNS)).to_csv(tmp, index=False)
    os.replace(tmp, manifest)
    return manifest


def _write_split(
    root: Path, name: str, start: int, n: int, grid: Grid, seed: int, stream: int, slices2d: bool = False
) -> Path:
    rows, rows2d = [], [] if slices2d else None
    for i in range(start, start + n):
        rng = np.random.default_rng([seed, stream, i])
        rows.append(_write_case(root, i, grid, rng, seed, rows2d))
    if rows2d is not None:
        _write_manifest(root, f"{name}2d", rows2d)
    return _write_manifest(root, name, rows)


def write_demo_dataset(
    root: Path | str,
    n_train: int = 320,
    n_heldout: int = 120,
    size: int = 48,
    slices: int = 10,
    seed: int = 0,
) -> dict[str, Path]:
    """Write ``root/scans/`` with manifests ``root/train.csv`` and ``root/heldout.csv`` (``size`` x ``size`` x
    ``slices`` voxels per case), and ``root/slices/`` with ``root/train2d.csv``: chosen axial slices of the training
    cases as single DICOM files with slice-level captions (the 2D stage). ``root/DONE.json`` records the arguments;
    a re-run with the same ones returns at once."""
    if n_train < 1 or n_heldout < 1:
        raise ValueError(f"n_train and n_heldout must be at least 1, got {n_train} and {n_heldout}")
    if size < 16 or slices < 2:
        raise ValueError(f"size must be >= 16 and slices >= 2, got {size} and {slices}")
    root = Path(root)
    paths = {"train": root / "train.csv", "heldout": root / "heldout.csv", "train2d": root / "train2d.csv"}
    args = {"format": FORMAT_VERSION, "n_train": n_train, "n_heldout": n_heldout, "size": size, "slices": slices}
    args["seed"] = seed
    if demo_is_current(root, args, list(paths.values())):
        return paths
    for folder in ("scans", "slices"):
        if (root / folder).exists():
            shutil.rmtree(root / folder)
        (root / folder).mkdir(parents=True)
    grid = Grid(
        rows=size,
        cols=size,
        slices=slices,
        pixel_mm=round(FOV_MM / size, 4),
        slice_mm=round(CRANIOCAUDAL_MM / slices, 4),
    )
    _write_split(root, "train", 0, n_train, grid, seed, 0, slices2d=True)
    _write_split(root, "heldout", n_train, n_heldout, grid, seed, 1)
    mark_demo_complete(root, args)
    return paths


def load_json(name: str) -> dict:
    """A JSON file shipped in ``clipzoo.domains.medical`` (``prompts.json``, ``findings.json``)."""
    return package_json("clipzoo.domains.medical", name)
