"""The medical reader on real files from the pydicom and nibabel wheels and on files written by pydicom/nibabel:
arrays, spacing and orientation equal MONAI LoadImage + Orientation; HU as stored; every bad input named."""

from __future__ import annotations

import io
import shutil
import warnings
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from clipzoo.core.errors import InputError
from clipzoo.domains.medical import MedicalDomain
from clipzoo.domains.medical.dicom import scan_series, split_series_folder
from clipzoo.domains.medical.phantom import Findings, Grid, render
from clipzoo.domains.medical.reader import read_scan, spacing_of
from clipzoo.domains.medical.writers import write_dicom_series, write_nifti
from monai.data import NibabelReader, PydicomReader
from monai.transforms import LoadImage, Orientation
from nibabel.testing import data_path
from PIL import Image
from pydicom.data import get_testdata_file

CT_SMALL = Path(get_testdata_file("CT_small.dcm"))
CT5N = Path(pydicom.data.__file__).parent / "test_files" / "dicomdirtests" / "98892001" / "CT5N"
ANATOMICAL = Path(data_path) / "anatomical.nii"
LABELS = (("L", "R"), ("P", "A"), ("I", "S"))


def monai_reference(path: Path, reader) -> torch.Tensor:
    img = LoadImage(reader=reader, image_only=True, ensure_channel_first=True)(path)
    axcodes = "RAS"[: img.ndim - 1]
    return Orientation(axcodes=axcodes, labels=LABELS[: img.ndim - 1])(img)


@pytest.mark.parametrize(
    ("path", "reader"),
    [(CT_SMALL, PydicomReader), (CT5N, PydicomReader), (ANATOMICAL, NibabelReader)],
    ids=["CT_small.dcm", "CT5N-series", "anatomical.nii"],
)
def test_equals_monai_loadimage_plus_orientation(path, reader):
    ours = read_scan(path)
    ref = monai_reference(path, reader())
    assert ours.shape == ref.shape
    assert torch.equal(ours.as_tensor(), ref.as_tensor())
    assert torch.allclose(ours.affine, ref.affine)
    np.testing.assert_allclose(spacing_of(ours), spacing_of(ref))


def test_wheel_files_geometry_and_hu_as_stored():
    ds = pydicom.dcmread(CT_SMALL)
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    img = read_scan(CT_SMALL)
    assert (float(img.min()), float(img.max())) == (hu.min(), hu.max()) == (-896.0, 1167.0)
    assert img.meta["modality"] == "CT" and img.meta["frame"] == "patient"

    series = read_scan(CT5N)  # 5 slices of 16x16, 0.488 mm pixels, 2.5 mm apart
    assert series.shape == (1, 16, 16, 5)
    np.testing.assert_allclose(spacing_of(series), [0.488281, 0.488281, 2.5], atol=1e-5)
    assert nib.aff2axcodes(series.affine.numpy()) == ("R", "A", "S")
    stored = [pydicom.dcmread(p) for p in CT5N.iterdir()]
    values = np.concatenate([d.pixel_array.ravel() * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in stored])
    assert (float(series.min()), float(series.max())) == (values.min(), values.max())

    anat = read_scan(ANATOMICAL)
    assert anat.shape == (1, 33, 41, 25)
    assert nib.aff2axcodes(anat.affine.numpy()) == ("R", "A", "S")
    np.testing.assert_allclose(spacing_of(anat), [2.0, 2.0, 2.0])
    raw = np.asarray(nib.load(ANATOMICAL).dataobj)
    assert (float(anat.min()), float(anat.max())) == (raw.min(), raw.max())


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    """One synthetic chest with findings as a DICOM series (instances against position, shuffled names) and NIfTI."""
    root = tmp_path_factory.mktemp("phantom")
    grid = Grid(rows=24, cols=24, slices=6, pixel_mm=380 / 24, slice_mm=40)
    hu = render(grid, Findings("left", 30, 40, "upper", "right", 40, True), np.random.default_rng(1))
    write_dicom_series(hu, grid, root / "series", "P1", descending_instances=True)
    write_nifti(hu, grid, root / "case.nii.gz")
    return {"root": root, "hu": hu, "grid": grid}


def test_dicom_series_and_nifti_of_one_phantom_read_identically(phantom):
    series = read_scan(phantom["root"] / "series")
    nifti = read_scan(phantom["root"] / "case.nii.gz")
    assert series.shape == nifti.shape == (1, 24, 24, 6)
    assert torch.equal(series.as_tensor(), nifti.as_tensor())
    assert torch.allclose(series.affine, nifti.affine)
    # RAS: x runs to the patient's right, so the written LPS column order is reversed
    np.testing.assert_array_equal(series[0, :, :, 2].numpy(), phantom["hu"][2].T[::-1, ::-1])
    assert series.meta["sorted_by"] == "position" and not series.meta["irregular_spacing"]


def test_series_sorted_by_position_not_instance_number(phantom, tmp_path):
    """InstanceNumber runs against position in this series; MONAI's reader sorts by it, ours by position."""
    folder = phantom["root"] / "series"
    files = sorted(folder.iterdir(), key=lambda p: float(pydicom.dcmread(p).ImagePositionPatient[2]))
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    for i, f in enumerate(files):  # instance numbers scrambled entirely: position is the only order left
        ds = pydicom.dcmread(f)
        ds.InstanceNumber = [3, 1, 6, 2, 5, 4][i]
        ds.save_as(shuffled / f.name)
    assert torch.equal(read_scan(shuffled).as_tensor(), read_scan(folder).as_tensor())
    monai = monai_reference(shuffled, PydicomReader())
    assert not torch.equal(monai.as_tensor(), read_scan(folder).as_tensor())


def test_irregular_spacing_is_reported(phantom, tmp_path):
    folder = tmp_path / "gap"
    shutil.copytree(phantom["root"] / "series", folder)
    ordered = sorted(folder.iterdir(), key=lambda p: float(pydicom.dcmread(p).ImagePositionPatient[2]))
    ordered[2].unlink()  # a missing slice leaves one double gap
    img = read_scan(folder)
    assert any("irregular slice spacing" in w for w in img.meta["warnings"])
    assert img.meta["irregular_spacing"]
    np.testing.assert_allclose(sorted(img.meta["slice_gaps"]), [40, 40, 40, 80])


def test_monochrome1_is_inverted(tmp_path):
    ds = pydicom.dcmread(CT_SMALL)
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.save_as(tmp_path / "inverted.dcm")
    normal, inverted = read_scan(CT_SMALL), read_scan(tmp_path / "inverted.dcm")
    bits, intercept = int(ds.BitsStored), float(ds.RescaleIntercept)
    assert ds.PixelRepresentation == 1  # signed: stored values span [-2^15, 2^15 - 1]
    lo, hi = -(2 ** (bits - 1)) + intercept, 2 ** (bits - 1) - 1 + intercept
    assert torch.equal(inverted.as_tensor(), (lo + hi) - normal.as_tensor())


def test_png_radiograph_keeps_values(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 255, size=(20, 30), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "cxr.png")
    Image.fromarray(np.stack([pixels] * 3, -1)).save(tmp_path / "cxr.jpg", quality=100)
    img = read_scan(tmp_path / "cxr.png")
    assert img.shape == (1, 30, 20) and img.meta["modality"] == "XR" and img.meta["frame"] == "pixel"
    np.testing.assert_array_equal(img[0].numpy().T, pixels)
    assert read_scan(tmp_path / "cxr.jpg").shape == (1, 30, 20)


def test_zip_series_and_nifti_bytes_are_read_as_served(phantom):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for f in CT5N.iterdir():
            archive.write(f, f"CT5N/{f.name}")
    domain = MedicalDomain()
    from_zip = domain.read_bytes(buffer.getvalue(), "series.zip")
    assert torch.equal(from_zip.as_tensor(), read_scan(CT5N).as_tensor())
    data = (phantom["root"] / "case.nii.gz").read_bytes()
    assert torch.equal(domain.read_bytes(data, "case.nii.gz").as_tensor(), read_scan(phantom["root"] / "case.nii.gz"))
    with pytest.raises(InputError, match=r"^upload\.zip: not a valid zip"):
        domain.read_bytes(b"PK\x03\x04 broken", "upload.zip")


# ------------------------------------------------------------------------------------------------- bad input


def test_corrupt_dicom_is_named(tmp_path):
    data = CT_SMALL.read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.dcm: .*(corrupt|cannot decode)"):
        read_scan(tmp_path / "cut.dcm")
    folder = tmp_path / "series"
    shutil.copytree(CT5N, folder)
    victim = next(iter(sorted(folder.iterdir())))
    victim.write_bytes(victim.read_bytes()[:200])
    with pytest.raises(InputError, match=rf"{victim.name}: corrupt DICOM"):
        read_scan(folder)
    (tmp_path / "notes.dcm").write_bytes(b"a text file, not DICOM" * 8)
    with pytest.raises(InputError, match=r"notes\.dcm: corrupt DICOM file: File is missing DICOM") as err:
        read_scan(tmp_path / "notes.dcm")
    assert "force" not in str(err.value)  # pydicom's advice to force-read a broken file is not the user's fix


def test_folder_without_pixel_data(tmp_path):
    for f in CT5N.iterdir():
        ds = pydicom.dcmread(f)
        del ds.PixelData
        ds.save_as(tmp_path / f.name)
    with pytest.raises(InputError, match=r"holds 5 DICOM file.* none has pixel data"):
        read_scan(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    with pytest.raises(InputError, match=r"empty: folder holds no DICOM files"):
        read_scan(empty)


def test_mixed_series_named_and_split(tmp_path, phantom):
    mixed = tmp_path / "mixed"
    shutil.copytree(CT5N, mixed)
    for f in (phantom["root"] / "series").iterdir():
        shutil.copy(f, mixed / f"P-{f.name}")
    with pytest.raises(InputError, match=r"mixed: folder holds 2 image stacks: .*6 images\); .*5 images\); name one"):
        read_scan(mixed)
    parts = split_series_folder(mixed, tmp_path / "split")
    shapes = sorted(read_scan(p).shape[-1] for p in parts.values())
    assert shapes == [5, 6] and len(scan_series(mixed)) == 2


def test_duplicate_slices_are_errors(tmp_path):
    folder = tmp_path / "dup"
    shutil.copytree(CT5N, folder)
    ds = pydicom.dcmread(next(folder.iterdir()))
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(folder / "copy.dcm")
    with pytest.raises(InputError, match="dup: duplicate slice position"):
        read_scan(folder)


def test_4d_nifti_one_slice_nan_and_empty_files(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 4, 3), np.float32), np.eye(4)), tmp_path / "fmri.nii.gz")
    with pytest.raises(InputError, match=r"fmri\.nii\.gz: 4D NIfTI of shape \(8, 8, 4, 3\)"):
        read_scan(tmp_path / "fmri.nii.gz")
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 1), np.float32), np.eye(4)), tmp_path / "flat.nii")
    with pytest.raises(InputError, match=r"flat\.nii: volume has one slice"):
        read_scan(tmp_path / "flat.nii")
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(next(CT5N.iterdir()), one / "only.dcm")
    with pytest.raises(InputError, match="one: a DICOM series needs at least 2 slices"):
        read_scan(one)
    vol = np.zeros((8, 8, 4), np.float32)
    vol[2, 3, 1] = np.nan
    nib.save(nib.Nifti1Image(vol, np.eye(4)), tmp_path / "nan.nii.gz")
    with pytest.raises(InputError, match=r"nan\.nii\.gz: 1 NaN or infinite voxel"):
        read_scan(tmp_path / "nan.nii.gz")
    for name in ("empty.png", "empty.nii.gz", "empty.dcm"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(InputError, match=rf"{name}: file is empty \(0 bytes\)"):
            read_scan(tmp_path / name)
    with pytest.raises(InputError, match=r"missing\.dcm: file not found"):
        read_scan(tmp_path / "missing.dcm")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match=r"notes\.txt: unsupported scan type"):
        read_scan(tmp_path / "notes.txt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (tmp_path / "bad.png").write_text("not a png")
        with pytest.raises(InputError, match=r"bad\.png: not a decodable image"):
            read_scan(tmp_path / "bad.png")
