"""What a medical model was trained on, from its inputs' DICOM headers, and warnings for inputs outside it.

At training time ``training_scope`` reads the headers (no pixels) of the training files: the DICOM ``Modality`` and
``BodyPartExamined`` values seen, and how many inputs carried no such header (NIfTI, PNG). The spec records it (and
the model card shows it); at prediction ``scope_warnings`` says in plain words when an input lies outside it (a head MR
sent to a chest CT model) or cannot be checked (a NIfTI has neither field).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pydicom

from .dicom import dicom_files
from .reader import STACK_SEPARATOR, is_nifti


def _header(path: Path) -> pydicom.Dataset | None:
    """The first DICOM header of a file or folder (None for NIfTI, pictures, or what cannot be read)."""
    if path.is_dir():
        found = dicom_files(path)
        path = found[0] if found else path
    if not path.is_file() or is_nifti(path):
        return None
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:  # not DICOM (a PNG radiograph) or unreadable: nothing recorded for it
        return None


def training_scope(files: Sequence[str]) -> dict[str, Any]:
    """``{"modality": [...], "body_part": [...], "without_dicom_header": n}`` over the training inputs."""
    modalities: set[str] = set()
    parts: set[str] = set()
    without = 0
    for name in files:
        header = _header(Path(str(name).split(STACK_SEPARATOR)[0]))
        if header is None:
            without += 1
            continue
        if header.get("Modality"):
            modalities.add(str(header.Modality).upper())
        if header.get("BodyPartExamined"):
            parts.add(str(header.BodyPartExamined).upper())
    if not modalities and not parts:
        return {}
    return {"modality": sorted(modalities), "body_part": sorted(parts), "without_dicom_header": without}


def scope_warnings(meta: dict[str, Any], scope: dict[str, Any]) -> list[str]:
    """Warnings for a scan whose modality or body part lies outside ``scope`` (or cannot be checked)."""
    if not scope:
        return []
    warnings = []
    modality, part = str(meta.get("modality") or ""), str(meta.get("body_part") or "")
    trained_on = ", ".join(scope.get("modality") or ())
    if modality and scope.get("modality") and modality not in scope["modality"]:
        warnings.append(f"modality {modality} is outside the model's training data ({trained_on}): treat the answer "
                        "with caution")  # fmt: skip
    parts = scope.get("body_part") or []
    if parts and part and part not in parts:
        warnings.append(f"body part {part} (BodyPartExamined) is outside the model's training data "
                        f"({', '.join(parts)}): treat the answer with caution")  # fmt: skip
    elif parts and not part:
        what = "a NIfTI file carries no BodyPartExamined" if "source" in meta and is_nifti(
            Path(str(meta["source"]))) else "the input has no BodyPartExamined"  # fmt: skip
        warnings.append(f"{what}: cannot check it against the model's training data ({', '.join(parts)})")
    return warnings
