"""Study folders as scanners export them, written by pydicom from the real CT5N series of its wheel: localizers left
out and named, stacks of other orientations answered apart (never mixed), DICOMDIR read as the index it is, nested
patient/study/series folders walked, and a zipped series read by the CLI as by the server."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
import torch
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.core.model import build_model
from clipzoo.core.predict import InputItem, Predictor
from clipzoo.domains.medical.dicom import scan_series
from clipzoo.domains.medical.reader import read_scan
from pydicom.fileset import FileSet
from pydicom.uid import generate_uid

from tests.helpers.medical import TINY_VIT

CT5N = Path(pydicom.data.__file__).parent / "test_files" / "dicomdirtests" / "98892001" / "CT5N"
CORONAL = [1.0, 0.0, 0.0, 0.0, 0.0, -1.0]
SAGITTAL = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0]


def _copy_series(folder: Path, prefix: str = "") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(f, folder / f"{prefix}{f.name}")) for f in sorted(CT5N.iterdir())]


def _localizer(source: Path, target: Path, orientation: list[float], same_series: bool) -> Path:
    ds = pydicom.dcmread(source)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    ds.ImageOrientationPatient = orientation
    ds.SOPInstanceUID = generate_uid()
    if not same_series:
        ds.SeriesInstanceUID = generate_uid()
        ds.SeriesDescription = "SCOUT"
    ds.save_as(target)
    return target


def _rotated_series(folder: Path, orientation: list[float], description: str, images: int = 5) -> None:
    """The CT5N slices (repeated up to ``images``) as another series at another orientation, positions along its own
    normal."""
    uid = generate_uid()
    normal = np.cross(orientation[:3], orientation[3:])
    files = sorted(CT5N.iterdir())
    for k in range(images):
        ds = pydicom.dcmread(files[k % len(files)])
        ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.SeriesDescription = uid, generate_uid(), description
        ds.ImageOrientationPatient = orientation
        ds.ImagePositionPatient = [float(v) for v in normal * 2.5 * k]
        ds.InstanceNumber = k + 1
        ds.save_as(folder / f"rot-{k:03d}.dcm")


def test_localizers_at_right_angles_are_left_out_and_named(tmp_path):
    folder = tmp_path / "study"
    files = _copy_series(folder)
    _localizer(files[0], folder / "loc-cor", CORONAL, same_series=True)
    _localizer(files[1], folder / "loc-sag", SAGITTAL, same_series=False)
    img = read_scan(folder)
    assert torch.equal(img.as_tensor(), read_scan(CT5N).as_tensor())
    assert "left out 2 localizer image(s): loc-cor, loc-sag" in " ".join(img.meta["warnings"])


def test_two_stacks_of_other_orientations_are_answered_apart(tmp_path):
    folder = tmp_path / "study"
    _copy_series(folder)
    _rotated_series(folder, CORONAL, "COR REFORMAT", images=16)  # its axial slices: 16 px deep, above the minimum
    stacks = scan_series(folder)
    assert sorted(s.plane for s in stacks.values()) == ["axial", "coronal"]
    with pytest.raises(
        InputError, match=r"folder holds 2 image stacks: .*'COR REFORMAT', coronal, 16 images.*FOLDER#KEY"
    ):
        read_scan(folder)
    spec = get_domain("medical").default_spec().replace(name="tiny", model_cfg=TINY_VIT, image_size=32, loss="clip")
    predictor = Predictor(build_model(spec), get_domain("medical"))
    rows = predictor.predict([InputItem.from_path(folder)], labels=["effusion", "normal"])
    assert sorted(r.input for r in rows) == sorted(f"{folder}#{key}" for key in stacks)
    assert all(r.error is None and len(r.labels) == 2 for r in rows), [r.error for r in rows]
    axial = next(key for key, s in stacks.items() if s.plane == "axial")
    assert torch.equal(read_scan(f"{folder}#{axial}").as_tensor(), read_scan(CT5N).as_tensor())


def test_one_series_holding_two_orientations_is_split_by_plane(tmp_path):
    folder = tmp_path / "study"
    _copy_series(folder)
    uid = str(pydicom.dcmread(next(CT5N.iterdir())).SeriesInstanceUID)
    _rotated_series(folder, SAGITTAL, "SAG")
    for f in folder.glob("rot-*"):  # the same series UID, another orientation
        ds = pydicom.dcmread(f)
        ds.SeriesInstanceUID = uid
        ds.save_as(f)
    assert sorted(scan_series(folder)) == [f"{uid}:axial", f"{uid}:sagittal"]


def test_dicomdir_study_is_read_through_its_index(tmp_path):
    fileset = FileSet()
    for f in sorted(CT5N.iterdir()):
        fileset.add(pydicom.dcmread(f))
    fileset.write(tmp_path / "cd")
    cd = tmp_path / "cd"
    assert (cd / "DICOMDIR").is_file()
    (cd / "README.TXT").write_text("not an image")
    img = read_scan(cd)
    assert torch.equal(img.as_tensor(), read_scan(CT5N).as_tensor())


def test_nested_study_folders_are_walked(tmp_path):
    study = tmp_path / "PATIENT1"
    _copy_series(study / "STUDY1" / "SERIES1")
    assert torch.equal(read_scan(study).as_tensor(), read_scan(CT5N).as_tensor())
    empty = tmp_path / "empty" / "sub"
    empty.mkdir(parents=True)
    (empty / "notes.txt").write_text("nothing")
    with pytest.raises(InputError, match=r"empty: folder holds no DICOM files$"):
        read_scan(tmp_path / "empty")


@pytest.mark.slow
def test_a_zipped_series_is_read_by_the_cli_as_by_the_server(tmp_path, capsys):
    from clipzoo.cli.main import main
    from clipzoo.core.train import TrainConfig
    from clipzoo.pipeline.data import demo_data
    from clipzoo.pipeline.train import train

    archive = tmp_path / "ct5n.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(CT5N.iterdir()):
            zf.write(f, f"PATIENT/CT5N/{f.name}")
    assert torch.equal(read_scan(archive).as_tensor(), read_scan(CT5N).as_tensor())
    domain = get_domain("medical")
    data = demo_data(domain, small=True)
    spec = domain.default_spec().replace(name="tiny-zip", model_cfg=TINY_VIT, image_size=32)
    result = train(domain, spec, {"train": data.train}, heldout=data.heldout,
                   config=TrainConfig(epochs=1, batch_size=8, warmup_steps=1), output_dir=tmp_path / "run")  # fmt: skip
    ref = f"{result.published.name}/{result.published.version}"
    assert main(["predict", ref, str(archive), "--labels", "pleural effusion", "normal chest", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["error"] is None and row["input"] == str(archive)
    served = domain.read_bytes(archive.read_bytes(), "ct5n.zip")
    assert torch.equal(served.as_tensor(), read_scan(archive).as_tensor())
