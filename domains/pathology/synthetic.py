"""Synthetic H&E-like tissue, rendered in stain space: haematoxylin and eosin concentration maps are drawn per tissue
class (nuclei density, size, shape and staining differ by class) and turned into RGB by Beer-Lambert with the
Ruifrok-Johnston stain vectors, so stain augmentation and normalisation act on them as on real H&E.

Scale: 0.5 um per pixel (20x); a lymphocyte nucleus is about 7 um across, a tumour nucleus 12-20 um.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from .acquisition import REFERENCE_SITE, StainSite

TISSUES: tuple[str, ...] = ("tumour", "stroma", "lymphocytes", "adipose", "necrosis", "mucosa")
GLASS_RGB = (242, 241, 244)


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth noise in about [-1, 1] with features of about ``cell`` pixels."""
    gh, gw = max(2, math.ceil(h / cell) + 1), max(2, math.ceil(w / cell) + 1)
    coarse = rng.standard_normal((gh, gw)).astype(np.float32)
    return np.clip(cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC) / 1.5, -1.5, 1.5)


def _nuclei(
    hmap: np.ndarray,
    rng: np.random.Generator,
    count: int,
    axes: tuple[float, float],
    elongation: tuple[float, float],
    intensity: tuple[float, float],
    angle: float | None = None,
    irregular: bool = False,
) -> None:
    """Draw ``count`` filled elliptic nuclei into the haematoxylin map (in place)."""
    h, w = hmap.shape
    for _ in range(count):
        cx, cy = rng.uniform(-4, w + 4), rng.uniform(-4, h + 4)
        a = rng.uniform(*axes)
        b = a * rng.uniform(*elongation)
        theta = rng.uniform(0, 180) if angle is None else angle + rng.normal(0, 8)
        value = float(rng.uniform(*intensity))
        centre = (round(cx * 4), round(cy * 4))
        size = (round(a * 4), round(b * 4))
        cv2.ellipse(hmap, centre, size, theta, 0, 360, value, -1, cv2.LINE_AA, shift=2)
        if irregular:  # a second lobe: pleomorphic, notched outlines
            off = rng.normal(0, a * 0.35, 2)
            lobe = (round((cx + off[0]) * 4), round((cy + off[1]) * 4))
            cv2.ellipse(hmap, lobe, (int(a * 3), int(b * 3)), theta + 40, 0, 360, value * 1.1, -1, cv2.LINE_AA, 2)


def _tumour(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    emap = 0.38 + 0.12 * _smooth_noise(rng, h, w, 30)
    hmap = np.zeros((h, w), np.float32)
    _nuclei(hmap, rng, int(h * w / 420 * rng.uniform(0.8, 1.2)), (6, 10), (0.55, 0.95), (0.9, 1.4), irregular=True)
    for _ in range(int(rng.integers(1, 4))):  # cribriform lumens
        c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        r = int(rng.uniform(6, 16))
        cv2.circle(emap, c, r, 0.03, -1, cv2.LINE_AA)
        cv2.circle(hmap, c, r, 0.0, -1, cv2.LINE_AA)
    return hmap, emap


def _stroma(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    theta = rng.uniform(0, math.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u = xx * math.cos(theta) + yy * math.sin(theta)
    period = rng.uniform(7, 12)
    waves = np.sin(2 * math.pi * u / period + 2.5 * _smooth_noise(rng, h, w, 40))
    emap = 0.75 + 0.22 * waves + 0.08 * _smooth_noise(rng, h, w, 20)
    hmap = np.zeros((h, w), np.float32)
    _nuclei(
        hmap, rng, int(h * w / 2200 * rng.uniform(0.7, 1.3)), (8, 14), (0.15, 0.28), (0.8, 1.1), math.degrees(theta)
    )
    return hmap, emap


def _lymphocytes(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    emap = 0.22 + 0.06 * _smooth_noise(rng, h, w, 25)
    hmap = np.zeros((h, w), np.float32)
    _nuclei(hmap, rng, int(h * w / 110 * rng.uniform(0.85, 1.15)), (3.0, 4.2), (0.85, 1.0), (1.3, 1.7))
    return hmap, emap


def _adipose(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    n = max(4, int(h * w / (45 * 45) * rng.uniform(0.8, 1.2)))
    points = rng.uniform(-20, [w + 20, h + 20], size=(n, 2)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.sqrt((xx[..., None] - points[:, 0]) ** 2 + (yy[..., None] - points[:, 1]) ** 2)
    d.sort(axis=-1)
    membrane = np.clip(1.0 - (d[..., 1] - d[..., 0]) / rng.uniform(2.0, 3.0), 0, 1)
    emap = 0.02 + 0.6 * membrane
    hmap = np.zeros((h, w), np.float32)
    _nuclei(hmap, rng, int(rng.integers(0, 4)), (5, 7), (0.25, 0.4), (0.7, 1.0))
    hmap *= membrane > 0.2
    return hmap, emap.astype(np.float32)


def _necrosis(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    emap = 0.42 + 0.25 * _smooth_noise(rng, h, w, 18) + 0.1 * _smooth_noise(rng, h, w, 5)
    hmap = 0.18 + 0.1 * _smooth_noise(rng, h, w, 12)  # diffuse basophilic smudge
    _nuclei(hmap, rng, int(h * w / 500 * rng.uniform(0.7, 1.3)), (1.0, 2.6), (0.5, 1.0), (0.9, 1.5))
    return hmap.astype(np.float32), np.clip(emap, 0.05, None).astype(np.float32)


def _mucosa(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    emap = 0.45 + 0.08 * _smooth_noise(rng, h, w, 20)  # lamina propria
    hmap = np.zeros((h, w), np.float32)
    _nuclei(hmap, rng, int(h * w / 1500), (2.8, 3.6), (0.8, 1.0), (1.0, 1.2))
    crypts: list[tuple[float, float, float]] = []
    for _ in range(60):
        if len(crypts) >= max(2, int(h * w / 9000)):
            break
        r = rng.uniform(24, 36)
        cx, cy = rng.uniform(-r / 2, w + r / 2), rng.uniform(-r / 2, h + r / 2)
        if all(math.hypot(cx - x, cy - y) > r + rr + 6 for x, y, rr in crypts):
            crypts.append((cx, cy, r))
    for cx, cy, r in crypts:
        c = (int(cx), int(cy))
        cv2.circle(emap, c, int(r), 0.32, -1, cv2.LINE_AA)
        cv2.circle(hmap, c, int(r), 0.0, -1, cv2.LINE_AA)
        n_goblets = int(2 * math.pi * r * 0.6 / 9)
        for k in range(n_goblets):  # pale mucin-filled goblet cells in the epithelium
            a = 2 * math.pi * k / n_goblets + rng.normal(0, 0.1)
            g = (int(cx + 0.6 * r * math.cos(a)), int(cy + 0.6 * r * math.sin(a)))
            cv2.circle(emap, g, int(rng.uniform(3, 5)), 0.06, -1, cv2.LINE_AA)
            cv2.circle(hmap, g, int(rng.uniform(3, 5)), 0.12, -1, cv2.LINE_AA)
        n_nuclei = int(2 * math.pi * r / 6.5)
        for k in range(n_nuclei):  # regular basal nuclei, oriented radially
            a = 2 * math.pi * k / n_nuclei
            p = (round((cx + 0.88 * r * math.cos(a)) * 4), round((cy + 0.88 * r * math.sin(a)) * 4))
            cv2.ellipse(hmap, p, (16, 9), math.degrees(a), 0, 360, float(rng.uniform(1.0, 1.2)), -1, cv2.LINE_AA, 2)
        cv2.circle(emap, c, int(r * 0.35), 0.02, -1, cv2.LINE_AA)  # lumen
        cv2.circle(hmap, c, int(r * 0.35), 0.0, -1, cv2.LINE_AA)
    return hmap, emap


RENDERERS: dict[str, Callable[[np.random.Generator, int, int], tuple[np.ndarray, np.ndarray]]] = {
    "tumour": _tumour,
    "stroma": _stroma,
    "lymphocytes": _lymphocytes,
    "adipose": _adipose,
    "necrosis": _necrosis,
    "mucosa": _mucosa,
}


def stain_to_rgb(
    hmap: np.ndarray, emap: np.ndarray, rng: np.random.Generator, site: StainSite = REFERENCE_SITE
) -> np.ndarray:
    """Beer-Lambert: RGB = white exp(-(c_H h + c_E e)) with the site's stains, slide-to-slide stain variation around
    them and sensor noise."""
    h_vec = np.asarray(site.haematoxylin) + rng.normal(0, 0.02, 3)
    e_vec = np.asarray(site.eosin) + rng.normal(0, 0.02, 3)
    h_od = np.clip(hmap, 0, None)[..., None] * h_vec * (site.h_strength * rng.uniform(0.85, 1.15))
    e_od = np.clip(emap, 0, None)[..., None] * e_vec * (site.e_strength * rng.uniform(0.85, 1.15))
    rgb = np.asarray(site.white) * np.exp(-(h_od + e_od)) + rng.normal(0, 2.5, h_od.shape)
    rgb = cv2.GaussianBlur(rgb.astype(np.float32), (3, 3), 0.7)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def render_tissue(
    tissue: str,
    rng: np.random.Generator,
    height: int = 224,
    width: int | None = None,
    site: StainSite = REFERENCE_SITE,
) -> np.ndarray:
    """An RGB uint8 [height, width, 3] patch of ``tissue`` at 0.5 um/px, stained as ``site`` stains."""
    if tissue not in RENDERERS:
        raise ValueError(f"unknown tissue {tissue!r}; choose from {', '.join(TISSUES)}")
    width = height if width is None else width
    hmap, emap = RENDERERS[tissue](rng, height, width)
    return stain_to_rgb(hmap, emap, rng, site)
