"""Synthetic demo data for the image domain: coloured shapes on textured backgrounds, captioned as alt-text.

Small enough for a tiny ViT trained from scratch on a CPU to learn shape and colour in a few epochs. Captions
always carry the shape and colour words; the zero-shot prompts in ``prompts.json`` are worded so that no
prompt sentence occurs in a training caption (prompts speak of images, pictures, photos; captions never do).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
from clipzoo.core.files import demo_is_current, mark_demo_complete, package_json
from PIL import Image, ImageDraw

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "ring")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 35, 35),
    "green": (35, 165, 55),
    "blue": (40, 75, 225),
    "yellow": (240, 215, 35),
    "purple": (135, 45, 185),
    "orange": (245, 130, 20),
}
TEXTURES: tuple[str, ...] = ("plain", "striped", "dotted", "checked")

FORMAT_VERSION = 1
_SUPERSAMPLE = 4
_COLOUR_JITTER = 14
_NOISE_SIGMA = 3.0
_IMAGE_NAME = re.compile(r"^\d{6,}\.png$")
_MANIFEST_COLUMNS = ("path", "caption", "shape", "colour", "texture")

# Caption vocabulary. Every shape phrase contains the shape's class word and every colour phrase the colour's.
_SHAPE_WORDS: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "solid circle", "round circle"),
    "square": ("square", "solid square"),
    "triangle": ("triangle", "solid triangle"),
    "star": ("star", "five-point star"),
    "cross": ("cross", "plus-shaped cross"),
    "ring": ("ring", "hollow ring"),
}
_COLOUR_WORDS: dict[str, tuple[str, ...]] = {c: (c, c, f"bright {c}") for c in COLOURS}
_TEXTURE_ADJ: dict[str, tuple[str, ...]] = {
    "plain": ("plain", "plain grey", "blank"),
    "striped": ("striped", "stripy"),
    "dotted": ("dotted", "spotted"),
    "checked": ("checked", "checkered", "chequered"),
}
_TEXTURE_NOUN: dict[str, tuple[str, ...]] = {
    "plain": ("a plain backdrop", "a blank grey surface"),
    "striped": ("stripes", "a striped pattern"),
    "dotted": ("dots", "a dotted pattern", "polka dots"),
    "checked": ("a checked pattern", "a checkerboard", "checks"),
}
CAPTION_TEMPLATES: tuple[str, ...] = (
    "a {size}{colour} {shape} on a {tadj} background",
    "{colour} {shape}, {tnoun} behind it",
    "a {size}{shape} shape coloured {colour} over a {tadj} backdrop",
    "{tadj} background with a {colour} {shape} in front",
    "{colour} {shape} against {tnoun}",
    "a single {size}{colour} {shape} sitting on a {tadj} surface",
    "{shape}, {colour}, on a {tadj} background",
    "a {size}{colour} {shape} with {tnoun} around it",
)


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _fix_articles(text: str) -> str:
    return re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", r"\1n ", text)


def make_caption(shape: str, colour: str, texture: str, rng: np.random.Generator, extent: float = 0.6) -> str:
    """An alt-text caption naming the shape, its colour and the background; ``extent`` picks a size word."""
    size = "small " if extent < 0.5 else "large " if extent > 0.66 else ""
    text = _pick(rng, CAPTION_TEMPLATES).format(
        size=size,
        colour=_pick(rng, _COLOUR_WORDS[colour]),
        shape=_pick(rng, _SHAPE_WORDS[shape]),
        tadj=_pick(rng, _TEXTURE_ADJ[texture]),
        tnoun=_pick(rng, _TEXTURE_NOUN[texture]),
    )
    return _fix_articles(text)


def _polygon(cx: float, cy: float, radii: list[float], angles: list[float]) -> list[tuple[float, float]]:
    return [(cx + r * math.cos(a), cy + r * math.sin(a)) for r, a in zip(radii, angles, strict=True)]


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, theta: float) -> None:
    """Draw a filled silhouette (value 255) of ``shape`` with outer radius ``r`` centred on (cx, cy)."""
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    elif shape == "ring":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
        inner = 0.55 * r
        draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill=0)
    elif shape == "square":
        angles = [theta + math.pi / 4 + k * math.pi / 2 for k in range(4)]
        draw.polygon(_polygon(cx, cy, [r] * 4, angles), fill=255)
    elif shape == "triangle":
        angles = [theta - math.pi / 2 + k * 2 * math.pi / 3 for k in range(3)]
        draw.polygon(_polygon(cx, cy, [r] * 3, angles), fill=255)
    elif shape == "star":
        angles = [theta - math.pi / 2 + k * math.pi / 5 for k in range(10)]
        draw.polygon(_polygon(cx, cy, [r, 0.42 * r] * 5, angles), fill=255)
    elif shape == "cross":
        w = 0.3 * r  # half the arm width
        corners = [(w, r), (w, w), (r, w), (r, -w), (w, -w), (w, -r), (-w, -r), (-w, -w), (-r, -w), (-r, w)]
        corners += [(-w, w), (-w, r)]
        cos, sin = math.cos(theta), math.sin(theta)
        draw.polygon([(cx + x * cos - y * sin, cy + x * sin + y * cos) for x, y in corners], fill=255)
    else:
        raise ValueError(f"unknown shape {shape!r}; choose from {', '.join(SHAPES)}")


def _background(texture: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """A muted background of ``texture``: random tint, contrast, scale and phase, as a float HxWx3 array."""
    base = rng.uniform(95, 175) + rng.uniform(-10, 10, size=3)
    accent = base + rng.choice([-1.0, 1.0]) * rng.uniform(22, 40) + rng.uniform(-5, 5, size=3)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    if texture == "plain":
        pattern = np.zeros((size, size), dtype=bool)
    elif texture == "striped":
        period = rng.uniform(5, 11) * size / 64
        angle = rng.choice([0.0, math.pi / 2, math.pi / 4, -math.pi / 4]) + rng.uniform(-0.15, 0.15)
        u = xx * math.cos(angle) + yy * math.sin(angle) + rng.uniform(0, period)
        pattern = (u % period) < period * rng.uniform(0.35, 0.55)
    elif texture == "dotted":
        spacing = rng.uniform(6, 10) * size / 64
        ox, oy = rng.uniform(0, spacing, size=2)
        dx = (xx + ox) % spacing - spacing / 2
        dy = (yy + oy) % spacing - spacing / 2
        pattern = dx**2 + dy**2 < (spacing * rng.uniform(0.2, 0.3)) ** 2
    elif texture == "checked":
        cell = rng.uniform(5, 12) * size / 64
        ox, oy = rng.uniform(0, 2 * cell, size=2)
        pattern = ((np.floor((xx + ox) / cell) + np.floor((yy + oy) / cell)) % 2).astype(bool)
    else:
        raise ValueError(f"unknown texture {texture!r}; choose from {', '.join(TEXTURES)}")
    return np.where(pattern[..., None], accent, base)


def render_image(
    shape: str,
    colour: str,
    texture: str,
    rng: np.random.Generator,
    size: int = 64,
    extent: float | None = None,
) -> Image.Image:
    """Render a ``size`` x ``size`` RGB image: a coloured shape on a muted textured background, lightly noisy.

    The shape spans ``extent`` of the frame (random in 0.40-0.75 when None), at random position and rotation.
    """
    if colour not in COLOURS:
        raise ValueError(f"unknown colour {colour!r}; choose from {', '.join(COLOURS)}")
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; choose from {', '.join(SHAPES)}")
    if extent is None:
        extent = float(rng.uniform(0.40, 0.75))
    background = _background(texture, rng, size)

    big = size * _SUPERSAMPLE
    r = extent * big / 2
    cx, cy = rng.uniform(r, big - r, size=2)
    theta = float(rng.uniform(0, 2 * math.pi))
    mask_img = Image.new("L", (big, big), 0)
    _draw_shape(ImageDraw.Draw(mask_img), shape, float(cx), float(cy), r, theta)
    small = mask_img.resize((size, size), Image.Resampling.BOX)
    mask = np.asarray(small, dtype=np.float64)[..., None] / 255.0

    jitter = rng.uniform(-1, 1, 3) * _COLOUR_JITTER
    fill = np.clip(np.array(COLOURS[colour], dtype=np.float64) + jitter, 0, 255)
    pixels = mask * fill + (1 - mask) * background + rng.normal(0, _NOISE_SIGMA, size=(size, size, 3))
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), mode="RGB")


def _balanced(rng: np.random.Generator, values: tuple[str, ...], n: int) -> list[str]:
    """``n`` labels in which every value occurs ``n // len(values)`` or one more times, shuffled."""
    idx = np.resize(np.arange(len(values)), n)
    rng.shuffle(idx)
    return [values[i] for i in idx]


def _write_split(
    root: Path, name: str, start: int, n: int, size: int, rng: np.random.Generator
) -> tuple[Path, set[str]]:
    """Render ``n`` images numbered from ``start`` and write the split's manifest atomically."""
    import pandas as pd

    rows = []
    for i, shape, colour, texture in zip(
        range(start, start + n),
        _balanced(rng, SHAPES, n),
        _balanced(rng, tuple(COLOURS), n),
        _balanced(rng, TEXTURES, n),
        strict=True,
    ):
        extent = float(rng.uniform(0.40, 0.75))
        rel = f"images/{i:06d}.png"
        render_image(shape, colour, texture, rng, size=size, extent=extent).save(root / rel, optimize=False)
        rows.append((rel, make_caption(shape, colour, texture, rng, extent), shape, colour, texture))
    manifest = root / f"{name}.csv"
    tmp = root / f".{name}.csv.tmp"
    pd.DataFrame(rows, columns=list(_MANIFEST_COLUMNS)).to_csv(tmp, index=False)
    os.replace(tmp, manifest)
    return manifest, {row[0].split("/", 1)[1] for row in rows}


def write_demo_dataset(
    root: Path | str, n_train: int = 3000, n_heldout: int = 600, size: int = 64, seed: int = 0
) -> dict[str, Path]:
    """Write ``root/images/*.png`` with manifests ``root/train.csv`` and ``root/heldout.csv``.

    Manifest columns: ``path`` (relative to ``root``), ``caption``, ``shape``, ``colour``, ``texture``.
    Held-out images come from a separate random stream of the same seed. ``root/DONE.json`` records the
    arguments; a re-run with the same arguments over a complete dataset returns at once, others regenerate it.
    """
    if n_train < 1 or n_heldout < 1:
        raise ValueError(f"n_train and n_heldout must be at least 1, got {n_train} and {n_heldout}")
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    root = Path(root)
    paths = {"train": root / "train.csv", "heldout": root / "heldout.csv"}
    args = {"format": FORMAT_VERSION, "n_train": n_train, "n_heldout": n_heldout, "size": size, "seed": seed}
    if demo_is_current(root, args, list(paths.values())):
        return paths
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    train_rng, heldout_rng = (np.random.default_rng([seed, stream]) for stream in (0, 1))
    _, train_names = _write_split(root, "train", 0, n_train, size, train_rng)
    _, heldout_names = _write_split(root, "heldout", n_train, n_heldout, size, heldout_rng)
    keep = train_names | heldout_names
    for stale in images.iterdir():  # images of an earlier, larger run
        if _IMAGE_NAME.match(stale.name) and stale.name not in keep:
            stale.unlink()
    mark_demo_complete(root, args)
    return paths


def load_prompt_packs() -> dict[str, dict]:
    """The zero-shot prompt packs ("shape", "colour") of ``prompts.json`` in ``clipzoo.domains.image``."""
    return package_json("clipzoo.domains.image", "prompts.json")
