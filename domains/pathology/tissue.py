"""Tissue detection on a slide thumbnail: Otsu's threshold on HSV saturation (stained tissue is coloured, glass is
grey-white), with a floor so that a blank slide's noise is not mistaken for tissue, and a morphological clean-up."""

from __future__ import annotations

import cv2
import numpy as np

MIN_SATURATION = 20  # of 255: below this nothing is tissue, whatever Otsu says (blank slides, pen-free glass)


def tissue_mask(rgb: np.ndarray, min_saturation: int = MIN_SATURATION, close_px: int = 3) -> np.ndarray:
    """Boolean [h, w] mask of tissue pixels in an RGB uint8 thumbnail."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image, got {rgb.dtype} of shape {rgb.shape}")
    saturation = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1]
    saturation = cv2.GaussianBlur(saturation, (3, 3), 0)
    otsu, _ = cv2.threshold(saturation, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    threshold = max(float(otsu), float(min_saturation))
    mask = (saturation > threshold).astype(np.uint8)
    if close_px > 0 and min(mask.shape) > 2 * close_px:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * close_px + 1, 2 * close_px + 1))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    return mask.astype(bool)


def region_fractions(mask: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Fraction of mask pixels inside each box [x0, y0, x1, y1] (mask pixel units, clipped, at least one pixel)."""
    h, w = mask.shape
    integral = cv2.integral(mask.astype(np.uint8))  # [h+1, w+1]
    x0 = np.clip(np.floor(boxes[:, 0]).astype(int), 0, w - 1)
    y0 = np.clip(np.floor(boxes[:, 1]).astype(int), 0, h - 1)
    x1 = np.clip(np.maximum(np.ceil(boxes[:, 2]).astype(int), x0 + 1), 1, w)
    y1 = np.clip(np.maximum(np.ceil(boxes[:, 3]).astype(int), y0 + 1), 1, h)
    total = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
    return total / ((x1 - x0) * (y1 - y0))
