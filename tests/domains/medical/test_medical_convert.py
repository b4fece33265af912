"""The CT-RATE converter on a small replica of its layout (volumes written by nibabel), read back by the domain."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from clipzoo.cli.main import main
from clipzoo.core.data import Manifest
from clipzoo.core.errors import InputError
from clipzoo.domains.medical.convert import convert_ct_rate


@pytest.fixture()
def ct_rate(tmp_path):
    root = tmp_path / "CT-RATE" / "dataset"
    names = ["train_1_a_1.nii.gz", "train_1_a_2.nii.gz", "train_2_a_1.nii.gz"]
    for i, name in enumerate(names):
        parts = name.removesuffix(".nii.gz").split("_")
        folder = root / "train" / "_".join(parts[:2]) / "_".join(parts[:3])
        folder.mkdir(parents=True, exist_ok=True)
        vol = np.full((12, 12, 4 + i), -1000, np.int16)
        vol[3:9, 3:9] = 40
        nib.save(nib.Nifti1Image(vol, np.diag([0.75, 0.75, 1.5, 1.0])), folder / name)
    (root / "radiology_text_reports").mkdir()
    pd.DataFrame(
        {
            "VolumeName": names,
            "ClinicalInformation_EN": ["cough"] * 3,
            "Technique_EN": ["non-contrast"] * 3,
            "Findings_EN": ["A 6 mm nodule in the right upper lobe.", "No nodules.", "Bilateral pleural effusion."],
            "Impressions_EN": ["Nodule.", "Normal study.", None],
        }
    ).to_csv(root / "radiology_text_reports" / "train_reports.csv", index=False)
    (root / "multi_abnormality_labels").mkdir()
    pd.DataFrame(
        {"VolumeName": names, "Lung nodule": [1, 0, 0], "Pleural effusion": [0, 0, 1], "Cardiomegaly": [0, 0, 0]}
    ).to_csv(root / "multi_abnormality_labels" / "train_predicted_labels.csv", index=False)
    return root


def test_ct_rate_replica_becomes_a_readable_manifest(ct_rate, tmp_path):
    from clipzoo.core.domain import get_domain

    out = convert_ct_rate(ct_rate, "train", tmp_path / "manifests" / "train.csv")
    manifest = Manifest.read(out)
    frame = manifest.frame
    assert len(manifest) == 3
    assert frame.caption[0] == "A 6 mm nodule in the right upper lobe. Nodule."
    assert frame.caption[2] == "Bilateral pleural effusion."
    assert frame.nodule.tolist() == [1, 0, 0] and frame.effusion.tolist() == [0, 0, 1]
    assert "lung_nodule" in frame.columns and "Technique_EN" not in frame.columns
    domain = get_domain("medical")
    depths = [domain.read(manifest.file(i)).shape[-1] for i in range(3)]
    assert depths == [4, 5, 6]


def test_missing_volumes_and_bad_reports_are_named(ct_rate, tmp_path, capsys):
    (ct_rate / "train" / "train_2" / "train_2_a" / "train_2_a_1.nii.gz").unlink()
    with pytest.raises(InputError, match=r"1 volume\(s\) named in the reports are missing, e\.g\. .*train_2_a_1"):
        convert_ct_rate(ct_rate, "train", tmp_path / "m.csv")
    out = convert_ct_rate(ct_rate, "train", tmp_path / "m.jsonl", skip_missing=True)
    assert len(Manifest.read(out)) == 2
    with pytest.raises(InputError, match="reports CSV not found"):
        convert_ct_rate(ct_rate, "valid", tmp_path / "v.csv")
    ct_rate_cli, out = ["convert", "medical", "ct-rate", str(ct_rate)], tmp_path / "cli.csv"
    assert main([*ct_rate_cli, str(out), "--option", "skip_missing=true"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"wrote {out}") and len(Manifest.read(out)) == 2
    assert main([*ct_rate_cli, str(tmp_path / "v.csv"), "--option", "split=valid"]) == 2
    assert "reports CSV not found" in capsys.readouterr().err
