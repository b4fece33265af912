"""Write HU volumes as real files: a CT DICOM series with pydicom (full geometry and rescale headers) and NIfTI with
nibabel. Both take the DICOM-style grid ``hu[k, row, col]`` of :mod:`.phantom` (LPS: col -> left, row -> posterior)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import nibabel as nib
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import DSfloat

from .phantom import Grid

INTERCEPT = -1024.0


def _ds(value: float) -> DSfloat:
    """A decimal string within DICOM's 16 characters."""
    return DSfloat(value, auto_format=True)


def write_dicom_series(
    hu: np.ndarray,
    grid: Grid,
    folder: str | Path,
    patient_id: str,
    seed: int = 0,
    descending_instances: bool = False,
    shuffle_names: bool = True,
    series_uid: str | None = None,
) -> list[Path]:
    """One file per slice: ImagePositionPatient/OrientationPatient, PixelSpacing, SliceThickness, Rescale
    Slope/Intercept (stored = HU + 1024, unsigned 12 bit), PatientPosition HFS. File names are shuffled and
    InstanceNumber may run against position, as real exports do, so readers must sort by position."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    entropy = [patient_id, str(seed)]
    study_uid = generate_uid(entropy_srcs=[*entropy, "study"])
    series_uid = series_uid or generate_uid(entropy_srcs=[*entropy, "series"])
    frame_uid = generate_uid(entropy_srcs=[*entropy, "frame"])
    stored = np.clip(np.rint(hu - INTERCEPT), 0, 4095).astype(np.uint16)
    n = hu.shape[0]
    names = rng.permutation(n) if shuffle_names else np.arange(n)
    date = (dt.date(2020, 1, 1) + dt.timedelta(days=int(rng.integers(0, 1500)))).strftime("%Y%m%d")
    paths = []
    for k in range(n):
        sop_uid = generate_uid(entropy_srcs=[*entropy, "sop", str(k)])
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop_uid
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.Modality, ds.BodyPartExamined, ds.PatientPosition = "CT", "CHEST", "HFS"
        ds.PatientID, ds.PatientName, ds.StudyDate, ds.SeriesNumber = patient_id, f"Phantom^{patient_id}", date, 1
        ds.InstanceNumber = n - k if descending_instances else k + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        x0, y0, z0 = grid.origin
        ds.ImagePositionPatient = [_ds(x0), _ds(y0), _ds(z0 + k * grid.slice_mm)]
        ds.SliceLocation = _ds(z0 + k * grid.slice_mm)
        ds.PixelSpacing = [_ds(grid.pixel_mm), _ds(grid.pixel_mm)]
        ds.SliceThickness = _ds(grid.slice_mm)
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 1, INTERCEPT, "HU"
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.Rows, ds.Columns = hu.shape[1], hu.shape[2]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = stored[k].tobytes()
        path = folder / f"IM{int(names[k]) + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_dicom_slice(hu: np.ndarray, grid: Grid, k: int, path: str | Path, patient_id: str, seed: int = 0) -> Path:
    """Slice ``k`` of ``hu`` as one CT DICOM file at ``path`` (its true position in the volume's frame)."""
    path = Path(path)
    x0, y0, z0 = grid.origin
    one = Grid(grid.rows, grid.cols, 1, grid.pixel_mm, grid.slice_mm, origin=(x0, y0, z0 + k * grid.slice_mm))
    folder = path.with_name(f".{path.name}.tmp")
    [written] = write_dicom_series(hu[k : k + 1], one, folder, patient_id, seed=seed, shuffle_names=False)
    written.replace(path)
    folder.rmdir()
    return path


def nifti_affine(grid: Grid) -> np.ndarray:
    """RAS affine of the array ``hu.transpose(2, 1, 0)`` (i = col, j = row, k = slice) on ``grid``."""
    x0, y0, z0 = grid.origin
    return np.array(
        [
            [-grid.pixel_mm, 0, 0, -x0],
            [0, -grid.pixel_mm, 0, -y0],
            [0, 0, grid.slice_mm, z0],
            [0, 0, 0, 1],
        ],
        dtype=np.float64,
    )


def write_nifti(hu: np.ndarray, grid: Grid, path: str | Path) -> Path:
    """An int16 HU NIfTI (``.nii`` or ``.nii.gz``) with the grid's affine as both qform and sform."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.clip(np.rint(hu), -32768, 32767).astype(np.int16).transpose(2, 1, 0)
    img = nib.Nifti1Image(data, nifti_affine(grid))
    img.header.set_xyzt_units("mm")
    img.set_qform(nifti_affine(grid), code=1)
    img.set_sform(nifti_affine(grid), code=1)
    nib.save(img, path)
    return path
