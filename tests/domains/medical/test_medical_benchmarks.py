"""CheXpert 5x200 and RSNA Pneumonia on tiny replicas of their published layouts (JPEGs under CheXpert-v1.0/, the
5x200 CSV; DICOMs under stage_2_train_images/ and stage_2_train_labels.csv), and their benchmark entries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pydicom
import pytest
from clipzoo.cli.main import main
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.domains.medical.benchmark_layouts import chexpert_5x200, rsna_pneumonia
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ComputedRadiographyImageStorage, ExplicitVRLittleEndian, generate_uid

from tests.helpers.benchmarks import checked_benchmarks

CHEXPERT_COLUMNS = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", "No Finding", "Enlarged Cardiomediastinum",
                    "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema", "Consolidation", "Pneumonia",
                    "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other", "Fracture",
                    "Support Devices"]  # fmt: skip
FINDINGS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"]


def _xray(path, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (48, 40), dtype=np.uint8)
    Image.fromarray(pixels, mode="L").save(path, format="JPEG")


@pytest.fixture()
def chexpert(tmp_path):
    return write_chexpert(tmp_path)


def write_chexpert(tmp_path):
    """Five images, one per finding, and the 5x200 CSV with CheXpert's columns (paths as CheXpert writes them)."""
    rows = []
    for i, finding in enumerate(FINDINGS):
        rel = f"CheXpert-v1.0/valid/patient6454{i}/study1/view1_frontal.jpg"
        _xray(tmp_path / rel, i)
        row = dict.fromkeys(CHEXPERT_COLUMNS, 0.0) | {"Path": rel, "Sex": "Male", "Age": 60,
                                                      "Frontal/Lateral": "Frontal", "AP/PA": "AP"}  # fmt: skip
        row[finding] = 1.0
        row["Support Devices"] = 1.0  # other CheXpert columns do not matter
        rows.append(row)
    pd.DataFrame(rows, columns=CHEXPERT_COLUMNS).to_csv(tmp_path / "chexpert_5x200.csv", index=False)
    return tmp_path


def test_chexpert_5x200_gives_one_row_per_image_with_its_finding(chexpert, tmp_path):
    out = tmp_path / "out" / "test.csv"
    assert "5 images" in chexpert_5x200(str(chexpert), str(out))
    manifest = pd.read_csv(out)
    assert list(manifest.columns) == ["path", "finding"]
    assert list(manifest["finding"]) == FINDINGS
    assert (out.parent / manifest["path"][0]).resolve() == (
        chexpert / "CheXpert-v1.0/valid/patient64540/study1/view1_frontal.jpg"
    ).resolve()
    assert Image.open(out.parent / manifest["path"][4]).size == (40, 48)
    assert get_domain("medical").read(out.parent / manifest["path"][4]) is not None


def test_chexpert_5x200_through_clipzoo_convert(chexpert, tmp_path, capsys):
    out = tmp_path / "cli" / "m.csv"
    assert (
        main(["convert", "medical", "chexpert-5x200", str(chexpert), str(out), "--option", "csv=chexpert_5x200.csv"])
        == 0
    )
    assert "5 images" in capsys.readouterr().out and len(pd.read_csv(out)) == 5


def test_chexpert_5x200_reads_medclip_meta_csv_paths(tmp_path):
    """MedCLIP's chexpert-5x200-meta.csv: imgpath under ./data/CheXpert/data/CheXpert-v1.0-small/."""
    rel = "CheXpert-v1.0-small/train/patient07756/study1/view1_frontal.jpg"
    _xray(tmp_path / rel, 0)
    row = {"imgpath": f"./data/CheXpert/data/{rel}", "subject_id": "patient07756-study1"}
    row |= {c: float(c == "Atelectasis") for c in ["No Finding", *FINDINGS, "Pneumonia"]}
    pd.DataFrame([row]).to_csv(tmp_path / "chexpert-5x200-meta.csv")
    out = tmp_path / "m.csv"
    chexpert_5x200(str(tmp_path), str(out), csv="chexpert-5x200-meta.csv")
    assert pd.read_csv(out)["finding"].tolist() == ["Atelectasis"]


def test_chexpert_5x200_rejects_ambiguous_rows_and_missing_images(chexpert, tmp_path):
    table = chexpert / "chexpert_5x200.csv"
    frame = pd.read_csv(table)
    frame.loc[1, "Edema"] = 1.0
    frame.to_csv(table, index=False)
    with pytest.raises(InputError, match=r"row 3 .*exactly one") as err:
        chexpert_5x200(str(chexpert), str(tmp_path / "m.csv"))
    assert "chexpert_5x200.csv" in str(err.value)
    frame.loc[1, "Edema"] = 0.0
    frame.to_csv(table, index=False)
    (chexpert / frame["Path"][2]).unlink()
    with pytest.raises(InputError, match="1 image"):
        chexpert_5x200(str(chexpert), str(tmp_path / "m.csv"))
    with pytest.raises(InputError, match="finding columns"):
        frame.drop(columns=["Edema"]).to_csv(table, index=False)
        chexpert_5x200(str(chexpert), str(tmp_path / "m.csv"))


def _radiograph(path, patient_id):
    """A 2D chest radiograph as RSNA ships it: CR, MONOCHROME2, 8 bit, PatientID = the file stem."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sop = generate_uid(entropy_srcs=[patient_id])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ComputedRadiographyImageStorage, sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = ComputedRadiographyImageStorage, sop
    ds.PatientID, ds.Modality, ds.BodyPartExamined, ds.ViewPosition = patient_id, "CR", "CHEST", "PA"
    ds.Rows = ds.Columns = 64
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.random.default_rng(len(patient_id)).integers(0, 255, (64, 64), dtype=np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture()
def rsna(tmp_path):
    return write_rsna(tmp_path)


def write_rsna(tmp_path):
    ids = ["0004cfab-14fd-4e49-80ba-63a80b6bddd6", "00436515-870c-4b36-a041-de91049b9ab4", "00704310-78a8-4b38"]
    for patient in ids:
        _radiograph(tmp_path / "stage_2_train_images" / f"{patient}.dcm", patient)
    (tmp_path / "stage_2_train_labels.csv").write_text(
        "patientId,x,y,width,height,Target\n"
        f"{ids[0]},,,,,0\n"
        f"{ids[1]},264.0,152.0,213.0,379.0,1\n"
        f"{ids[1]},562.0,152.0,256.0,453.0,1\n"
        f"{ids[2]},,,,,0\n"
    )
    return tmp_path, ids


def test_rsna_gives_one_row_per_patient_with_target_max(rsna, tmp_path):
    root, ids = rsna
    out = tmp_path / "out" / "rsna.csv"
    assert "3 patients, 1 with pneumonia" in rsna_pneumonia(str(root), str(out))
    manifest = pd.read_csv(out)
    assert list(manifest["patientId"]) == ids
    assert list(manifest["pneumonia"]) == [0, 1, 0]
    assert list(manifest["boxes"]) == [0, 2, 0]
    ds = pydicom.dcmread(out.parent / manifest["path"][1])
    assert ds.PatientID == ids[1] and ds.pixel_array.shape == (64, 64)
    assert get_domain("medical").read(out.parent / manifest["path"][1]) is not None  # a 2D DICOM the domain reads


def test_rsna_names_the_file_for_bad_layouts(rsna, tmp_path):
    root, ids = rsna
    (root / "stage_2_train_images" / f"{ids[2]}.dcm").unlink()
    with pytest.raises(InputError, match="1 DICOM") as err:
        rsna_pneumonia(str(root), str(tmp_path / "m.csv"))
    assert "stage_2_train_labels.csv" in str(err.value)
    rsna_pneumonia(str(root), str(tmp_path / "m.csv"), skip_missing=True)
    assert len(pd.read_csv(tmp_path / "m.csv")) == 2
    (root / "stage_2_train_labels.csv").write_text("patientId,Target\nx,1\n")
    with pytest.raises(InputError, match=r"lacks columns \['x', 'y', 'width', 'height'\]"):
        rsna_pneumonia(str(root), str(tmp_path / "m.csv"))


def test_medical_benchmarks_use_the_published_prompts():
    benchmarks = checked_benchmarks("medical")
    chexpert = benchmarks["chexpert-5x200"]
    assert chexpert.task == "classification" and chexpert.metric == "top1" and chexpert.label_column == "finding"
    assert list(chexpert.classes) == FINDINGS
    # GLoRIA's CHEXPERT_CLASS_PROMPTS expanded: severity x subtype x location (Pleural Effusion: x location x subtype)
    assert "mild subsegmental atelectasis at the mid lung zone" in chexpert.classes["Atelectasis"]
    assert "subsegmental atelectasis at the mid lung zone" in chexpert.classes["Atelectasis"]
    assert len(chexpert.classes["Atelectasis"]) == 3 * 7 * 10
    assert "cardiomegaly which is unchanged" in chexpert.classes["Cardiomegaly"]
    assert "apperance of patchy consolidation at the right uppper lobe" in chexpert.classes["Consolidation"]
    assert "presistent pulmonary interstitial edema" in chexpert.classes["Edema"]
    assert "small left bilateral pleural effusion" in chexpert.classes["Pleural Effusion"]
    assert len(chexpert.classes["Pleural Effusion"]) == 6 * 3 * 2  # the duplicated subtype counted once
    rsna = benchmarks["rsna-pneumonia"]
    assert rsna.task == "multilabel" and rsna.metric == "mean_auroc"
    assert rsna.classes == {"pneumonia": ["pneumonia"]} and rsna.negatives == {"pneumonia": ["normal", "no pneumonia"]}
