"""Tiles of any size and format to the model input; H&E stain augmentation; Macenko that survives blank tiles."""

from __future__ import annotations

import albumentations as A
import numpy as np
import pytest
import tifffile
import torch
from clipzoo.core.domain import available_domains, get_domain
from clipzoo.core.errors import InputError
from clipzoo.domains.pathology.stain import MacenkoNormalize, macenko_normalize
from clipzoo.domains.pathology.synthetic import render_tissue
from PIL import Image

from tests.conftest import SHARED_DATA

IHC = SHARED_DATA / "pathology" / "ihc.png"


@pytest.fixture(scope="module")
def domain():
    return get_domain("pathology")


def test_domain_is_discovered(domain):
    assert "pathology" in available_domains()
    assert domain.default_spec().domain == "pathology"
    assert {t.prompt_pack for t in domain.zero_shot_tasks()} <= set(domain.prompt_packs())


@pytest.mark.parametrize(("suffix", "size"), [(".png", (224, 224)), (".jpg", (300, 180)), (".tif", (512, 512))])
def test_tiles_of_any_size_and_format_become_model_inputs(domain, tmp_path, suffix, size):
    w, h = size
    pixels = render_tissue("tumour", np.random.default_rng(0), h, w)
    path = tmp_path / f"tile{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(path, pixels, photometric="rgb")
    else:
        Image.fromarray(pixels).save(path)
    tile = domain.read(path)
    assert tile.shape == (h, w, 3) and tile.dtype == np.uint8
    spec = domain.default_spec()
    for train in (False, True):
        x = domain.transform(spec, train=train)(tile)
        assert x.shape == (3, spec.image_size, spec.image_size) and x.dtype == torch.float32


def test_grey_and_rgba_tiles_read_as_rgb(domain, tmp_path):
    Image.fromarray(np.full((40, 50), 128, np.uint8)).save(tmp_path / "grey.png")
    Image.fromarray(np.full((40, 50, 4), 128, np.uint8)).save(tmp_path / "rgba.png")
    assert domain.read(tmp_path / "grey.png").shape == (40, 50, 3)
    assert domain.read(tmp_path / "rgba.png").shape == (40, 50, 3)


def test_eval_transform_is_deterministic_and_train_replays_under_a_seed(domain):
    spec = domain.default_spec()
    tile = render_tissue("stroma", np.random.default_rng(1), 224)
    ev = domain.transform(spec, train=False)
    assert torch.equal(ev(tile), ev(tile))
    tr = domain.transform(spec, train=True)
    np.random.seed(5)
    a = tr(tile)
    np.random.seed(5)
    b = tr(tile)
    c = tr(tile)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_training_pipeline_uses_albumentations_hestain(domain):
    pipeline = domain.transform(domain.default_spec(), train=True).pipeline
    assert any(isinstance(t, A.HEStain) for t in pipeline.transforms)
    normalised = domain.transform(domain.default_spec().replace(extra={"stain_normalization": "macenko"}), False)
    assert isinstance(normalised.pipeline.transforms[0], MacenkoNormalize)


def test_bad_tiles_are_named(domain, tmp_path):
    Image.new("RGB", (1, 1), "pink").save(tmp_path / "dot.png")
    with pytest.raises(InputError, match=r"dot\.png: tile is 1x1 px, smaller than the 16 px minimum"):
        domain.read(tmp_path / "dot.png")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match=r"notes\.txt: unsupported tile extension '\.txt'"):
        domain.read(tmp_path / "notes.txt")
    (tmp_path / "notes.svs").write_bytes(b"a text file renamed")
    with pytest.raises(InputError, match=r"notes\.svs: has a slide extension \(\.svs\) but is not a whole-slide image"):
        domain.read(tmp_path / "notes.svs")
    with tifffile.TiffWriter(tmp_path / "scan.svs") as tiff:  # a tiled TIFF OpenSlide reads as a slide
        tiff.write(np.zeros((512, 512, 3), np.uint8), tile=(256, 256), photometric="rgb")
    with pytest.raises(InputError, match=r"scan\.svs: is a whole-slide image, not a tile; classify it with"):
        domain.read(tmp_path / "scan.svs")
    Image.new("RGB", (8200, 16), "pink").save(tmp_path / "strip.png")
    with pytest.raises(
        InputError, match=r"strip\.png: is 8200x16 px, larger than a tile .*save it as a pyramidal TIFF"
    ):
        domain.read(tmp_path / "strip.png")
    (tmp_path / "broken.png").write_text("not a png")
    with pytest.raises(InputError, match=r"broken\.png: not a decodable image"):
        domain.read(tmp_path / "broken.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.jpg: file is empty"):
        domain.read(tmp_path / "empty.jpg")


@pytest.mark.parametrize("value", [255, 245, 0])
def test_macenko_leaves_blank_and_black_tiles_unchanged_instead_of_crashing(value):
    tile = np.full((64, 64, 3), value, np.uint8)
    assert np.array_equal(macenko_normalize(tile), tile)
    noisy = np.clip(245 + np.random.default_rng(0).normal(0, 3, (64, 64, 3)), 0, 255).astype(np.uint8)
    assert np.array_equal(macenko_normalize(noisy), noisy)  # glass with sensor noise is still background


def test_macenko_maps_differently_stained_tiles_closer_together():
    rng = np.random.default_rng(3)
    tile = render_tissue("tumour", rng, 128).astype(np.float64)
    # the same tissue stained much paler / much darker (optical density scaled)
    od = -np.log((tile + 1) / 256)
    pale, dark = ((256 * np.exp(-od * f) - 1).clip(0, 255).astype(np.uint8) for f in (0.6, 1.5))
    before = np.abs(pale.astype(int) - dark.astype(int)).mean()
    after = np.abs(macenko_normalize(pale).astype(int) - macenko_normalize(dark).astype(int)).mean()
    assert after < 0.5 * before


@pytest.mark.skipif(not IHC.is_file(), reason="shared data ihc.png absent")
def test_macenko_on_a_real_stained_image(domain):
    ihc = domain.read(IHC)
    assert ihc.shape == (512, 512, 3)
    out = macenko_normalize(ihc)
    assert out.shape == ihc.shape and out.dtype == np.uint8 and not np.array_equal(out, ihc)
    x = domain.transform(domain.default_spec().replace(extra={"stain_normalization": "macenko"}), True)(ihc)
    assert torch.isfinite(x).all()
