"""DICOM series: one series out of a folder, slices sorted by position, spacing checked, read through MONAI.

``scan_series`` reads headers only (no pixel data), groups the files of a folder by ``SeriesInstanceUID`` and sorts
each series along its slice normal (``ImageOrientationPatient`` x ``ImagePositionPatient``). Duplicate positions are an
error; irregular gaps are reported (a warning and ``irregular_spacing`` in the volume's metadata). ``SeriesReader`` is
MONAI's ``PydicomReader`` that stacks slices in that order (MONAI's own sorts by ``InstanceNumber``) and shows
MONOCHROME1 images with the usual polarity (bright = dense).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from clipzoo.core.errors import InputError
from monai.data import PydicomReader
from monai.utils import MetaKeys
from pydicom.errors import InvalidDicomError

SPACING_TOLERANCE = 0.1  # a gap more than 10 % off the median gap makes the spacing irregular
DUPLICATE_MM = 1e-3


@dataclass(frozen=True)
class Series:
    """One series of a folder: its files sorted by position along the slice normal, and the gaps between them."""

    folder: Path
    uid: str
    files: tuple[Path, ...]
    modality: str
    gaps: tuple[float, ...] = ()
    sorted_by: str = "position"
    warnings: tuple[str, ...] = field(default_factory=tuple)
    datasets: tuple[pydicom.Dataset, ...] = field(default=(), repr=False, compare=False)

    @property
    def irregular(self) -> bool:
        return _irregular(np.asarray(self.gaps))


def _irregular(gaps: np.ndarray) -> bool:
    if len(gaps) < 2:
        return False
    median = float(np.median(gaps))
    return bool(np.any(np.abs(gaps - median) > SPACING_TOLERANCE * median))


def _has_pixels(ds: pydicom.Dataset) -> bool:
    return any(tag in ds for tag in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"))


def _headers(folder: Path) -> list[tuple[Path, pydicom.Dataset]]:
    """Headers of every DICOM file in ``folder`` (non-DICOM files are skipped; corrupt DICOM files are errors)."""
    found = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        if path.stat().st_size == 0:
            raise InputError("DICOM file is empty (0 bytes)", path)
        if not pydicom.misc.is_dicom(path) and path.suffix.lower() != ".dcm":
            continue  # readme, DICOMDIR-less junk, thumbnails
        try:
            ds = pydicom.dcmread(path, defer_size=1024)  # whole header; pixel data read on first use
        except (InvalidDicomError, OSError, ValueError, EOFError, KeyError) as err:
            raise InputError(f"corrupt DICOM file: {err}", path) from err
        if "SeriesInstanceUID" not in ds:
            raise InputError("corrupt DICOM file: the header ends before SeriesInstanceUID (truncated?)", path)
        found.append((path, ds))
    return found


def scan_series(folder: str | Path) -> dict[str, Series]:
    """Every series in ``folder`` by ``SeriesInstanceUID``, each sorted; files without pixel data are left out."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a folder", folder)
    headers = _headers(folder)
    if not headers:
        raise InputError("folder holds no DICOM files", folder)
    with_pixels = [(p, ds) for p, ds in headers if _has_pixels(ds)]
    if not with_pixels:
        raise InputError(f"folder holds {len(headers)} DICOM file(s) but none has pixel data", folder)
    cut = [p for p, ds in headers if "Rows" in ds and not _has_pixels(ds)]
    if cut:  # an image header among images, its pixels missing: a truncated copy
        raise InputError("corrupt DICOM file: image header without pixel data (truncated?)", cut[0])
    groups: dict[str, list[tuple[Path, pydicom.Dataset]]] = {}
    for path, ds in with_pixels:
        groups.setdefault(str(ds.get("SeriesInstanceUID", "unknown")), []).append((path, ds))
    return {uid: _sort_series(folder, uid, members) for uid, members in groups.items()}


def _sort_series(folder: Path, uid: str, members: list[tuple[Path, pydicom.Dataset]]) -> Series:
    modality = str(members[0][1].get("Modality", "OT"))
    notes: list[str] = []
    have_geometry = all("ImagePositionPatient" in ds and "ImageOrientationPatient" in ds for _, ds in members)
    if have_geometry:
        iop = np.asarray(members[0][1].ImageOrientationPatient, dtype=np.float64)
        normal = np.cross(iop[:3], iop[3:])
        pos = np.array([float(np.dot(normal, np.asarray(ds.ImagePositionPatient, np.float64))) for _, ds in members])
        order = np.argsort(pos, kind="stable")
        pos = pos[order]
        files = tuple(members[i][0] for i in order)
        gaps = np.diff(pos)
        dup = np.flatnonzero(gaps < DUPLICATE_MM)
        if len(dup):
            i = int(dup[0])
            raise InputError(
                f"duplicate slice position {pos[i]:.3f} mm in series {uid}: {files[i].name} and {files[i + 1].name} "
                f"({len(dup)} duplicate pair(s)); remove the duplicates or split the series",
                folder,
            )
        if _irregular(gaps):
            notes.append(
                f"irregular slice spacing in series {uid}: gaps from {gaps.min():.3f} to {gaps.max():.3f} mm "
                f"(median {np.median(gaps):.3f} mm)"
            )
        datasets = tuple(members[i][1] for i in order)
        return Series(folder, uid, files, modality, tuple(float(g) for g in gaps), "position", tuple(notes), datasets)
    numbers = [ds.get("InstanceNumber") for _, ds in members]
    if all(n is not None for n in numbers):
        order = np.argsort(np.asarray(numbers, dtype=np.int64), kind="stable")
        notes.append(f"series {uid} has no ImagePositionPatient: slices sorted by InstanceNumber")
        members = [members[i] for i in order]
        return Series(
            folder,
            uid,
            tuple(p for p, _ in members),
            modality,
            (),
            "instance",
            tuple(notes),
            tuple(ds for _, ds in members),
        )
    notes.append(f"series {uid} has neither ImagePositionPatient nor InstanceNumber: slices in file-name order")
    return Series(
        folder, uid, tuple(p for p, _ in members), modality, (), "name", tuple(notes), tuple(ds for _, ds in members)
    )


def select_series(folder: str | Path, uid: str | None = None) -> Series:
    """The one series of ``folder`` (or the one named ``uid``); a folder holding several is an error naming them."""
    series = scan_series(folder)
    if uid is not None:
        if uid not in series:
            raise InputError(f"no series {uid}; the folder holds {sorted(series)}", folder)
        return series[uid]
    if len(series) > 1:
        listing = "; ".join(f"{u} ({len(s.files)} files)" for u, s in sorted(series.items()))
        raise InputError(
            f"folder mixes {len(series)} series: {listing}; split it by SeriesInstanceUID "
            "(clipzoo.domains.medical.dicom.split_series_folder) or put one series per folder",
            folder,
        )
    return next(iter(series.values()))


def split_series_folder(folder: str | Path, out: str | Path) -> dict[str, Path]:
    """Link (or copy) each series of a mixed folder into ``out/<SeriesInstanceUID>/``; returns the new folders."""
    import shutil

    out = Path(out)
    made = {}
    for uid, series in scan_series(folder).items():
        target = out / uid
        target.mkdir(parents=True, exist_ok=True)
        for f in series.files:
            dest = target / f.name
            if not dest.exists():
                try:
                    dest.symlink_to(f.resolve())
                except OSError:
                    shutil.copy2(f, dest)
        made[uid] = target
    return made


def modality_lut_range(ds: pydicom.Dataset) -> tuple[float, float]:
    """The stored-value range of ``ds`` after RescaleSlope/Intercept (for inverting MONOCHROME1)."""
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)))
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    slope, intercept = float(ds.get("RescaleSlope", 1.0)), float(ds.get("RescaleIntercept", 0.0))
    a, b = lo * slope + intercept, hi * slope + intercept
    return min(a, b), max(a, b)


class SeriesReader(PydicomReader):
    """MONAI's ``PydicomReader`` for one series: slices stacked in position order, MONOCHROME1 inverted.

    A folder is scanned with :func:`select_series` (one series, sorted, spacing checked); a file is read as one image.
    Affine, spacing and LPS->RAS conversion are MONAI's (first and last slice positions give the slice axis).
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.series: Series | None = None

    def read(self, data: Sequence[str | Path] | str | Path, **kwargs: Any) -> Any:
        names = [data] if isinstance(data, (str, Path)) else list(data)
        if len(names) != 1 or not Path(names[0]).is_dir():
            self.series = None
            return super().read(data, **kwargs)
        self.series = select_series(names[0])
        for note in self.series.warnings:
            warnings.warn(f"{names[0]}: {note}", stacklevel=2)
        datasets = list(self.series.datasets)  # parsed once by the scan; pixel data is read when decoded
        self.filenames = [list(self.series.files)]
        self.has_series = len(datasets) > 1
        return datasets if self.has_series else datasets[0]

    def _combine_dicom_series(self, data: Any, filenames: Sequence[Any]) -> tuple[np.ndarray, dict]:
        """Stack the slices in the order ``read`` sorted them (MONAI sorts by InstanceNumber instead)."""
        slices = list(data)
        stack: np.ndarray | None = None
        for k, (ds, f) in enumerate(zip(slices, filenames, strict=True)):  # filled in place: no list + np.stack copy
            array = self._get_array_data(ds, f)
            if stack is None:
                stack = np.empty((*array.shape, len(slices)), dtype=np.float32)
            if array.shape != stack.shape[:-1]:
                shapes = sorted({array.shape, stack.shape[:-1]})
                raise InputError(f"slices of different sizes {shapes} in one series", Path(filenames[0]).parent)
            stack[..., k] = array
            del ds.PixelData  # the decoded slice is in the stack; drop the encoded bytes
        first, last = slices[0], slices[-1]
        meta = self._get_meta_dict(first)
        gaps = np.asarray(self.series.gaps if self.series else (), dtype=np.float64)
        slice_spacing = float(np.mean(gaps)) if len(gaps) else float(first.get("SliceThickness", 1.0) or 1.0)
        meta["spacing"] = np.asarray([*map(float, first.get("PixelSpacing", (1.0, 1.0))), slice_spacing])
        if "ImagePositionPatient" in last:
            meta["lastImagePositionPatient"] = np.asarray(last.ImagePositionPatient, dtype=np.float64)
        meta[MetaKeys.SPATIAL_SHAPE] = stack.shape
        return stack, meta

    def _get_array_data(self, img: pydicom.Dataset, filename: Any) -> np.ndarray:
        """Pixels with RescaleSlope/Intercept applied, as float32; MONOCHROME1 inverted within the stored range."""
        if not _has_pixels(img):
            raise InputError("DICOM file has no pixel data", filename)
        try:
            raw = img.pixel_array
        except Exception as err:  # pydicom raises many types for truncated or unsupported pixel data
            raise InputError(f"cannot decode DICOM pixel data: {err}", filename) from err
        slope, intercept = float(img.get("RescaleSlope", 1.0)), float(img.get("RescaleIntercept", 0.0))
        data = raw.astype(np.float32) * np.float32(slope) + np.float32(intercept)
        if str(img.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
            lo, hi = modality_lut_range(img)
            data = np.float32(lo + hi) - data
        return data

    def get_data(self, img: Any) -> tuple[np.ndarray, dict]:
        array, meta = super().get_data(img)
        if self.series is not None:
            meta["series_uid"] = self.series.uid
            meta["sorted_by"] = self.series.sorted_by
            meta["irregular_spacing"] = self.series.irregular
            meta["slice_gaps"] = np.asarray(self.series.gaps)
        return array, meta
