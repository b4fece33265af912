"""Scope from training metadata: the DICOM Modality and BodyPartExamined of the training inputs are recorded (a NIfTI's
lack of them counted), and a head MR sent to a model trained on chest CT gets a scope warning in its row."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import torch
from clipzoo.core.domain import get_domain
from clipzoo.core.model import build_model
from clipzoo.core.predict import InputItem, Predictor
from clipzoo.domains.medical import wheel_ct_series
from nibabel.testing import data_path

from tests.helpers.medical import TINY_VIT

ANATOMICAL = Path(data_path) / "anatomical.nii"


def _series(folder: Path, modality: str, body_part: str) -> Path:
    """CT5N rewritten by pydicom with another Modality and BodyPartExamined."""
    folder.mkdir(parents=True)
    for f in sorted(wheel_ct_series().iterdir()):
        ds = pydicom.dcmread(f)
        ds.Modality, ds.BodyPartExamined = modality, body_part
        ds.save_as(folder / f.name)
    return folder


def test_training_scope_records_modality_and_body_part(tmp_path):
    chest = [_series(tmp_path / f"chest{i}", "CT", "CHEST") for i in range(2)]
    nifti = shutil.copy(ANATOMICAL, tmp_path / "scan.nii")
    scope = get_domain("medical").training_scope([str(p) for p in (*chest, nifti)])
    assert scope == {"modality": ["CT"], "body_part": ["CHEST"], "without_dicom_header": 1}


def test_a_head_mr_sent_to_a_chest_ct_model_gets_a_scope_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIPZOO_MEDICAL_CACHE", str(tmp_path / "cache"))
    domain = get_domain("medical")
    scope = domain.training_scope([str(_series(tmp_path / "train-chest", "CT", "CHEST"))])
    spec = domain.default_spec().replace(name="tiny-scope", model_cfg=TINY_VIT, image_size=32, lock_text=False)
    torch.manual_seed(0)
    predictor = Predictor(build_model(spec.replace(extra={**spec.extra, "scope": scope})), domain)
    head = _series(tmp_path / "head", "MR", "HEAD")
    chest = _series(tmp_path / "chest", "CT", "CHEST")
    items = [InputItem.from_path(p) for p in (head, chest, ANATOMICAL)]
    for _ in range(2):  # first read and cached read alike
        head_row, chest_row, nifti_row = predictor.predict(items, labels=["pleural effusion", "normal"])
        assert head_row.error is None and chest_row.warnings == []
        assert head_row.warnings == [
            "modality MR is outside the model's training data (CT): treat the answer with caution",
            "body part HEAD (BodyPartExamined) is outside the model's training data (CHEST): treat the answer with "
            "caution",
        ]
        unchecked = "a NIfTI file carries no BodyPartExamined: cannot check it against the model's training data"
        assert f"{unchecked} (CHEST)" in nifti_row.warnings
