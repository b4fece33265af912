"""How a tile looks after a lab has stained and scanned it: the site's stain protocol (stain colours and strengths,
the scanner's white point), out-of-focus blur, and a second tissue entering a tile across its border. The demo
trains on tiles from some sites and evaluates on an unseen site with blur and mixed tiles, so held-out numbers
measure a shift, not a copy of the training distribution."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

RUIFROK_H = (0.650, 0.704, 0.286)  # Ruifrok & Johnston's haematoxylin and eosin optical-density vectors
RUIFROK_E = (0.072, 0.990, 0.105)
MACENKO_H = (0.5626, 0.7201, 0.4062)  # the stain vectors Macenko et al. estimated on their own slides
MACENKO_E = (0.2159, 0.8012, 0.5581)


@dataclass(frozen=True)
class StainSite:
    """A lab's staining and scanning: H and E optical-density vectors, their strengths, the scanner's white."""

    name: str
    haematoxylin: tuple[float, float, float] = RUIFROK_H
    eosin: tuple[float, float, float] = RUIFROK_E
    h_strength: float = 1.0
    e_strength: float = 1.0
    white: tuple[float, float, float] = (250.0, 250.0, 250.0)


REFERENCE_SITE = StainSite("reference")
TRAIN_SITES: tuple[StainSite, ...] = (
    REFERENCE_SITE,
    StainSite("strong-haematoxylin", h_strength=1.15, e_strength=0.9, white=(248.0, 248.0, 252.0)),
    StainSite("strong-eosin", h_strength=0.9, e_strength=1.15, white=(252.0, 249.0, 247.0)),
)
# Unseen in training: other stain hues (bluer haematoxylin, purpler eosin), strong H, pale E, a cooler scanner.
HELDOUT_SITE = StainSite("heldout", MACENKO_H, MACENKO_E, h_strength=1.25, e_strength=0.75, white=(242.0, 244.0, 252.0))


def out_of_focus(rgb: np.ndarray, rng: np.random.Generator, sigma: tuple[float, float] = (1.0, 2.5)) -> np.ndarray:
    """The tile as a scanner out of focus sees it: a Gaussian blur of ``sigma`` px (0.5-1.25 um at 0.5 um/px)."""
    return cv2.GaussianBlur(rgb, (0, 0), float(rng.uniform(*sigma)))


def mix_at_border(
    main: np.ndarray, other: np.ndarray, rng: np.random.Generator, share: tuple[float, float] = (0.1, 0.4)
) -> np.ndarray:
    """``main`` with ``other`` filling a ``share`` of it from one side, across a wavy boundary (a tile cut at the
    edge of a tissue region); ``main`` keeps the majority, so the tile keeps its label."""
    h, w = main.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    u = (xx - w / 2) * math.cos(angle) + (yy - h / 2) * math.sin(angle)  # distance along a random direction
    v = -(xx - w / 2) * math.sin(angle) + (yy - h / 2) * math.cos(angle)
    u = u + 0.06 * max(h, w) * np.sin(2 * math.pi * v / (max(h, w) * rng.uniform(0.4, 0.9)) + rng.uniform(0, 6.3))
    cut = np.quantile(u, 1.0 - rng.uniform(*share))
    mask = (u > cut)[..., None]
    return np.where(mask, other, main)
