"""Tile transforms with albumentations: resize/crop any tile to the model input, D4 symmetry and H&E stain
augmentation (``HEStain``) for training, optional Macenko normalisation (``spec.extra["stain_normalization"]``)."""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np
import torch
from albumentations.pytorch import ToTensorV2
from clipzoo.core.images import CheckpointPixels
from clipzoo.core.spec import ModelSpec

from .stain import MacenkoNormalize

STAIN_NORMALIZATIONS = (None, "macenko")


class TileTransform:
    """RGB uint8 [h, w, 3] -> float tensor [3, s, s]. Training draws its augmentation seed from numpy's global
    generator, which the trainer seeds per sample, so augmentations replay exactly on resume."""

    def __init__(self, pipeline: A.Compose, train: bool):
        self.pipeline = pipeline
        self.train = train

    def __call__(self, tile: np.ndarray) -> torch.Tensor:
        if self.train:
            self.pipeline.set_random_seed(int(np.random.randint(0, 2**31 - 1)))
        return self.pipeline(image=np.asarray(tile))["image"]


def tile_transform(spec: ModelSpec, train: bool) -> TileTransform | CheckpointPixels:
    """The transform of a spec: its ``image_size``, ``mean``/``std`` and ``extra["stain_normalization"]``. An
    imported checkpoint evaluates tiles (files, and tiles cut from slides) through its own preprocessing."""
    if spec.imported and not train:
        return CheckpointPixels(spec)
    size = spec.image_size
    norm = spec.extra.get("stain_normalization")
    if norm not in STAIN_NORMALIZATIONS:
        raise ValueError(f"unknown stain_normalization {norm!r}; choose one of {STAIN_NORMALIZATIONS}")
    steps: list = [MacenkoNormalize()] if norm == "macenko" else []
    if train:
        steps += [
            A.RandomResizedCrop(size=(size, size), scale=(0.7, 1.0), ratio=(0.9, 1.1)),
            A.D4(),
            A.HEStain(
                method="random_preset", intensity_scale_range=(0.85, 1.15), intensity_shift_range=(-0.1, 0.1), p=0.5
            ),
        ]
    else:
        cv_mode = cv2.INTER_LINEAR if spec.interpolation == "bilinear" else cv2.INTER_CUBIC
        if spec.resize_mode == "squash":
            steps += [A.Resize(height=size, width=size, interpolation=cv_mode)]
        elif spec.resize_mode == "longest":
            steps += [
                A.LongestMaxSize(max_size=size, interpolation=cv_mode),
                A.PadIfNeeded(min_height=size, min_width=size, fill=spec.fill_color),
            ]
        else:
            steps += [A.SmallestMaxSize(max_size=size, interpolation=cv_mode), A.CenterCrop(height=size, width=size)]
    steps += [A.Normalize(mean=spec.mean, std=spec.std, max_pixel_value=255.0), ToTensorV2()]
    return TileTransform(A.Compose(steps), train)
