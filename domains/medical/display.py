"""The 8-bit picture a viewer shows of a scan: what an imported 2D checkpoint (BiomedCLIP and the like) was trained
on, since its authors fed it radiographs and slices as figures and PNGs, not Hounsfield units.

The DICOM display pipeline (PS3.3 C.11.2.1.2): the modality LUT (RescaleSlope/Intercept, applied by the reader),
then the VOI window the file records (WindowCenter/WindowWidth with its VOILUTFunction: LINEAR, LINEAR_EXACT or
SIGMOID), then MONOCHROME1 shown inverted (bright = dense). A CT scan that records no window is shown in a stated
default window; MR, a radiograph or a NIfTI volume that records none over its stored range (min..max of the whole
scan); an 8-bit PNG radiograph as it is, a 16-bit one scaled from its stored range. Each default is said in the row's
warnings. The reader keeps what this needs in the scan's metadata (``voi``, ``inverted_sum``, ``picture_depth``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pydicom

VOI_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")
CT_DEFAULT_WINDOW = (40.0, 400.0)  # soft tissue, (level, width) in HU: how CT figures are usually shown


@dataclass(frozen=True)
class Window:
    """A VOI window: ``center``/``width`` in the values after the modality LUT, and the DICOM function."""

    center: float
    width: float
    function: str = "LINEAR"

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Values -> display in [0, 1], exactly as PS3.3 C.11.2.1.2 defines each function (float64)."""
        x = np.asarray(values, dtype=np.float64)
        c, w = self.center, self.width
        if self.function == "SIGMOID":
            return 1.0 / (1.0 + np.exp(-4.0 * (x - c) / w))
        if self.function == "LINEAR_EXACT":
            return np.clip((x - c) / w + 0.5, 0.0, 1.0)
        w = max(w, 1.0)
        if w == 1.0:
            return (x > c - 0.5).astype(np.float64)
        return np.clip((x - (c - 0.5)) / (w - 1.0) + 0.5, 0.0, 1.0)

    def to_meta(self) -> list[str]:
        return [repr(self.center), repr(self.width), self.function]

    @classmethod
    def from_meta(cls, value: Any) -> Window | None:
        if not value:
            return None
        center, width, function = value
        return cls(float(center), float(width), str(function))


def _first(value: Any) -> float:
    """A multi-valued DICOM window attribute's first value (the one a viewer shows first)."""
    return float(value[0] if isinstance(value, pydicom.multival.MultiValue) else value)


def recorded_window(ds: pydicom.Dataset) -> Window | None:
    """The VOI window a DICOM dataset records (its first, when several), or None."""
    if "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None
    try:
        center, width = _first(ds.WindowCenter), _first(ds.WindowWidth)
    except (TypeError, ValueError, IndexError):
        return None
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").upper()
    if width <= 0 or function not in VOI_FUNCTIONS:
        return None
    return Window(center, width, function)


def display_meta(ds: pydicom.Dataset, inverted_sum: float | None) -> dict[str, Any]:
    """What :func:`display_picture` needs of a DICOM header, for the scan's metadata (kept in the scan cache)."""
    meta: dict[str, Any] = {}
    window = recorded_window(ds)
    if window is not None:
        meta["voi"] = window.to_meta()
    if "VOILUTSequence" in ds and window is None:
        meta["voi_lut_ignored"] = True
    if inverted_sum is not None:
        meta["inverted_sum"] = repr(float(inverted_sum))
    return meta


@dataclass(frozen=True)
class Display:
    """How one scan's intensities become 8-bit pixels; ``warning`` says which default was taken, if any."""

    window: Window | None = None
    inverted_sum: float | None = None  # MONOCHROME1: the reader stored ``inverted_sum - value``
    value_range: tuple[float, float] | None = None  # stored range, for scans without a window
    warning: str | None = None

    def __call__(self, intensities: np.ndarray) -> np.ndarray:
        """``[..., h, w]`` intensities as the reader gives them -> uint8 display pixels."""
        x = np.asarray(intensities, dtype=np.float64)
        if self.window is not None and self.inverted_sum is not None:  # the window is defined on stored values
            y = 1.0 - self.window(self.inverted_sum - x)
        elif self.window is not None:
            y = self.window(x)
        elif self.value_range is not None:
            low, high = self.value_range
            y = (x - low) / (high - low) if high > low else np.zeros_like(x)
        else:  # an 8-bit picture: as it is
            return np.clip(np.round(x), 0, 255).astype(np.uint8)
        return np.round(np.clip(y, 0.0, 1.0) * 255.0).astype(np.uint8)


def scan_display(meta: Mapping[str, Any], intensities: np.ndarray) -> Display:
    """The display of a read scan (see the module doc), from its metadata and its intensities."""
    inverted = meta.get("inverted_sum")
    inverted_sum = float(inverted) if inverted not in (None, "") else None
    window = Window.from_meta(meta.get("voi"))
    if window is not None:
        return Display(window=window, inverted_sum=inverted_sum)
    if str(meta.get("picture_depth", "")) == "8":
        return Display()
    values = np.asarray(intensities)
    value_range = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    modality = str(meta.get("modality", ""))
    if str(meta.get("picture_depth", "")) == "16":
        return Display(value_range=value_range)
    ignored = " (its VOI LUT sequence is not applied)" if meta.get("voi_lut_ignored") else ""
    if modality == "CT":
        level, width = CT_DEFAULT_WINDOW
        return Display(
            window=Window(level, width),
            warning=f"no display window recorded{ignored}: CT shown to the imported model in the default "
            f"soft-tissue window (level {level:g}, width {width:g} HU)",
        )
    return Display(
        value_range=value_range,
        warning=f"no display window recorded{ignored}: {modality or 'the scan'} shown to the imported model over "
        f"its stored range ({value_range[0]:g} to {value_range[1]:g})",
    )
