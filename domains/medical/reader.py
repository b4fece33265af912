"""Read one scan through MONAI ``LoadImage``: a DICOM series folder, a DICOM file, NIfTI, or a PNG/JPEG radiograph.

Every reader returns a channel-first ``MetaTensor`` of float32 intensities (HU for CT, RescaleSlope/Intercept applied)
with its affine. Volumes are ``[1, X, Y, Z]`` reoriented to RAS; a 2D image is ``[1, W, H]`` in MONAI's x-first
order, reoriented to RAS when it has a patient frame (a CT/MR slice) and kept as stored when it has none (a radiograph).
``meta["frame"]`` says which (``"patient"`` or ``"pixel"``), ``meta["modality"]`` what kind of scan it is.
"""

from __future__ import annotations

import functools
import tempfile
import warnings
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import torch
from clipzoo.core.errors import ClipzooError, InputError
from clipzoo.core.images import WIDE_MODES
from monai.data import MetaTensor, NibabelReader, PILReader
from monai.transforms import LoadImage, Orientation
from PIL import Image

from .dicom import PROJECTION_MODALITIES, SeriesReader, modality_lut_range, pydicom_reason, scan_series
from .display import display_meta

NIFTI_SUFFIXES = (".nii", ".nii.gz")
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")
DICOM_SUFFIXES = (".dcm", ".dicom")
SCAN_SUFFIXES = NIFTI_SUFFIXES + PICTURE_SUFFIXES + DICOM_SUFFIXES + (".zip",)
STACK_SEPARATOR = "#"  # FOLDER#KEY names one image stack of a folder (or zip) holding several
ZIP_SUFFIX = ".zip"


def is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES)


@functools.cache
def _loader() -> LoadImage:
    return LoadImage(image_only=True, ensure_channel_first=True)


_LABELS = (("L", "R"), ("P", "A"), ("I", "S"))
_ORIENT = {3: Orientation(axcodes="RAS", labels=_LABELS), 2: Orientation(axcodes="RA", labels=_LABELS[:2])}


def _ras(img: MetaTensor) -> MetaTensor:
    """Reorient a channel-first volume to RAS (a 2D patient-frame slice to RA)."""
    return _ORIENT[img.ndim - 1](img)


def _to_grey(img: Image.Image) -> Image.Image:
    """Greyscale radiograph: 16-bit and float images keep their values, colour images become luminance."""
    return img.convert("F") if img.mode in WIDE_MODES else img.convert("L")


def _display_meta(ds: pydicom.Dataset) -> dict:
    """The header's VOI window, and for MONOCHROME1 the sum the reader inverted within (see ``.display``)."""
    inverted = str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1"
    return display_meta(ds, sum(modality_lut_range(ds)) if inverted else None)


def _quiet_load(path: Path, reader) -> MetaTensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*ImagePositionPatient.*")
        warnings.filterwarnings("ignore", message=".*ImageOrientationPatient.*")
        return _loader()(path, reader=reader)


def read_dicom_series(folder: Path, key: str | None = None) -> MetaTensor:
    """One image stack of a folder (the only one, or the one ``key`` names), sorted by position, reoriented to RAS."""
    reader = SeriesReader(key=key)
    img = _quiet_load(folder, reader)
    series = reader.series
    if series is None or len(series.files) < 2:
        raise InputError(
            "a DICOM series needs at least 2 slices; this folder has 1 (read the file as a 2D image)", folder
        )
    img.meta["modality"] = series.modality
    img.meta["frame"] = "patient"
    img.meta["warnings"] = list(series.warnings)  # kept with the scan in the cache: the same on every read
    img.meta["series_description"] = series.description
    img.meta["body_part"] = str(series.datasets[0].get("BodyPartExamined", "") or "").upper() if series.datasets else ""
    if series.datasets:
        img.meta.update(_display_meta(series.datasets[0]))
    return _ras(img)


def read_dicom_file(path: Path) -> MetaTensor:
    """A single DICOM image (a CT/MR slice or a radiograph); multi-frame files are read as volumes."""
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
    except (pydicom.errors.InvalidDicomError, OSError, ValueError, EOFError, KeyError) as err:
        raise InputError(f"corrupt DICOM file: {pydicom_reason(err)}", path) from err
    try:
        img = _quiet_load(path, SeriesReader())
    except ClipzooError:
        raise
    except Exception as err:  # pydicom/MONAI raise many types for truncated files
        raise InputError(f"corrupt DICOM file: {pydicom_reason(err)}", path) from err
    modality = str(header.get("Modality", "OT"))
    img.meta["modality"] = modality
    img.meta["series_description"] = str(header.get("SeriesDescription", "") or "")
    img.meta["body_part"] = str(header.get("BodyPartExamined", "") or "").upper()
    img.meta.update(_display_meta(header))
    patient_frame = "ImageOrientationPatient" in header and modality not in PROJECTION_MODALITIES
    img.meta["frame"] = "patient" if patient_frame else "pixel"
    return _ras(img) if patient_frame else img


def read_nifti(path: Path) -> MetaTensor:
    """A 3D NIfTI volume reoriented to RAS; 4D (beyond a trailing axis of 1) and 2D files are errors."""
    try:
        header = nib.load(path)
        shape = tuple(int(s) for s in header.shape)
    except Exception as err:
        raise InputError(f"corrupt NIfTI file: {err}", path) from err
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) > 3:
        raise InputError(f"4D NIfTI of shape {shape} where a 3D volume is expected (split the time/channel axis)", path)
    if len(shape) < 3 or shape[2] < 2:
        raise InputError(f"volume has one slice (shape {shape}); a 3D volume needs at least 2", path)
    try:
        img = _loader()(path, reader=NibabelReader(squeeze_non_spatial_dims=True))
    except Exception as err:
        raise InputError(f"cannot read NIfTI data: {err}", path) from err
    img.meta["modality"] = infer_modality(img)
    img.meta["frame"] = "patient"
    return _ras(img)


def read_picture(path: Path) -> MetaTensor:
    """A PNG/JPEG radiograph as one grey channel, values as stored (``meta["picture_depth"]``: 8, or 16 for wider)."""
    try:
        with Image.open(path) as header:
            wide = header.mode in WIDE_MODES
        img = _loader()(path, reader=PILReader(converter=_to_grey))
    except Exception as err:
        raise InputError(f"not a decodable image: {err}", path) from err
    img.meta["picture_depth"] = "16" if wide else "8"
    img.meta["modality"] = "XR"
    img.meta["frame"] = "pixel"
    return img


def infer_modality(img: torch.Tensor) -> str:
    """CT when the volume holds air-like values (HU <= -500), else MR (NIfTI carries no modality)."""
    return "CT" if float(img.min()) <= -500 else "MR"


def split_stack_key(path: str | Path) -> tuple[Path, str | None]:
    """``FOLDER#KEY`` -> (FOLDER, KEY) when FOLDER exists and the whole name does not; else (path, None)."""
    path = Path(path)
    head, sep, key = str(path).rpartition(STACK_SEPARATOR)
    if sep and key and not path.exists() and Path(head).exists():
        return Path(head), key
    return path, None


def read_zip(path: Path, key: str | None = None) -> MetaTensor:
    """A zip of a DICOM series or study (folders inside are walked), read like the folder it unpacks to."""
    with tempfile.TemporaryDirectory(prefix="clipzoo-medical-zip-") as tmp:
        try:
            with zipfile.ZipFile(path) as archive:
                archive.extractall(tmp)
        except zipfile.BadZipFile as err:
            raise InputError(f"not a valid zip archive: {err}", path) from err
        try:
            return read_dicom_series(Path(tmp), key)
        except InputError as err:  # name the archive, not the temporary folder
            raise InputError(str(err).split(": ", 1)[-1].replace(tmp, path.name), path) from err


def stack_keys(path: str | Path) -> list[str]:
    """The image stacks of a DICOM folder holding several (``[]`` for anything else, or a folder of one stack)."""
    path = Path(path)
    if not path.is_dir():
        return []
    try:
        stacks = scan_series(path)
    except ClipzooError:
        return []  # reading the folder reports the problem
    return sorted(stacks) if len(stacks) > 1 else []


def read_scan(path: str | Path) -> MetaTensor:
    """Read a scan file, DICOM folder or zip (``FOLDER#KEY``: one stack of several); ``InputError`` names the file
    and the problem."""
    path, key = split_stack_key(path)
    if not path.exists():
        raise InputError("file not found", path)
    if path.is_dir():
        img = read_dicom_series(path, key)
    elif path.suffix.lower() == ZIP_SUFFIX:
        img = read_zip(path, key)
    elif path.stat().st_size == 0:
        raise InputError("file is empty (0 bytes)", path)
    elif is_nifti(path):
        img = read_nifti(path)
    elif path.suffix.lower() in PICTURE_SUFFIXES:
        img = read_picture(path)
    elif path.suffix.lower() in DICOM_SUFFIXES or pydicom.misc.is_dicom(path):
        img = read_dicom_file(path)
    else:
        raise InputError(f"unsupported scan type; use a DICOM folder or one of {', '.join(SCAN_SUFFIXES)}", path)
    bad = int((~torch.isfinite(img.as_tensor())).sum())
    if bad:
        raise InputError(f"{bad} NaN or infinite voxel(s) of {img.numel()}", path)
    img.meta["source"] = str(path) + (f"{STACK_SEPARATOR}{key}" if key else "")
    return img


def spacing_of(img: MetaTensor) -> np.ndarray:
    """Voxel spacing in mm from the affine (MONAI's convention: column norms of its linear part)."""
    from monai.data.utils import affine_to_spacing

    return np.asarray(affine_to_spacing(img.affine, r=img.ndim - 1), dtype=np.float64)
