"""Pathology demo data: PNG tiles whose tissues differ the way H&E does, captions free of prompt wording, and
pyramidal TIFF slides composed of those tissues with a slide-level label."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from clipzoo.domains.pathology.acquisition import HELDOUT_SITE, TRAIN_SITES, StainSite, mix_at_border, out_of_focus
from clipzoo.domains.pathology.demo_data import DIAGNOSES, SlideLayout, load_prompt_packs, write_demo_dataset
from clipzoo.domains.pathology.slide import open_slide
from clipzoo.domains.pathology.synthetic import TISSUES, render_tissue
from clipzoo.domains.pathology.tiling import plan_tiles
from PIL import Image

SMALL = {"n_train": 24, "n_heldout": 12, "n_slides": 3, "tile_px": 96, "slide_blocks": (5, 4)}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("pathology-demo")
    return root, write_demo_dataset(root, seed=0, **SMALL)


def test_manifests_list_png_tiles_with_captions_and_tissue(demo):
    root, paths = demo
    for split, n in (("train", 24), ("heldout", 12)):
        frame = pd.read_csv(paths[split])
        assert list(frame.columns) == ["path", "caption", "tissue"] and len(frame) == n
        assert set(frame["tissue"]) == set(TISSUES)
        for rel in frame["path"]:
            with Image.open(root / rel) as img:
                assert img.format == "PNG" and img.mode == "RGB" and img.size == (96, 96)
    train, heldout = (set(pd.read_csv(paths[s])["path"]) for s in ("train", "heldout"))
    assert not train & heldout


def test_slides_are_pyramidal_tiffs_with_mpp_and_a_diagnosis(demo):
    root, paths = demo
    slides = pd.read_csv(paths["slides"])
    assert set(slides["diagnosis"]) == set(DIAGNOSES) and (slides["mpp"] == 0.5).all()
    for row in slides.itertuples():
        with open_slide(root / row.path) as slide:
            assert slide.level_count == 3 and slide.dimensions == (480, 384)
            assert slide.mpp == pytest.approx(0.5)
            plan = plan_tiles(slide, 0.5, row.tile_px, min_tissue=0.5)
            assert 0 < plan.n_tiles < plan.n_grid  # tissue on glass


def test_slide_layout_puts_the_diagnostic_tissue_in_the_slide():
    for diagnosis, tissue in DIAGNOSES.items():
        layout = SlideLayout(diagnosis, 8, 6, 64, seed=3)
        present = set(layout.classes.ravel()) - {""}
        assert tissue in present
        assert not (set(DIAGNOSES.values()) - {tissue}) & present, "other diagnoses' tissues must be absent"
        assert (layout.classes == tissue).sum() >= 0.3 * (layout.classes != "").sum()


def test_shifted_slide_blocks_straddle_the_tiling_grid():
    layout = SlideLayout("normal", 8, 6, 64, seed=3, shifted=True)
    ox, oy = layout.offset
    assert 16 <= ox <= 48 and 16 <= oy <= 48 and layout.classes.shape == (7, 9)
    pixels = layout.render_rows(0, layout.height)
    assert pixels.shape == (384, 512, 3)
    inside = [
        (r, c)
        for r in range(1, 6)
        for c in range(1, 8)
        if layout.classes[r, c] and layout._blob(np.float32(c * 64 - ox + 32), np.float32(r * 64 - oy + 32))
    ]
    r, c = inside[0]  # block (r, c) starts at level-0 (c * 64 - ox, r * 64 - oy)
    assert np.array_equal(pixels[r * 64 - oy + 32, c * 64 - ox + 32], layout._block(r, c)[32, 32])
    # a grid tile (c, r) covers blocks r..r+1 x c..c+1: tiles on region borders hold more than one tissue
    mixed = sum(len(set(layout.classes[r : r + 2, c : c + 2].ravel()) - {""}) > 1 for r in range(6) for c in range(8))
    assert mixed >= 3


def test_heldout_tiles_come_from_an_unseen_site_with_blur_and_mixed_borders():
    rng = np.random.default_rng(0)
    main, other = render_tissue("lymphocytes", rng, 96), render_tissue("adipose", rng, 96)
    mixed = mix_at_border(main, other, rng, share=(0.2, 0.3))
    from_other = (mixed == other).all(-1) & (mixed != main).any(-1)
    assert 0.1 < from_other.mean() < 0.35 and (mixed == main).all(-1).mean() > 0.6  # main keeps the majority
    sharp = np.abs(np.diff(main.astype(float), axis=1)).mean()
    assert np.abs(np.diff(out_of_focus(main, rng).astype(float), axis=1)).mean() < 0.8 * sharp

    def colour(site: StainSite) -> np.ndarray:
        tiles = [render_tissue("stroma", np.random.default_rng(s), 64, site=site) for s in range(4)]
        return np.mean([t.reshape(-1, 3).mean(0) for t in tiles], axis=0)

    heldout = colour(HELDOUT_SITE)
    assert all(np.abs(colour(site) - heldout).max() > 8 for site in TRAIN_SITES)


def _haematoxylin_share(rgb: np.ndarray) -> float:
    """Share of pixels that look like nuclei: dark and blue-purple."""
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    return float(((b > r + 10) & (g < 140)).mean())


def test_tissues_differ_in_nuclei_and_staining():
    rng = np.random.default_rng(0)
    share = {t: np.mean([_haematoxylin_share(render_tissue(t, rng, 160)) for _ in range(4)]) for t in TISSUES}
    brightness = {t: np.mean([render_tissue(t, rng, 160).mean() for _ in range(4)]) for t in TISSUES}
    assert share["lymphocytes"] > share["stroma"] and share["tumour"] > share["stroma"]
    assert share["adipose"] < 0.02 and brightness["adipose"] > max(v for k, v in brightness.items() if k != "adipose")
    assert share["tumour"] > share["mucosa"]
    with pytest.raises(ValueError, match="unknown tissue"):
        render_tissue("bone", rng)


def test_prompts_never_occur_in_captions(tmp_path):
    paths = write_demo_dataset(tmp_path, n_train=300, n_heldout=6, n_slides=1, tile_px=24, slide_blocks=(3, 3))
    captions = [c.lower() for c in pd.read_csv(paths["train"])["caption"]]
    assert len(set(captions)) > 50
    packs = load_prompt_packs()
    assert set(packs["tissue"]["classes"]) == set(TISSUES) and set(packs["diagnosis"]["classes"]) == set(DIAGNOSES)
    for pack in packs.values():
        for template in pack["templates"]:
            for synonyms in pack["classes"].values():
                for s in synonyms:
                    prompt = template.format(s).lower().rstrip(".")
                    assert not any(prompt in c for c in captions), prompt
    for word in ("image", "h&e", "photomicrograph", "histolog", "slide"):
        assert not any(word in c for c in captions), word


def test_same_seed_same_files_and_rerun_is_skipped(tmp_path):
    tiny = {"n_train": 6, "n_heldout": 6, "n_slides": 1, "tile_px": 48, "slide_blocks": (4, 3)}
    a = write_demo_dataset(tmp_path / "a", seed=4, **tiny)
    b = write_demo_dataset(tmp_path / "b", seed=4, **tiny)
    for key in ("train", "heldout", "slides"):
        assert a[key].read_bytes() == b[key].read_bytes()
    rel = pd.read_csv(a["slides"])["path"][0]
    assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    stamp = (tmp_path / "a" / rel).stat().st_mtime_ns
    write_demo_dataset(tmp_path / "a", seed=4, **tiny)
    assert (tmp_path / "a" / rel).stat().st_mtime_ns == stamp
    assert write_demo_dataset(tmp_path / "c", seed=5, **tiny)["train"].read_bytes() != a["train"].read_bytes()
