"""Intensity: CT window presets (HU level/width), multi-window channels, percentile normalisation for MR and X-ray."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from clipzoo.core.errors import InputError
from monai.data import MetaTensor
from monai.transforms import ScaleIntensityRangePercentiles

# (level, width) in Hounsfield units: the usual radiology presets.
WINDOWS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (50.0, 350.0),
    "abdomen": (40.0, 400.0),
    "liver": (60.0, 160.0),
    "brain": (40.0, 80.0),
    "bone": (400.0, 1800.0),
}
DEFAULT_WINDOWS = ("lung", "mediastinum", "bone")


def _plain(x: torch.Tensor) -> torch.Tensor:
    return x.as_tensor() if isinstance(x, MetaTensor) else torch.as_tensor(x)


def window(hu: torch.Tensor, name: str) -> torch.Tensor:
    """HU clipped to the preset's window and scaled to [0, 1] (a plain tensor op: MONAI's transform costs more
    per call than the arithmetic)."""
    low, high = window_range(name)
    return ((_plain(hu).float() - low) / (high - low)).clamp_(0.0, 1.0)  # = MONAI ScaleIntensityRange(clip=True)


def window_range(name: str) -> tuple[float, float]:
    """The HU interval [level - width / 2, level + width / 2] of a preset."""
    if name not in WINDOWS:
        raise InputError(f"unknown CT window {name!r}; presets: {sorted(WINDOWS)}")
    level, width = WINDOWS[name]
    return level - width / 2, level + width / 2


def multi_window(hu: torch.Tensor, names: Sequence[str] = DEFAULT_WINDOWS) -> torch.Tensor:
    """One channel per window: ``hu [1, ...]`` -> ``[len(names), ...]`` (three windows = an RGB-like input)."""
    return torch.cat([window(hu, n) for n in names], dim=0)


def percentile_normalise(img: torch.Tensor, lower: float = 0.5, upper: float = 99.5) -> torch.Tensor:
    """Scale so the ``lower``/``upper`` percentiles map to 0/1, clipped (MR and X-ray have no absolute scale)."""
    scale = ScaleIntensityRangePercentiles(lower=lower, upper=upper, b_min=0.0, b_max=1.0, clip=True)
    return _plain(scale(_plain(img)))


def to_channels(img: torch.Tensor, modality: str, channels: int = 3, windows: Sequence[str] = DEFAULT_WINDOWS):
    """``[1, ...]`` intensities -> ``[channels, ...]`` in [0, 1]: CT through windows, anything else by percentiles."""
    if modality == "CT":
        names = list(windows)[:channels] if len(windows) >= channels else [*windows] * channels
        return multi_window(img, names[:channels])
    return percentile_normalise(img).expand(channels, *img.shape[1:])
