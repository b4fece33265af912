"""Scope from training metadata: the microns per pixel the training tiles record (TIFF resolution tags as QuPath and
TRIDENT export them, PNG pHYs) are recorded, and a tile at another magnification, or one recording none, gets a
warning in its row; a slide read at another resolution than the training tiles too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
import torch
from clipzoo.core.domain import get_domain
from clipzoo.core.model import build_model
from clipzoo.core.predict import InputItem, Predictor
from clipzoo.domains.pathology.pyramid import write_pyramidal_tiff
from clipzoo.domains.pathology.scope import file_mpp
from PIL import Image

from tests.conftest import TINY_OPEN_CLIP_CFG

LABELS = ["tumor", "normal tissue"]


def _pixels(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (48, 48, 3), dtype=np.uint8)


def tiff_tile(path: Path, mpp: float) -> Path:
    """A tile as exporters write it: resolution in pixels per centimetre."""
    tifffile.imwrite(path, _pixels(), resolution=(1e4 / mpp, 1e4 / mpp), resolutionunit="CENTIMETER")
    return path


def png_tile(path: Path, dpi: float | None) -> Path:
    Image.fromarray(_pixels(1)).save(path, **({"dpi": (dpi, dpi)} if dpi else {}))
    return path


def test_resolution_tags_give_microns_per_pixel_and_print_resolutions_do_not(tmp_path):
    assert abs(file_mpp(tiff_tile(tmp_path / "a.tif", 0.25)) - 0.25) < 1e-6
    assert abs(file_mpp(png_tile(tmp_path / "b.png", 25_400 / 0.5)) - 0.5) < 1e-3  # pHYs in pixels per metre
    assert file_mpp(png_tile(tmp_path / "c.png", 72)) is None  # a photo editor's 72 dpi says nothing
    assert file_mpp(png_tile(tmp_path / "d.png", None)) is None
    assert get_domain("pathology").read(tmp_path / "a.tif").mpp == file_mpp(tmp_path / "a.tif")


def test_training_scope_records_the_magnification_of_the_training_tiles(tmp_path):
    files = [tiff_tile(tmp_path / f"t{i}.tif", mpp) for i, mpp in enumerate((0.5, 0.5, 0.52))]
    files.append(png_tile(tmp_path / "plain.png", None))
    scope = get_domain("pathology").training_scope([str(f) for f in files])
    assert scope["with_mpp"] == 3 and scope["without_mpp"] == 1
    assert np.allclose(scope["mpp"], [0.5, 0.52])
    assert get_domain("pathology").training_scope([str(png_tile(tmp_path / "x.png", None))]) == {}


def test_a_40x_tile_sent_to_a_20x_model_gets_a_scope_warning(tmp_path):
    domain = get_domain("pathology")
    scope = domain.training_scope([str(tiff_tile(tmp_path / f"train{i}.tif", 0.5)) for i in range(2)])
    spec = domain.default_spec().replace(name="tiny-scope", model_cfg=TINY_OPEN_CLIP_CFG, image_size=32,
                                         lock_text=False)  # fmt: skip
    torch.manual_seed(0)
    predictor = Predictor(build_model(spec.replace(extra={**spec.extra, "scope": scope})), domain)
    at_40x, at_20x = tiff_tile(tmp_path / "40x.tif", 0.25), tiff_tile(tmp_path / "20x.tif", 0.5)
    plain = png_tile(tmp_path / "plain.png", None)
    rows = predictor.predict([InputItem.from_path(p) for p in (at_40x, at_20x, plain)], labels=LABELS)
    assert [r.error for r in rows] == [None, None, None]
    assert rows[0].warnings == [
        "the tile is at 0.25 um/px (~40x), outside the model's training magnification (0.5 um/px (~20x)): rescale it "
        "to the training magnification, or treat the answer with caution"
    ]
    assert rows[1].warnings == []
    assert rows[2].warnings == [
        "the tile records no resolution (microns per pixel): cannot check its magnification against the model's "
        "training data (0.5 um/px (~20x))"
    ]

    slide = write_pyramidal_tiff(tmp_path / "slide.tif", lambda y0, y1: _tissue()[y0:y1], 256, 256, mpp=0.25, levels=1)
    (row,) = predictor.predict([InputItem.from_path(slide)], labels=LABELS, task="slide",
                               options={"mpp": 0.25, "tile_px": 64})  # fmt: skip
    assert row.error is None and row.warnings == [
        "the slide is read at 0.25 um/px (~40x), outside the model's training magnification (0.5 um/px (~20x)): "
        "rescale it to the training magnification, or treat the answer with caution"
    ]


def _tissue() -> np.ndarray:
    rng = np.random.default_rng(2)
    pink = np.array([200, 120, 170], np.uint8)
    return np.clip(pink + rng.integers(-30, 30, (256, 256, 3)), 0, 255).astype(np.uint8)
