"""Macenko stain normalisation that leaves background tiles alone instead of crashing (the torchstain complaint).

The stain matrix of a tile is estimated with albumentations' ``MacenkoNormalizer`` on its tissue pixels only; the
tile's stain concentrations are then rescaled to a reference (Macenko et al. 2009, the reference of torchstain and
the original MATLAB code). A tile with too few tissue pixels, or a degenerate fit, is returned unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from albumentations.augmentations.pixel.functional import MacenkoNormalizer
from albumentations.core.transforms_interface import ImageOnlyTransform

REFERENCE_STAINS = np.array([[0.5626, 0.7201, 0.4062], [0.2159, 0.8012, 0.5581]])  # rows: haematoxylin, eosin
REFERENCE_MAX_CONCENTRATIONS = np.array([1.9705, 1.0308])
_IO = 255.0
_BETA = 0.15  # optical density below which a channel counts as transparent


def macenko_normalize(rgb: np.ndarray, min_tissue: float = 0.05, min_pixels: int = 64) -> np.ndarray:
    """The tile with its H&E stains mapped onto the reference; unchanged when it is mostly background."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image, got {rgb.dtype} of shape {rgb.shape}")
    pixels = rgb.reshape(-1, 3).astype(np.float64)
    od = -np.log((pixels + 1.0) / _IO)
    tissue = (od > _BETA).all(axis=1)
    if tissue.sum() < max(min_pixels, min_tissue * len(od)):
        return rgb
    fitter = MacenkoNormalizer()
    try:
        fitter.fit(np.ascontiguousarray(rgb.reshape(-1, 3)[tissue][None]))
    except (ValueError, np.linalg.LinAlgError):
        return rgb
    stains = np.asarray(fitter.stain_matrix_target, dtype=np.float64)  # [2, 3]: H, E
    if stains.shape != (2, 3) or not np.isfinite(stains).all() or abs(np.linalg.det(stains @ stains.T)) < 1e-6:
        return rgb
    concentrations, *_ = np.linalg.lstsq(stains.T, od.T, rcond=None)  # [2, N]
    max_c = np.percentile(concentrations[:, tissue], 99, axis=1)
    if not np.isfinite(max_c).all() or (max_c <= 1e-6).any():
        return rgb
    concentrations *= (REFERENCE_MAX_CONCENTRATIONS / max_c)[:, None]
    out = _IO * np.exp(-(REFERENCE_STAINS.T @ concentrations))
    out = np.clip(out.T, 0, 255).reshape(rgb.shape)
    out[~tissue.reshape(rgb.shape[:2])] = rgb[~tissue.reshape(rgb.shape[:2])]  # glass stays as it was
    return out.astype(np.uint8)


class MacenkoNormalize(ImageOnlyTransform):
    """albumentations wrapper of ``macenko_normalize`` (deterministic; ``p`` = 1 by default)."""

    def __init__(self, min_tissue: float = 0.05, p: float = 1.0):
        super().__init__(p=p)
        self.min_tissue = min_tissue

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        return macenko_normalize(img, min_tissue=self.min_tissue)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("min_tissue",)
