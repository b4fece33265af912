"""From a normalised ``PoseSequence`` to the model input: layout selection, fps resampling, frame cap, augmentation.

Evaluation: the spec's layout's points, linear resampling to the spec's fps (when set), then at most ``max_frames``
frames: a longer sequence keeps its central ``max_frames`` frames (documented truncation, logged once per file).
Training adds SignCLIP's augmentations: temporal resampling (speed x0.8-1.25), pose-format's ``augment2d``
(rotation, shear, scale of x/y), a horizontal flip that mirrors x and swaps left/right points (hands, body sides,
face-mesh mirror points), and a random ``max_frames`` window instead of the central one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.ma as ma
import torch
from pose_format.numpy import NumPyPoseBody

from .layouts import get_layout, subset_indices
from .reader import PoseSequence

log = logging.getLogger(__name__)

_WARNED: set[str] = set()


@dataclass(frozen=True)
class PoseTransformConfig:
    """Preprocessing settings; they live in ``ModelSpec.extra`` so a registered model carries them."""

    layout: str = "signclip203"
    max_frames: int = 256
    fps: float | None = None  # resample to this frame rate; None keeps the file's
    speed_range: tuple[float, float] = (0.8, 1.25)
    rotation_std: float = 0.2
    shear_std: float = 0.2
    scale_std: float = 0.2
    flip_p: float = 0.5

    @classmethod
    def from_extra(cls, extra: dict) -> PoseTransformConfig:
        known = {k: v for k, v in extra.items() if k in cls.__dataclass_fields__}
        if "speed_range" in known:
            known["speed_range"] = tuple(known["speed_range"])
        return cls(**known)


def resample(data: np.ndarray, mask: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of [T, P, 3] to ``length`` frames; a point is observed where the frames it is
    interpolated from (one, or both neighbours) observed it."""
    frames = data.shape[0]
    length = max(1, int(length))
    if length == frames:
        return data, mask
    pos = np.linspace(0, frames - 1, length) if frames > 1 else np.zeros(length)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, frames - 1)
    w = (pos - lo).astype(np.float32)[:, None, None]
    out_mask = mask[lo] & (mask[hi] | (w[..., 0] == 0))
    out = (1 - w) * data[lo] + w * data[hi]
    return np.where(out_mask[..., None], out, 0.0).astype(np.float32), out_mask


def crop(data: np.ndarray, mask: np.ndarray, max_frames: int, random: bool) -> tuple[np.ndarray, np.ndarray]:
    frames = data.shape[0]
    if frames <= max_frames:
        return data, mask
    start = int(np.random.randint(0, frames - max_frames + 1)) if random else (frames - max_frames) // 2
    return data[start : start + max_frames], mask[start : start + max_frames]


def augment2d(data: np.ndarray, mask: np.ndarray, cfg: PoseTransformConfig) -> np.ndarray:
    """pose-format's ``augment2d`` (one random rotation/shear/scale of x, y for the whole sequence)."""
    body = NumPyPoseBody(
        fps=1.0,
        data=ma.masked_array(data[:, None], mask=np.repeat(~mask[:, None, :, None], 3, -1)),
        confidence=mask[:, None].astype(np.float32),
    )
    out = body.augment2d(rotation_std=cfg.rotation_std, shear_std=cfg.shear_std, scale_std=cfg.scale_std)
    return np.asarray(out.data.filled(0)[:, 0], dtype=np.float32)


def flip(data: np.ndarray, mask: np.ndarray, mirror: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror x and swap left/right points so that a right-handed sign becomes its left-handed twin."""
    data = data[:, mirror] * np.array([-1.0, 1.0, 1.0], dtype=np.float32)
    return data, mask[:, mirror]


class PoseTransform:
    """A picklable callable: ``PoseSequence`` -> float32 tensor [T, 3 * points] (DataLoader workers can use it)."""

    def __init__(self, cfg: PoseTransformConfig, train: bool):
        self.cfg, self.train = cfg, train
        layout = get_layout(cfg.layout)
        self.points = subset_indices(layout)
        self.mirror = layout.mirror

    def __call__(self, seq: PoseSequence) -> torch.Tensor:
        cfg = self.cfg
        data, mask = seq.data[:, self.points], seq.mask[:, self.points]
        length = seq.num_frames * (cfg.fps / seq.fps if cfg.fps else 1.0)
        if self.train:
            length /= np.random.uniform(*cfg.speed_range)
        data, mask = resample(data, mask, round(length))
        if data.shape[0] > cfg.max_frames and not self.train and seq.source not in _WARNED:
            _WARNED.add(seq.source)
            log.warning(
                "%s: %d frames exceed max_frames=%d: keeping the central %d frames",
                seq.source,
                data.shape[0],
                cfg.max_frames,
                cfg.max_frames,
            )
        data, mask = crop(data, mask, cfg.max_frames, random=self.train)
        if self.train:
            data = augment2d(data, mask, cfg)
            if np.random.random() < cfg.flip_p:
                data, mask = flip(data, mask, self.mirror)
        return torch.from_numpy(np.ascontiguousarray(data.reshape(data.shape[0], -1), dtype=np.float32))


def collate_poses(tensors: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Pad [T_i, D] sequences to ``{"poses": [B, T, D], "mask": [B, T]}`` (mask True on real frames)."""
    if not tensors:
        raise ValueError("cannot collate an empty batch")
    longest = max(t.shape[0] for t in tensors)
    poses = tensors[0].new_zeros((len(tensors), longest, tensors[0].shape[1]))
    mask = torch.zeros((len(tensors), longest), dtype=torch.bool)
    for i, t in enumerate(tensors):
        poses[i, : t.shape[0]] = t
        mask[i, : t.shape[0]] = True
    return {"poses": poses, "mask": mask}
