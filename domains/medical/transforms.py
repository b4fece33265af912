"""From a read scan to model input: optional resampling, slice sampling, intensity channels, resize, normalise.

A volume becomes ``{"volume": [S, C, H, W], "position": [S]}`` (axial slices in radiological display: anterior up,
patient's right on the left; ``position`` is each slice's relative height in the volume, 0 = most inferior). A 2D
image becomes ``[C, H, W]``. All slices of a volume are resized in one call (never a Python loop over slices).
An imported 2D checkpoint instead sees each picture as a viewer displays it, through its own preprocessing
(:class:`CheckpointScanTransform`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from clipzoo.core.errors import InputError
from clipzoo.core.images import CheckpointPixels
from clipzoo.core.notes import note
from monai.data import MetaTensor
from monai.transforms import Spacing

from .display import Display, scan_display
from .intensity import DEFAULT_WINDOWS, to_channels

SAMPLING = ("uniform", "random", "center", "all")


def sample_slices(depth: int, count: int, strategy: str = "uniform", rng: np.random.Generator | None = None):
    """Indices of at most ``count`` of ``depth`` slices, ascending.

    ``uniform``: evenly spaced over the whole volume; ``random``: one random slice per equal-width stratum (training);
    ``center``: the ``count`` contiguous middle slices; ``all``: every slice (memory is bounded by chunked encoding).
    """
    if depth < 1:
        raise ValueError(f"depth must be positive, got {depth}")
    if strategy not in SAMPLING:
        raise InputError(f"unknown slice sampling {strategy!r}; choose one of {SAMPLING}")
    if strategy == "all" or depth <= count:
        return np.arange(depth)
    if strategy == "uniform":
        return np.unique(np.round(np.linspace(0, depth - 1, count)).astype(np.int64))
    if strategy == "center":
        start = (depth - count) // 2
        return np.arange(start, start + count)
    rng = rng or np.random.default_rng()
    edges = np.linspace(0, depth, count + 1)
    return np.array([int(rng.integers(int(a), max(int(a) + 1, int(b)))) for a, b in itertools.pairwise(edges)])


def volume_to_slices(vol: torch.Tensor) -> torch.Tensor:
    """RAS ``[C, X, Y, Z]`` -> axial slices ``[Z, C, H=Y, W=X]`` with anterior up and patient's right on the left."""
    return vol.permute(3, 0, 2, 1).flip(-1, -2)


def image_to_chw(img: torch.Tensor, frame: str) -> torch.Tensor:
    """MONAI's x-first 2D ``[C, X, Y]`` -> ``[C, H, W]``; a patient-frame (RAS) slice in radiological display."""
    chw = img.transpose(-1, -2)
    return chw.flip(-1, -2) if frame == "patient" else chw


@dataclass
class ScanTransform:
    """The domain's transform; ``train`` switches slice sampling to stratified random and adds intensity jitter."""

    image_size: int
    mean: Sequence[float]
    std: Sequence[float]
    channels: int = 3
    train: bool = False
    max_slices: int = 32
    sampling: str = "uniform"
    windows: Sequence[str] = DEFAULT_WINDOWS
    target_spacing: Sequence[float] | None = None
    chunk_slices: int = 64
    rng: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLING:
            raise InputError(f"unknown slice sampling {self.sampling!r}; choose one of {SAMPLING}")
        self._mean = torch.tensor(self.mean, dtype=torch.float32).view(-1, 1, 1)
        self._std = torch.tensor(self.std, dtype=torch.float32).view(-1, 1, 1)
        self._spacing = Spacing(pixdim=tuple(self.target_spacing), mode="bilinear") if self.target_spacing else None

    def _jitter(self) -> tuple[float, float]:
        """Training intensity jitter (contrast, brightness), drawn once per sample."""
        return (float(np.random.uniform(0.9, 1.1)), float(np.random.uniform(-0.05, 0.05))) if self.train else (1, 0)

    def _finish(self, pixels: torch.Tensor, modality: str, jitter: tuple[float, float]) -> torch.Tensor:
        """``[N, 1, h, w]`` intensities -> ``[N, C, S, S]`` normalised model input (one resize for all N)."""
        pixels = F.interpolate(pixels, size=(self.image_size, self.image_size), mode="bilinear", antialias=True)
        chans = to_channels(pixels.transpose(0, 1), modality, self.channels, self.windows).transpose(0, 1)
        if self.train:
            chans = chans * jitter[0] + jitter[1]
        return (chans - self._mean) / self._std

    def __call__(self, img: MetaTensor) -> torch.Tensor | dict[str, torch.Tensor]:
        modality = str(img.meta.get("modality", "CT")) if isinstance(img, MetaTensor) else "CT"
        if img.ndim == 3:  # a 2D image [1, X, Y]
            chw = image_to_chw(img.as_tensor() if isinstance(img, MetaTensor) else img, img.meta.get("frame", "pixel"))
            return self._finish(chw.unsqueeze(0).float(), modality, self._jitter())[0]
        if img.ndim != 4:
            raise InputError(f"expected a [1, X, Y, Z] volume or a [1, X, Y] image, got shape {tuple(img.shape)}")
        if self._spacing is not None:
            img = self._spacing(img)
        vol = img.as_tensor() if isinstance(img, MetaTensor) else img
        depth = vol.shape[-1]
        strategy = "random" if self.train and self.sampling == "uniform" else self.sampling
        idx = sample_slices(depth, self.max_slices, strategy, np.random.default_rng(np.random.randint(2**31)))
        position = torch.as_tensor(idx, dtype=torch.float32) / max(depth - 1, 1)
        jitter = self._jitter()
        # CT windows are per voxel: a chunk of slices at a time, so a 300-slice volume is never copied whole;
        # percentile normalisation (MR) needs all sampled slices at once
        per_chunk = self.chunk_slices if modality == "CT" else len(idx)
        chunks = [
            self._finish(volume_to_slices(vol[..., torch.as_tensor(part)]).float(), modality, jitter)
            for part in np.array_split(idx, max(1, -(-len(idx) // per_chunk)))
        ]
        return {"volume": torch.cat(chunks), "position": position}


@dataclass
class CheckpointScanTransform:
    """An imported 2D checkpoint's transform: a radiograph, and every sampled axial slice of a volume, as the 8-bit
    picture a viewer shows (:mod:`.display`: the file's VOI window, MONOCHROME1 inverted, else a default said in
    the row's warnings), then through the checkpoint's own preprocessing (``core.images.CheckpointPixels``)."""

    pixels: CheckpointPixels
    max_slices: int = 32
    sampling: str = "uniform"

    def __call__(self, img: MetaTensor) -> torch.Tensor | dict[str, torch.Tensor]:
        meta = dict(getattr(img, "meta", {}))
        data = img.as_tensor() if isinstance(img, MetaTensor) else torch.as_tensor(img)
        if data.ndim == 3:  # a 2D image [1, X, Y]
            grey = image_to_chw(data, meta.get("frame", "pixel"))[0].numpy()
            return self.pixels(self._display(meta, grey)(grey))
        if data.ndim != 4:
            raise InputError(f"expected a [1, X, Y, Z] volume or a [1, X, Y] image, got shape {tuple(data.shape)}")
        depth = data.shape[-1]
        idx = sample_slices(depth, self.max_slices, self.sampling)
        display = self._display(meta, data.numpy())  # one window (or range) for the whole scan
        slices = volume_to_slices(data[..., torch.as_tensor(idx)])[:, 0].numpy()
        volume = torch.stack([self.pixels(display(grey)) for grey in slices])
        return {"volume": volume, "position": torch.as_tensor(idx, dtype=torch.float32) / max(depth - 1, 1)}

    @staticmethod
    def _display(meta: dict[str, Any], intensities: np.ndarray) -> Display:
        display = scan_display(meta, intensities)
        if display.warning:
            note(display.warning)
        return display
