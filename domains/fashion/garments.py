"""Synthetic garment product shots drawn with PIL: six silhouettes, eight colours, four patterns.

Each product has its own geometry (sleeve length, flare, leg width...) and canvas shape (tall dresses, wide shoes),
so two products of the same category, colour and pattern still differ, and a recoloured copy of a product (a
composed-retrieval target) keeps its geometry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

CATEGORIES: tuple[str, ...] = ("t-shirt", "dress", "trousers", "skirt", "shoe", "bag")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (200, 30, 40),
    "blue": (35, 70, 205),
    "green": (30, 145, 60),
    "yellow": (240, 205, 35),
    "pink": (240, 125, 175),
    "purple": (120, 45, 165),
    "orange": (245, 125, 20),
    "black": (28, 28, 30),
}
PATTERNS: tuple[str, ...] = ("plain", "striped", "dotted", "checked")

# Canvas (width, height) before jitter: product shots are rarely square.
CANVAS: dict[str, tuple[int, int]] = {
    "t-shirt": (60, 68),
    "dress": (44, 76),
    "trousers": (40, 76),
    "skirt": (56, 60),
    "shoe": (80, 44),
    "bag": (64, 60),
}
_SUPERSAMPLE = 4
_NOISE_SIGMA = 2.5
_COLOUR_JITTER = 12


@dataclass(frozen=True)
class Geometry:
    """What makes one product's silhouette its own; recoloured variants share it."""

    width: int
    height: int
    a: float  # category-specific shape parameters in [0, 1]
    b: float
    c: float
    stripe_angle: float
    period: float
    phase: float


def random_geometry(category: str, rng: np.random.Generator) -> Geometry:
    if category not in CANVAS:
        raise ValueError(f"unknown category {category!r}; choose from {', '.join(CATEGORIES)}")
    w, h = CANVAS[category]
    scale = rng.uniform(0.92, 1.08)
    return Geometry(
        width=round(w * scale),
        height=round(h * scale),
        a=float(rng.uniform()),
        b=float(rng.uniform()),
        c=float(rng.uniform()),
        stripe_angle=float(rng.choice([0.0, math.pi / 2, math.pi / 4])),
        period=float(rng.uniform(0, 1)),
        phase=float(rng.uniform(0, 1)),
    )


def _lerp(lo: float, hi: float, t: float) -> float:
    return lo + (hi - lo) * t


def _draw_silhouette(draw: ImageDraw.ImageDraw, category: str, g: Geometry, w: float, h: float) -> None:
    """Fill the garment's mask (255) in a ``w`` x ``h`` canvas."""

    def P(x: float, y: float) -> tuple[float, float]:
        return (x * w, y * h)

    def poly(points: list[tuple[float, float]], fill: int = 255) -> None:
        draw.polygon([P(x, y) for x, y in points], fill=fill)

    if category == "t-shirt":
        bw, sleeve, neck = _lerp(0.48, 0.62, g.a), _lerp(0.14, 0.3, g.b), _lerp(0.08, 0.14, g.c)
        xl, xr = 0.5 - bw / 2, 0.5 + bw / 2
        poly([(xl, 0.1), (xr, 0.1), (xr, 0.95), (xl, 0.95)])
        poly([(xl + 0.02, 0.1), (xl - sleeve, 0.1 + sleeve), (xl - sleeve + 0.1, 0.18 + sleeve), (xl, 0.38)])
        poly([(xr - 0.02, 0.1), (xr + sleeve, 0.1 + sleeve), (xr + sleeve - 0.1, 0.18 + sleeve), (xr, 0.38)])
        draw.ellipse([*P(0.5 - neck, 0.1 - neck * 0.8), *P(0.5 + neck, 0.1 + neck * 0.8)], fill=0)
    elif category == "dress":
        top, hem, waist = _lerp(0.4, 0.55, g.a), _lerp(0.8, 0.98, g.b), _lerp(0.38, 0.48, g.c)
        poly([(0.5 - top / 2, 0.12), (0.5 + top / 2, 0.12), (0.5 + top / 2.4, waist), (0.5 - top / 2.4, waist)])
        poly([(0.5 - top / 2.4, waist), (0.5 + top / 2.4, waist), (0.5 + hem / 2, 0.96), (0.5 - hem / 2, 0.96)])
        strap = max(1.0, 0.05 * w)
        for side in (-1, 1):
            x0 = 0.5 + side * (top / 2 - 0.08)
            draw.line([P(x0, 0.13), P(x0 + side * 0.02, 0.02)], fill=255, width=int(strap))
    elif category == "trousers":
        ww, flare, gap = _lerp(0.62, 0.8, g.a), _lerp(-0.04, 0.08, g.b), _lerp(0.03, 0.07, g.c)
        xl, xr = 0.5 - ww / 2, 0.5 + ww / 2
        poly([(xl, 0.03), (xr, 0.03), (xr, 0.12), (xl, 0.12)])
        poly([(xl, 0.11), (0.5 + 0.01, 0.11), (0.5 - gap, 0.35), (0.5 - gap, 0.97), (xl - flare, 0.97)])
        poly([(0.5 - 0.01, 0.11), (xr, 0.11), (xr + flare, 0.97), (0.5 + gap, 0.97), (0.5 + gap, 0.35)])
    elif category == "skirt":
        ww, hem, length = _lerp(0.45, 0.6, g.a), _lerp(0.75, 0.98, g.b), _lerp(0.78, 0.95, g.c)
        poly([(0.5 - ww / 2, 0.06), (0.5 + ww / 2, 0.06), (0.5 + ww / 2, 0.15), (0.5 - ww / 2, 0.15)])
        poly([(0.5 - ww / 2, 0.14), (0.5 + ww / 2, 0.14), (0.5 + hem / 2, length), (0.5 - hem / 2, length)])
    elif category == "shoe":
        ankle, toe, heel = _lerp(0.18, 0.42, g.a), _lerp(0.55, 0.68, g.b), _lerp(0.04, 0.1, g.c)
        poly([(heel, 0.8), (heel + 0.02, ankle), (0.34, ankle + 0.04), (0.45, toe - 0.1), (0.78, toe), (0.96, 0.74)])
        poly([(heel, 0.74), (0.96, 0.74), (0.96, 0.8), (heel, 0.8)])
    elif category == "bag":
        top, width, handle = _lerp(0.34, 0.46, g.a), _lerp(0.7, 0.9, g.b), _lerp(0.22, 0.36, g.c)
        poly([(0.5 - width / 2.2, top), (0.5 + width / 2.2, top), (0.5 + width / 2, 0.95), (0.5 - width / 2, 0.95)])
        line = max(2, int(0.07 * min(w, h)))
        draw.arc([*P(0.5 - handle / 1.3, top - handle * 1.1), *P(0.5 + handle / 1.3, top + handle)], 180, 360,
                 fill=255, width=line)  # fmt: skip
    else:
        raise ValueError(f"unknown category {category!r}; choose from {', '.join(CATEGORIES)}")


def _pattern_mask(pattern: str, g: Geometry, w: int, h: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    if pattern == "plain":
        return np.zeros((h, w), dtype=bool)
    if pattern == "striped":
        period = _lerp(5.5, 8.0, g.period)
        u = xx * math.cos(g.stripe_angle) + yy * math.sin(g.stripe_angle) + g.phase * period
        return (u % period) < period * 0.45
    if pattern == "dotted":
        spacing = _lerp(6.5, 9.0, g.period)
        dx = (xx + g.phase * spacing) % spacing - spacing / 2
        dy = (yy + g.phase * spacing) % spacing - spacing / 2
        return dx**2 + dy**2 < (spacing * 0.27) ** 2
    if pattern == "checked":
        cell = _lerp(4.5, 7.0, g.period)
        return ((np.floor((xx + g.phase * cell) / cell) + np.floor(yy / cell)) % 2).astype(bool)
    raise ValueError(f"unknown pattern {pattern!r}; choose from {', '.join(PATTERNS)}")


def accent_colour(colour: str) -> np.ndarray:
    """The second colour of a pattern: a pale tint of the garment colour (dark shade for pale colours)."""
    base = np.array(COLOURS[colour], dtype=np.float64)
    if colour in ("yellow", "pink", "orange"):
        return base * 0.45
    return base + (255 - base) * 0.7


def render_garment(
    category: str, colour: str, pattern: str, geometry: Geometry, rng: np.random.Generator
) -> Image.Image:
    """An RGB product shot: the garment in ``colour`` with ``pattern`` on a near-white background."""
    if colour not in COLOURS:
        raise ValueError(f"unknown colour {colour!r}; choose from {', '.join(COLOURS)}")
    if pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}; choose from {', '.join(PATTERNS)}")
    w, h = geometry.width, geometry.height
    big = Image.new("L", (w * _SUPERSAMPLE, h * _SUPERSAMPLE), 0)
    _draw_silhouette(ImageDraw.Draw(big), category, geometry, w * _SUPERSAMPLE, h * _SUPERSAMPLE)
    mask = np.asarray(big.resize((w, h), Image.Resampling.BOX), dtype=np.float64)[..., None] / 255.0
    jitter = rng.uniform(-1, 1, 3) * _COLOUR_JITTER
    fill = np.clip(np.array(COLOURS[colour], dtype=np.float64) + jitter, 0, 255)
    accent = np.clip(accent_colour(colour) + jitter, 0, 255)
    garment = np.where(_pattern_mask(pattern, geometry, w, h)[..., None], accent, fill)
    shade = 1.0 - 0.08 * np.linspace(0, 1, h)[:, None, None]  # soft studio light from above
    background = rng.uniform(238, 252) + rng.uniform(-3, 3, 3)
    pixels = mask * garment * shade + (1 - mask) * background + rng.normal(0, _NOISE_SIGMA, (h, w, 3))
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), mode="RGB")
