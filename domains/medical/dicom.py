"""DICOM series: one series out of a folder, slices sorted by position, spacing checked, read through MONAI.

``scan_series`` reads headers only (no pixel data), groups the files of a folder by ``SeriesInstanceUID`` and sorts
each series along its slice normal (``ImageOrientationPatient`` x ``ImagePositionPatient``). Duplicate positions are an
error; irregular gaps are reported (in the series' ``warnings``, and ``irregular_spacing`` in the volume's metadata).
``SeriesReader`` is MONAI's ``PydicomReader`` that stacks slices in that order (MONAI's own sorts by
``InstanceNumber``) and shows MONOCHROME1 images with the usual polarity (bright = dense).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from clipzoo.core.errors import InputError
from monai.data import PydicomReader
from monai.utils import MetaKeys
from pydicom.errors import InvalidDicomError
from pydicom.fileset import FileSet

DICOMDIR = "DICOMDIR"
PROJECTION_MODALITIES = ("CR", "DX", "MG", "XR", "RF", "XA", "PX")
SPACING_TOLERANCE = 0.1  # a gap more than 10 % off the median gap makes the spacing irregular
DUPLICATE_MM = 1e-3


@dataclass(frozen=True)
class Series:
    """One image stack of a folder: its files sorted by position along the slice normal, and the gaps between them.

    ``key`` names the stack: the ``SeriesInstanceUID``, followed by ``:<plane>`` or ``:echo<n>`` when one series holds
    several stacks (images at different orientations, or several echoes at the same positions).
    """

    folder: Path
    uid: str
    files: tuple[Path, ...]
    modality: str
    gaps: tuple[float, ...] = ()
    sorted_by: str = "position"
    warnings: tuple[str, ...] = field(default_factory=tuple)
    datasets: tuple[pydicom.Dataset, ...] = field(default=(), repr=False, compare=False)
    key: str = ""
    description: str = ""
    plane: str = ""

    @property
    def irregular(self) -> bool:
        return _irregular(np.asarray(self.gaps))

    def describe(self) -> str:
        what = ", ".join(x for x in (self.description and repr(self.description), self.plane) if x)
        return f"{self.key or self.uid} ({what + ', ' if what else ''}{len(self.files)} images)"


def _irregular(gaps: np.ndarray) -> bool:
    if len(gaps) < 2:
        return False
    median = float(np.median(gaps))
    return bool(np.any(np.abs(gaps - median) > SPACING_TOLERANCE * median))


def _has_pixels(ds: pydicom.Dataset) -> bool:
    return any(tag in ds for tag in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"))


def _dicomdir_files(index: Path) -> list[Path]:
    """The image files a DICOMDIR lists (its records name them relative to its folder)."""
    try:
        fileset = FileSet(pydicom.dcmread(index))
    except Exception as err:  # pydicom raises many types for a damaged index
        raise InputError(f"corrupt DICOMDIR: {err}", index) from err
    files = [Path(instance.path) for instance in fileset]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise InputError(f"DICOMDIR lists {len(missing)} file(s) that are not there, e.g. {missing[0]}", index)
    return sorted(files)


def dicom_files(folder: Path) -> list[Path]:
    """The candidate DICOM files of a study folder: those its DICOMDIR lists, else every file below it (nested
    patient/study/series folders included; hidden files and a stray DICOMDIR left out)."""
    index = folder / DICOMDIR
    if index.is_file():
        return _dicomdir_files(index)
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.name != DICOMDIR and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _headers(folder: Path) -> list[tuple[Path, pydicom.Dataset]]:
    """Headers of every DICOM file of ``folder`` (non-DICOM files are skipped; corrupt DICOM files are errors)."""
    found = []
    for path in dicom_files(folder):
        if path.stat().st_size == 0:
            raise InputError("DICOM file is empty (0 bytes)", path)
        if not pydicom.misc.is_dicom(path) and path.suffix.lower() != ".dcm":
            continue  # readme, thumbnails
        try:
            ds = pydicom.dcmread(path, defer_size=1024)  # whole header; pixel data read on first use
        except (InvalidDicomError, OSError, ValueError, EOFError, KeyError) as err:
            raise InputError(f"corrupt DICOM file: {pydicom_reason(err)}", path) from err
        if "SeriesInstanceUID" not in ds and "DirectoryRecordSequence" not in ds:
            raise InputError("corrupt DICOM file: the header ends before SeriesInstanceUID (truncated?)", path)
        found.append((path, ds))
    return found


def pydicom_reason(err: Exception) -> str:
    """pydicom's message without its advice to read with force=True (which would accept a broken file)."""
    return re.split(r"[.,;]? *(?:Use|or set) '?force'?(?:=True)?", str(err))[0].rstrip(" ,;.") or type(err).__name__


def _image_type(ds: pydicom.Dataset) -> tuple[str, ...]:
    value = ds.get("ImageType", ())
    return tuple(
        str(v).upper() for v in (value if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else [value])
    )


def _plane(iop: np.ndarray) -> str:
    normal = np.abs(np.cross(iop[:3], iop[3:]))
    axis = int(np.argmax(normal))
    return ("sagittal", "coronal", "axial")[axis] if normal[axis] >= 0.8 else "oblique"


def _orientation(ds: pydicom.Dataset) -> tuple[float, ...] | None:
    if "ImageOrientationPatient" not in ds:
        return None
    return tuple(round(float(v), 2) + 0.0 for v in ds.ImageOrientationPatient)


def scan_series(folder: str | Path) -> dict[str, Series]:
    """Every image stack of ``folder`` by key, each sorted.

    Images are grouped by ``SeriesInstanceUID``, then by orientation, then (where positions repeat) by echo and
    acquisition, so no stack mixes images of different geometry. Localizers (``ImageType`` LOCALIZER), projection
    radiographs (CR, DX, XA...) next to a volume and single images at another orientation than the rest of their series
    are left out, and each remaining stack says so in its ``warnings``. Files without pixel data are left out.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a folder", folder)
    headers = [(p, ds) for p, ds in _headers(folder) if "DirectoryRecordSequence" not in ds]
    if not headers:
        nested = "" if any(p.is_dir() for p in folder.iterdir()) else " (nor in sub-folders)"
        raise InputError(f"folder holds no DICOM files{nested}", folder)
    with_pixels = [(p, ds) for p, ds in headers if _has_pixels(ds)]
    if not with_pixels:
        raise InputError(f"folder holds {len(headers)} DICOM file(s) but none has pixel data", folder)
    cut = [p for p, ds in headers if "Rows" in ds and not _has_pixels(ds)]
    if cut:  # an image header among images, its pixels missing: a truncated copy
        raise InputError("corrupt DICOM file: image header without pixel data (truncated?)", cut[0])
    dropped: list[str] = []
    localizers = [p for p, ds in with_pixels if "LOCALIZER" in _image_type(ds)]
    if localizers:
        dropped.append(f"left out {len(localizers)} localizer image(s): {', '.join(p.name for p in localizers)}")
    candidates = [(p, ds) for p, ds in with_pixels if "LOCALIZER" not in _image_type(ds)]
    projections = [p for p, ds in candidates if str(ds.get("Modality", "")) in PROJECTION_MODALITIES]
    if projections and len(projections) < len(candidates):
        names = ", ".join(p.name for p in projections)
        dropped.append(f"left out {len(projections)} projection image(s) beside the volume: {names}")
        candidates = [(p, ds) for p, ds in candidates if p not in set(projections)]
    groups: dict[str, list[tuple[Path, pydicom.Dataset]]] = {}
    for path, ds in candidates:
        groups.setdefault(str(ds.get("SeriesInstanceUID", "unknown")), []).append((path, ds))
    stacks: dict[str, Series] = {}
    for uid, members in groups.items():
        for key, part in _split_series(uid, members, dropped):
            stacks[key] = _sort_series(folder, uid, part, key)
    if not stacks:
        raise InputError(f"folder holds only localizer or projection images ({len(with_pixels)})", folder)
    return {key: replace(stack, warnings=(*dropped, *stack.warnings)) for key, stack in stacks.items()}


def _split_series(
    uid: str, members: list[tuple[Path, pydicom.Dataset]], dropped: list[str]
) -> list[tuple[str, list[tuple[Path, pydicom.Dataset]]]]:
    """One series' images as stacks of one orientation (and one echo where positions repeat)."""
    by_orientation: dict[tuple[float, ...] | None, list[tuple[Path, pydicom.Dataset]]] = {}
    for path, ds in members:
        by_orientation.setdefault(_orientation(ds), []).append((path, ds))
    if len(by_orientation) > 1 and any(len(m) > 1 for m in by_orientation.values()):
        singles = [m[0][0] for m in by_orientation.values() if len(m) == 1]
        if singles:
            dropped.append(
                f"left out {len(singles)} image(s) of series {uid} at another orientation than the rest (localizers?): "
                + ", ".join(p.name for p in singles)
            )
        by_orientation = {k: m for k, m in by_orientation.items() if len(m) > 1}
    if len(by_orientation) == 1:
        return _split_echoes(uid, next(iter(by_orientation.values())))
    stacks = []
    seen: dict[str, int] = {}
    for orientation, part in by_orientation.items():
        plane = _plane(np.asarray(orientation)) if orientation else "unknown"
        seen[plane] = seen.get(plane, 0) + 1
        stacks.extend(_split_echoes(f"{uid}:{plane}" + (str(seen[plane]) if seen[plane] > 1 else ""), part))
    return stacks


def _split_echoes(
    key: str, members: list[tuple[Path, pydicom.Dataset]]
) -> list[tuple[str, list[tuple[Path, pydicom.Dataset]]]]:
    """Images at repeated positions that differ by echo or acquisition are separate stacks (a multi-echo MR)."""
    positions = [tuple(np.round(np.asarray(ds.get("ImagePositionPatient", ()), np.float64), 3)) for _, ds in members]
    if len(set(positions)) == len(positions):
        return [(key, members)]
    echo = [(str(ds.get("EchoNumbers", "")), str(ds.get("AcquisitionNumber", ""))) for _, ds in members]
    if len(set(echo)) < 2:
        return [(key, members)]  # repeated positions of one acquisition: _sort_series names the duplicates
    by_echo: dict[tuple[str, str], list[tuple[Path, pydicom.Dataset]]] = {}
    for value, member in zip(echo, members, strict=True):
        by_echo.setdefault(value, []).append(member)
    named = []
    for (number, acquisition), part in sorted(by_echo.items()):
        label = f"echo{number}" if len({e for e, _ in by_echo}) > 1 else f"acq{acquisition}"
        named.append((f"{key}:{label}", part))
    return named


def _sort_series(folder: Path, uid: str, members: list[tuple[Path, pydicom.Dataset]], key: str) -> Series:
    first = members[0][1]
    modality = str(first.get("Modality", "OT"))
    about = {"key": key, "description": str(first.get("SeriesDescription", "")), "plane": ""}
    notes: list[str] = []
    have_geometry = all("ImagePositionPatient" in ds and "ImageOrientationPatient" in ds for _, ds in members)
    if have_geometry:
        iop = np.asarray(first.ImageOrientationPatient, dtype=np.float64)
        about["plane"] = _plane(iop)
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
                f"duplicate slice position {pos[i]:.3f} mm in series {key}: {files[i].name} and {files[i + 1].name} "
                f"({len(dup)} duplicate pair(s)); remove the duplicates or split the series",
                folder,
            )
        if _irregular(gaps):
            notes.append(
                f"irregular slice spacing in series {key}: gaps from {gaps.min():.3f} to {gaps.max():.3f} mm "
                f"(median {np.median(gaps):.3f} mm)"
            )
        datasets = tuple(members[i][1] for i in order)
        return Series(folder, uid, files, modality, tuple(float(g) for g in gaps), "position", tuple(notes), datasets,
                      **about)  # fmt: skip
    numbers = [ds.get("InstanceNumber") for _, ds in members]
    if all(n is not None for n in numbers):
        order = np.argsort(np.asarray(numbers, dtype=np.int64), kind="stable")
        notes.append(f"series {key} has no ImagePositionPatient: slices sorted by InstanceNumber")
        members = [members[i] for i in order]
        sorted_by = "instance"
    else:
        notes.append(f"series {key} has neither ImagePositionPatient nor InstanceNumber: slices in file-name order")
        sorted_by = "name"
    files = tuple(p for p, _ in members)
    return Series(folder, uid, files, modality, (), sorted_by, tuple(notes), tuple(ds for _, ds in members), **about)


def select_series(folder: str | Path, key: str | None = None) -> Series:
    """The one image stack of ``folder`` (or the one named ``key``); a folder holding several is an error naming them
    and how to choose one (``FOLDER#KEY``)."""
    stacks = scan_series(folder)
    if key is not None:
        if key not in stacks:
            raise InputError(f"no image stack {key}; the folder holds {', '.join(sorted(stacks))}", folder)
        return stacks[key]
    if len(stacks) > 1:
        listing = "; ".join(s.describe() for _, s in sorted(stacks.items()))
        raise InputError(
            f"folder holds {len(stacks)} image stacks: {listing}; name one as FOLDER#KEY "
            "(clipzoo predict answers each stack of a folder separately)",
            folder,
        )
    return next(iter(stacks.values()))


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

    def __init__(self, key: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.key = key
        self.series: Series | None = None

    def read(self, data: Sequence[str | Path] | str | Path, **kwargs: Any) -> Any:
        names = [data] if isinstance(data, (str, Path)) else list(data)
        if len(names) != 1 or not Path(names[0]).is_dir():
            self.series = None
            return super().read(data, **kwargs)
        self.series = select_series(names[0], self.key)  # its warnings reach the row through read_dicom_series
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
