"""Whole slides: OpenSlide on a real .svs, tifffile on pyramidal TIFFs written here; level choice, coordinates,
tissue mask, streaming, and every bad slide named."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from clipzoo.core.errors import InputError
from clipzoo.domains.pathology.pyramid import write_pyramidal_tiff
from clipzoo.domains.pathology.slide import OpenSlideSlide, TiffSlide, magnification_to_mpp, open_slide
from clipzoo.domains.pathology.tiling import choose_level, iter_tile_batches, plan_tiles, read_tile
from clipzoo.domains.pathology.tissue import tissue_mask

from tests.conftest import SHARED_DATA

SVS = SHARED_DATA / "pathology" / "cmu_small_region.svs"
needs_svs = pytest.mark.skipif(not SVS.is_file(), reason="shared data cmu_small_region.svs absent")


def _tissue_image(height: int, width: int, box: tuple[int, int, int, int], seed: int = 0) -> np.ndarray:
    """White glass with a pink/purple noisy rectangle of 'tissue' at box (x0, y0, x1, y1)."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), 243, np.uint8)
    x0, y0, x1, y1 = box
    tissue = np.stack(
        [
            rng.integers(150, 210, (y1 - y0, x1 - x0)),
            rng.integers(60, 120, (y1 - y0, x1 - x0)),
            np.full((y1 - y0, x1 - x0), 180),
        ],
        axis=-1,
    )
    img[y0:y1, x0:x1] = tissue.astype(np.uint8)
    return img


@pytest.fixture(scope="module")
def pyramid(tmp_path_factory):
    """A 3-level pyramidal TIFF at 0.25 um/px (40x) with tissue only in its lower-right part, and its pixels."""
    img = _tissue_image(1536, 2048, (1024, 768, 2048, 1536))
    path = tmp_path_factory.mktemp("slides") / "pyramid.tif"
    write_pyramidal_tiff(path, lambda y0, y1: img[y0:y1], 1536, 2048, mpp=0.25, levels=3, tile=256)
    return path, img


def test_pyramidal_tiff_levels_and_mpp_come_from_the_file(pyramid):
    path, _ = pyramid
    with tifffile.TiffFile(path) as tif:  # what tifffile itself sees: a pyramid in SubIFDs with resolution tags
        assert len(tif.series[0].levels) == 3
        assert tif.pages[0].tags["ResolutionUnit"].value == tifffile.RESUNIT.CENTIMETER
    with open_slide(path) as slide:
        assert isinstance(slide, TiffSlide)
        assert slide.level_dimensions == [(2048, 1536), (1024, 768), (512, 384)]
        assert slide.level_downsamples == [1.0, 2.0, 4.0]
        assert slide.mpp == pytest.approx(0.25)
        assert [slide.level_mpp(i) for i in range(3)] == pytest.approx([0.25, 0.5, 1.0])


def test_read_region_matches_the_pixels_and_pads_outside_with_white(pyramid):
    path, img = pyramid
    with open_slide(path) as slide:
        assert np.array_equal(slide.read_region((300, 200), 0, (333, 257)), img[200:457, 300:633])
        level1 = slide.read_region((1000, 800), 1, (100, 50))  # level-0 location, level-1 size
        assert level1.shape == (50, 100, 3)
        expected = img[800:900:2, 1000:1200:2].astype(int)
        assert np.abs(level1.astype(int) - expected).mean() < 40  # a downsample of the same place
        edge = slide.read_region((2000, 1500), 0, (100, 100))
        assert np.array_equal(edge[:36, :48], img[1500:, 2000:]) and (edge[36:] == 255).all()


@pytest.mark.parametrize(
    ("target", "level"), [(0.25, 0), (0.26, 0), (0.4, 0), (0.5, 1), (0.52, 1), (0.9, 1), (1.0, 2), (4.0, 2)]
)
def test_level_choice_is_the_coarsest_level_at_least_as_fine_as_requested(pyramid, target, level):
    with open_slide(pyramid[0]) as slide:
        assert choose_level(slide, target) == level


def test_magnification_maps_to_mpp():
    assert magnification_to_mpp(20) == 0.5 and magnification_to_mpp(40) == 0.25
    with pytest.raises(InputError, match="magnification"):
        magnification_to_mpp(0)


def test_tile_plan_keeps_level0_coordinates_and_skips_background(pyramid):
    path, img = pyramid
    with open_slide(path) as slide:
        plan = plan_tiles(slide, target_mpp=0.5, tile_px=128)  # 256 level-0 px per tile, read at level 1
        assert (plan.level, plan.read_px, plan.size0) == (1, 128, 256)
        assert plan.grid_shape == (8, 6) and plan.n_grid == 48
        # tissue fills x >= 1024, y >= 768: the 4 x 3 lower-right tiles exactly
        assert plan.n_tiles == 12 and plan.n_skipped == 36
        assert {tuple(c) for c in plan.coords} == {
            (x, y) for x in range(1024, 2048, 256) for y in range(768, 1536, 256)
        }
        assert np.array_equal(plan.coords, plan.grid * 256)
        seen = []
        for idx, tiles in iter_tile_batches(slide, plan, batch_size=5):
            assert len(idx) == len(tiles) <= 5
            for i, tile in zip(idx, tiles, strict=True):
                assert tile.shape == (128, 128, 3)
                x, y = plan.coords[i]
                expected = img[y : y + 256 : 2, x : x + 256 : 2].astype(int)
                assert np.abs(tile.astype(int) - expected).mean() < 40
            seen += idx.tolist()
        assert seen == list(range(12))


def test_tile_read_at_finer_level_is_resized_to_tile_px(pyramid):
    with open_slide(pyramid[0]) as slide:
        plan = plan_tiles(slide, target_mpp=0.75, tile_px=64)  # 0.75 um/px: read at level 1 (0.5), 96 px -> 64
        assert (plan.level, plan.read_px) == (1, 96)
        assert read_tile(slide, plan, 0).shape == (64, 64, 3)


def test_tissue_mask_finds_the_stained_area_and_not_the_glass():
    img = _tissue_image(200, 300, (150, 100, 300, 200))
    mask = tissue_mask(img)
    assert mask[110:190, 160:290].mean() > 0.95
    assert mask[:90, :140].mean() < 0.01
    assert not tissue_mask(np.full((50, 50, 3), 240, np.uint8)).any()  # blank glass: nothing, whatever Otsu says


def _saturation(rgb: np.ndarray) -> float:
    return float(rgb.max(-1).astype(int).mean() - rgb.min(-1).astype(int).mean())


@needs_svs
def test_real_svs_through_openslide():
    with open_slide(SVS) as slide:
        assert isinstance(slide, OpenSlideSlide)
        assert slide.dimensions == (2220, 2967) and slide.level_count == 1
        assert slide.mpp == pytest.approx(0.499)
        assert choose_level(slide, 0.5) == 0  # 0.499 within tolerance of 0.5
        region = slide.read_region((1000, 1000), 0, (64, 48))
        assert region.shape == (48, 64, 3) and region.dtype == np.uint8
        plan = plan_tiles(slide, target_mpp=0.5, tile_px=224)
        assert plan.grid_shape == (9, 13)
        assert 20 < plan.n_tiles < plan.n_grid and plan.n_skipped == plan.n_grid - plan.n_tiles
        assert (plan.coords[:, 0] + plan.size0 <= 2220 + 1).all() and (plan.coords[:, 1] + plan.size0 <= 2967 + 1).all()
        assert 0.1 < plan.mask.mean() < 0.7  # a strip of tissue on glass
        assert np.array_equal(plan.coords, np.round(plan.grid * plan.size0))  # level-0 corners of grid cells
        tile = read_tile(slide, plan, 0)
        assert tile.shape == (224, 224, 3)
        skipped = sorted(set(np.ndindex(13, 9)) - {(int(r), int(c)) for c, r in plan.grid})
        kept_sat, glass_sat = (
            _saturation(slide.read_region(tuple(int(v) for v in xy), 0, (224, 224)))
            for xy in (plan.coords[len(plan.coords) // 2], (skipped[0][1] * plan.size0, skipped[0][0] * plan.size0))
        )
        assert kept_sat > 2 * glass_sat  # the mask keeps stained tissue and skips glass
        coarse = plan_tiles(slide, target_mpp=1.0, tile_px=224)  # one level only: read 2x larger, then halved
        assert (coarse.level, coarse.read_px) == (0, 449) and read_tile(slide, coarse, 0).shape == (224, 224, 3)
        with pytest.raises(InputError, match="finer than the slide"):
            plan_tiles(slide, target_mpp=0.25)


def test_not_a_slide_is_named(tmp_path):
    fake = tmp_path / "fake.svs"
    fake.write_text("not a slide at all")
    with pytest.raises(InputError, match=r"fake\.svs: not a whole-slide image"):
        open_slide(fake)
    fake_tif = tmp_path / "fake.tif"
    fake_tif.write_bytes(b"II*\x00garbage" * 10)
    with pytest.raises(InputError, match=r"fake\.tif: not a TIFF slide"):
        open_slide(fake_tif)
    empty = tmp_path / "empty.svs"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.svs: slide file is empty"):
        open_slide(empty)
    with pytest.raises(InputError, match=r"missing\.svs: slide file not found"):
        open_slide(tmp_path / "missing.svs")


def test_unsupported_slide_extension_is_named(tmp_path):
    odd = tmp_path / "scan.czi"
    odd.write_bytes(b"x")
    with pytest.raises(InputError, match=r"scan\.czi: unsupported slide extension '\.czi'"):
        open_slide(odd)


def test_slide_with_no_tissue_is_named(tmp_path):
    blank = np.full((1024, 1024, 3), 242, np.uint8)
    path = tmp_path / "blank.tif"
    write_pyramidal_tiff(path, lambda y0, y1: blank[y0:y1], 1024, 1024, mpp=0.5, levels=2)
    with open_slide(path) as slide, pytest.raises(InputError, match=r"blank\.tif: no tissue found"):
        plan_tiles(slide, 0.5, 224)


def test_slide_without_mpp_needs_one_and_too_small_slide_is_named(tmp_path):
    img = _tissue_image(300, 300, (0, 0, 300, 300))
    path = tmp_path / "nompp.tif"
    tifffile.imwrite(path, img, tile=(128, 128), photometric="rgb")
    with open_slide(path) as slide, pytest.raises(InputError, match="no microns-per-pixel"):
        plan_tiles(slide, 0.5, 224)
    with open_slide(path, mpp=0.5) as slide:
        assert plan_tiles(slide, 0.5, 224).n_tiles == 1
    with open_slide(path, mpp=0.5) as slide, pytest.raises(InputError, match="smaller than one 224 px tile"):
        plan_tiles(slide, 1.0, 224)
