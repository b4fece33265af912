"""Demo data for the pathology domain, in real formats: captioned PNG tiles of six tissues and pyramidal TIFF slides.

Layout under ``root``::

    tiles/000000.png ...     H&E-like tiles at 0.5 um/px (224 px; 112 px with small=True)
    train.csv, heldout.csv   path, caption, tissue
    slides/slide_000.tif ... held-out pyramidal TIFFs (3 levels, SubIFDs, resolution tags)
    slides.csv               path, diagnosis, mpp, tile_px (read by the slide-level zero-shot task)

Training tiles come from three staining sites; held-out tiles and slides come from a fourth, unseen site, with some
tiles out of focus and some cut across the border of a second tissue (labelled by their majority tissue), and the
slides' tissue regions do not line up with the tiling grid (see ``acquisition``).

Captions describe what a pathologist sees; the zero-shot prompts in ``prompts.json`` speak of images, H&E and
photomicrographs, words no caption uses, so no prompt sentence occurs in a training caption.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
from clipzoo.core.files import demo_is_current, mark_demo_complete, package_json

from .acquisition import HELDOUT_SITE, REFERENCE_SITE, TRAIN_SITES, StainSite, mix_at_border, out_of_focus
from .pyramid import write_pyramidal_tiff
from .synthetic import GLASS_RGB, TISSUES, render_tissue

FORMAT_VERSION = 2
HELDOUT_BLUR = 0.3  # share of held-out tiles (and slide regions) out of focus
HELDOUT_MIXED = 0.5  # share of held-out tiles with a second tissue across a border (10-40 % of the tile)
SLIDE_MPP = 0.5
DIAGNOSES: dict[str, str] = {"adenocarcinoma": "tumour", "lymphoid": "lymphocytes", "normal": "mucosa"}
_COMPANIONS: dict[str, tuple[str, ...]] = {
    "adenocarcinoma": ("stroma", "necrosis", "adipose"),
    "lymphoid": ("stroma", "adipose"),
    "normal": ("stroma", "adipose"),
}

_FINDINGS: dict[str, tuple[str, ...]] = {
    "tumour": (
        "crowded atypical glands with enlarged hyperchromatic pleomorphic nuclei",
        "sheets of malignant epithelial cells with nuclear crowding",
        "invasive carcinoma, irregular cribriform glands lined by atypical cells",
        "adenocarcinoma with large irregular nuclei and loss of polarity",
        "poorly formed tumour glands, nuclei large, dark and crowded",
    ),
    "stroma": (
        "dense pink collagenous stroma with scattered spindle cells",
        "fibrous connective tissue, wavy collagen bundles and elongated nuclei",
        "desmoplastic stroma with thin spindle-shaped fibroblasts",
        "eosinophilic fibrous tissue with few slender nuclei",
    ),
    "lymphocytes": (
        "dense lymphocytic infiltrate of small round dark nuclei",
        "sheets of small lymphocytes with scant cytoplasm",
        "lymphoid aggregate packed with small round basophilic cells",
        "closely packed small mature lymphocytes",
    ),
    "adipose": (
        "mature adipocytes with large clear vacuoles and thin membranes",
        "fat lobule, empty polygonal fat cells separated by delicate septa",
        "adipose tissue made of large clear cells",
        "clear fat cells with peripheral flattened nuclei",
    ),
    "necrosis": (
        "necrotic debris with nuclear fragments and smudged eosinophilic material",
        "tumour necrosis, karyorrhectic debris and ghost outlines",
        "dead tissue with nuclear dust and loss of architecture",
        "amorphous necrotic material with scattered pyknotic fragments",
    ),
    "mucosa": (
        "normal colonic mucosa with regular round crypts and goblet cells",
        "benign crypts lined by basal nuclei and mucin-filled goblet cells",
        "unremarkable large bowel mucosa, evenly spaced crypts in lamina propria",
        "regular glands with small basal nuclei, no atypia",
    ),
}
_CAPTION_FORMS: tuple[str, ...] = ("{f}", "{f}.", "{f}, 20x.", "{f}; {m}.", "high power: {f}.", "{m}: {f}")
_MAGNIFICATION_WORDS: tuple[str, ...] = ("20x objective", "high power field", "0.5 microns per pixel", "medium power")


def make_caption(tissue: str, rng: np.random.Generator) -> str:
    finding = _FINDINGS[tissue][int(rng.integers(len(_FINDINGS[tissue])))]
    form = _CAPTION_FORMS[int(rng.integers(len(_CAPTION_FORMS)))]
    text = form.format(f=finding, m=_MAGNIFICATION_WORDS[int(rng.integers(len(_MAGNIFICATION_WORDS)))])
    return text[0].upper() + text[1:]


def _balanced(rng: np.random.Generator, values: tuple[str, ...], n: int) -> list[str]:
    idx = np.resize(np.arange(len(values)), n)
    rng.shuffle(idx)
    return [values[i] for i in idx]


def _render_tile(tissue: str, rng: np.random.Generator, tile_px: int, heldout: bool) -> np.ndarray:
    """A training tile from one of the training sites, or a held-out tile from the unseen site, sometimes out of
    focus and sometimes with another tissue across its border."""
    if not heldout:
        return render_tissue(tissue, rng, tile_px, site=TRAIN_SITES[int(rng.integers(len(TRAIN_SITES)))])
    tile = render_tissue(tissue, rng, tile_px, site=HELDOUT_SITE)
    if rng.random() < HELDOUT_MIXED:
        other = TISSUES[(TISSUES.index(tissue) + int(rng.integers(1, len(TISSUES)))) % len(TISSUES)]
        tile = mix_at_border(tile, render_tissue(other, rng, tile_px, site=HELDOUT_SITE), rng)
    if rng.random() < HELDOUT_BLUR:
        tile = out_of_focus(tile, rng)
    return tile


def _write_tiles(
    root: Path, name: str, start: int, n: int, tile_px: int, rng: np.random.Generator, heldout: bool = False
) -> Path:
    from PIL import Image

    rows = []
    for i, tissue in zip(range(start, start + n), _balanced(rng, TISSUES, n), strict=True):
        rel = f"tiles/{i:06d}.png"
        Image.fromarray(_render_tile(tissue, rng, tile_px, heldout)).save(root / rel)
        rows.append((rel, make_caption(tissue, rng), tissue))
    return _write_csv(pd.DataFrame(rows, columns=["path", "caption", "tissue"]), root / f"{name}.csv")


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


class SlideLayout:
    """A synthetic slide: an irregular tissue blob on glass, cut into blocks of one tissue class each. With
    ``shifted`` the blocks are offset from the tiling grid (by a quarter to three quarters of a block), so tiles on
    region borders hold two to four tissues; ``blur_share`` of the blocks are out of focus."""

    def __init__(
        self,
        diagnosis: str,
        cols: int,
        rows: int,
        block_px: int,
        seed: int,
        palette: int = 0,
        site: StainSite = REFERENCE_SITE,
        shifted: bool = False,
        blur_share: float = 0.0,
    ):
        self.diagnosis, self.cols, self.rows, self.block_px, self.seed = diagnosis, cols, rows, block_px, seed
        self.palette = palette  # > 0: reuse that many pre-rendered blocks per tissue (fast, for benchmarks)
        self.site = site
        self.blur_share = blur_share
        self.height, self.width = rows * block_px, cols * block_px
        rng = np.random.default_rng([seed, 99])
        low, high = block_px // 4, 3 * block_px // 4 + 1
        self.offset = tuple(int(v) for v in rng.integers(low, high, 2)) if shifted and high > low else (0, 0)
        self.grid_rows, self.grid_cols = rows + (self.offset[1] > 0), cols + (self.offset[0] > 0)
        self.phases = rng.uniform(0, 2 * math.pi, 2)
        self.centre = np.array([self.width, self.height]) * rng.uniform(0.42, 0.58, 2)
        self.radius = np.array([self.width, self.height]) * rng.uniform(0.36, 0.44, 2)
        self.classes = self._class_map(rng)
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        self._pool: dict[str, list[np.ndarray]] = {}

    def _blob(self, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
        dx, dy = (xx - self.centre[0]) / self.radius[0], (yy - self.centre[1]) / self.radius[1]
        angle = np.arctan2(dy, dx)
        edge = 1 + 0.12 * np.sin(3 * angle + self.phases[0]) + 0.08 * np.sin(5 * angle + self.phases[1])
        return np.hypot(dx, dy) < edge

    def _class_map(self, rng: np.random.Generator) -> np.ndarray:
        cy, cx = np.mgrid[0 : self.grid_rows, 0 : self.grid_cols]
        centres_x = (cx + 0.5) * self.block_px - self.offset[0]
        centres_y = (cy + 0.5) * self.block_px - self.offset[1]
        inside = self._blob(centres_x, centres_y)
        for dx in (-0.45, 0.45):  # blocks the blob only grazes get a tissue too; the blob cuts their pixels
            for dy in (-0.45, 0.45):
                inside |= self._blob(centres_x + dx * self.block_px, centres_y + dy * self.block_px)
        classes = np.full((self.grid_rows, self.grid_cols), "", dtype=object)
        tissue_blocks = np.argwhere(inside)
        seed = tissue_blocks[int(rng.integers(len(tissue_blocks)))]
        dist = np.hypot(*(tissue_blocks - seed).T) + rng.uniform(0, 0.8, len(tissue_blocks))
        n_main = max(2, round(len(tissue_blocks) * rng.uniform(0.4, 0.55)))
        order = np.argsort(dist)
        companions = _COMPANIONS[self.diagnosis]
        anchors = tissue_blocks[rng.choice(len(tissue_blocks), size=len(companions), replace=False)]
        for rank, idx in enumerate(order):
            r, c = tissue_blocks[idx]
            if rank < n_main:
                classes[r, c] = DIAGNOSES[self.diagnosis]
            else:  # the nearest companion anchor's tissue: coherent regions of stroma, fat, necrosis
                near = int(np.argmin(np.hypot(*(anchors - (r, c)).T)))
                classes[r, c] = companions[near]
        return classes

    def _block(self, r: int, c: int) -> np.ndarray:
        tissue = self.classes[r, c]
        if not tissue:
            return np.empty((0, 0, 3), np.uint8)
        if self.palette:
            pool = self._pool.setdefault(tissue, [])
            while len(pool) < self.palette:
                rng = np.random.default_rng([self.seed, len(pool), 7])
                pool.append(render_tissue(tissue, rng, self.block_px, site=self.site))
            return pool[(r * 31 + c * 17) % self.palette]
        rng = np.random.default_rng([self.seed, r, c])
        block = render_tissue(tissue, rng, self.block_px, site=self.site)
        return out_of_focus(block, rng) if rng.random() < self.blur_share else block

    def render_rows(self, y0: int, y1: int) -> np.ndarray:
        """Level-0 rows ``y0:y1`` as RGB uint8 (blocks of a block row are rendered once and kept while needed)."""
        b, (ox, oy) = self.block_px, self.offset
        out = np.empty((y1 - y0, self.width, 3), np.uint8)
        out[:] = GLASS_RGB
        first, last = (y0 + oy) // b, (y1 - 1 + oy) // b
        if self.grid_rows * self.grid_cols > 400:  # large slides keep only the block rows still needed
            self._cache = {k: v for k, v in self._cache.items() if k[0] >= first}
        for r in range(first, last + 1):
            for c in range(self.grid_cols):
                if (r, c) not in self._cache:
                    self._cache[(r, c)] = self._block(r, c)
                block = self._cache[(r, c)]
                if block.size:  # block (r, c) covers level-0 [c b - ox, (c + 1) b - ox) x [r b - oy, (r + 1) b - oy)
                    by0, by1 = max(y0, r * b - oy), min(y1, (r + 1) * b - oy)
                    bx0, bx1 = max(0, c * b - ox), min(self.width, (c + 1) * b - ox)
                    out[by0 - y0 : by1 - y0, bx0:bx1] = block[
                        by0 + oy - r * b : by1 + oy - r * b, bx0 + ox - c * b : bx1 + ox - c * b
                    ]
        xx = np.arange(0, self.width, 4, dtype=np.float32)[None, :]
        rng = np.random.default_rng([self.seed, y0])
        for c0 in range(y0, y1, 256):  # glass outside the tissue blob, a chunk of rows at a time
            c1 = min(c0 + 256, y1)
            coarse = ~self._blob(xx, np.arange(c0 - c0 % 4, c1, 4, dtype=np.float32)[:, None])  # 4 px steps
            outside = np.repeat(np.repeat(coarse, 4, 0), 4, 1)[c0 % 4 : c0 % 4 + c1 - c0, : self.width]
            glass = np.clip(np.asarray(GLASS_RGB) + rng.normal(0, 1.5, (int(outside.sum()), 1)), 0, 255)
            out[c0 - y0 : c1 - y0][outside] = glass.astype(np.uint8)
        return out


def write_slide(path: Path, layout: SlideLayout, mpp: float = SLIDE_MPP, levels: int = 3) -> Path:
    """Write ``layout`` as a pyramidal TIFF."""
    return write_pyramidal_tiff(path, layout.render_rows, layout.height, layout.width, mpp, levels=levels)


def write_demo_dataset(
    root: Path | str,
    n_train: int = 1200,
    n_heldout: int = 300,
    n_slides: int = 12,
    tile_px: int = 224,
    slide_blocks: tuple[int, int] = (12, 10),
    seed: int = 0,
) -> dict[str, Path]:
    """Write tiles, manifests and held-out slides (see the module docstring); a re-run with the same arguments over
    a complete dataset returns at once."""
    if n_train < 1 or n_heldout < 1 or n_slides < 1:
        raise ValueError(f"n_train, n_heldout and n_slides must be >= 1, got {n_train}, {n_heldout}, {n_slides}")
    root = Path(root)
    paths = {"train": root / "train.csv", "heldout": root / "heldout.csv", "slides": root / "slides.csv"}
    args = {
        "format": FORMAT_VERSION,
        "n_train": n_train,
        "n_heldout": n_heldout,
        "n_slides": n_slides,
        "tile_px": tile_px,
        "slide_blocks": list(slide_blocks),
        "seed": seed,
    }
    if demo_is_current(root, args, list(paths.values())):
        return paths
    (root / "tiles").mkdir(parents=True, exist_ok=True)
    (root / "slides").mkdir(parents=True, exist_ok=True)
    for stale in [*(root / "tiles").glob("*.png"), *(root / "slides").glob("*.tif")]:
        stale.unlink()
    train_rng, heldout_rng = (np.random.default_rng([seed, s]) for s in (0, 1))
    _write_tiles(root, "train", 0, n_train, tile_px, train_rng)
    _write_tiles(root, "heldout", n_train, n_heldout, tile_px, heldout_rng, heldout=True)
    rows = []
    for i, diagnosis in enumerate(_balanced(np.random.default_rng([seed, 2]), tuple(DIAGNOSES), n_slides)):
        layout = SlideLayout(
            diagnosis,
            *slide_blocks,
            block_px=tile_px,
            seed=seed * 1000 + i,
            site=HELDOUT_SITE,
            shifted=True,
            blur_share=HELDOUT_BLUR,
        )
        rel = f"slides/slide_{i:03d}.tif"
        write_slide(root / rel, layout)
        rows.append((rel, diagnosis, SLIDE_MPP, tile_px))
    _write_csv(pd.DataFrame(rows, columns=["path", "diagnosis", "mpp", "tile_px"]), paths["slides"])
    mark_demo_complete(root, args)
    return paths


def load_prompt_packs() -> dict[str, dict]:
    """The prompt packs of ``prompts.json``: "tissue" (tiles) and "diagnosis" (slides)."""
    return package_json("clipzoo.domains.pathology", "prompts.json")
