"""The fashion demo catalogue: real JPEG/PNG/WebP files, sound manifests and triplets, prompts that never leak."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from clipzoo.core.data import Manifest
from clipzoo.domains.fashion.captions import CATEGORY_WORDS, attribute_caption
from clipzoo.domains.fashion.demo_data import load_prompt_packs, write_demo_dataset
from clipzoo.domains.fashion.garments import CATEGORIES, COLOURS, PATTERNS, random_geometry, render_garment
from clipzoo.domains.fashion.triplets import read_triplets
from PIL import Image

SMALL = {"n_train": 36, "n_heldout": 18}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("fashion-demo")
    return root, write_demo_dataset(root, seed=0, **SMALL)


def test_manifests_list_decodable_products_in_three_formats(demo):
    root, paths = demo
    train, heldout = pd.read_csv(paths["train"]), pd.read_csv(paths["heldout"])
    assert (len(train), len(heldout)) == (36, 18)
    assert not set(train["product_id"]) & set(heldout["product_id"])
    formats = set()
    for rel in [*train["path"], *heldout["path"]]:
        with Image.open(root / rel) as img:
            img.load()
            formats.add(img.format)
            assert img.mode == "RGB" and img.size[0] != img.size[1], "product shots are not square"
    assert formats == {"JPEG", "PNG", "WEBP"}
    assert set(train["category"]) == set(CATEGORIES)
    assert set(train["colour"]) <= set(COLOURS) and set(train["pattern"]) <= set(PATTERNS)


def test_captions_carry_title_and_attributes(demo):
    _, paths = demo
    for row in pd.read_csv(paths["train"]).itertuples():
        caption = row.caption.lower()
        assert row.colour in caption and row.title.lower() in caption
        assert any(w in caption for w in CATEGORY_WORDS[row.category]), row.caption


def test_triplets_change_what_the_text_says(demo):
    _, paths = demo
    frame = pd.read_csv(paths["train"])
    triplets = read_triplets(paths["train_triplets"], Manifest.read(paths["train"]))
    assert len(triplets) == 2 * len(frame)  # every ordered pair of a family of three
    for ref, text, tgt in zip(triplets.reference, triplets.modification, triplets.target, strict=True):
        a, b = frame.iloc[ref], frame.iloc[tgt]
        assert a["family"] == b["family"] and a["category"] == b["category"] and ref != tgt
        if a["colour"] != b["colour"]:
            assert b["colour"] in text
        else:
            assert a["pattern"] != b["pattern"]
    read_triplets(paths["heldout_triplets"], Manifest.read(paths["heldout"]))


def test_same_seed_same_bytes_and_rerun_is_skipped(demo, tmp_path):
    root, paths = demo
    again = write_demo_dataset(tmp_path, seed=0, **SMALL)
    rel = pd.read_csv(paths["train"])["path"].iloc[4]
    assert (root / rel).read_bytes() == (tmp_path / rel).read_bytes()
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "images").iterdir()}
    assert write_demo_dataset(tmp_path, seed=0, **SMALL) == again
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "images").iterdir()} == stamp
    write_demo_dataset(tmp_path, n_train=6, n_heldout=3, seed=0)
    assert len(list((tmp_path / "images").iterdir())) == 9, "images of the earlier run must not linger"
    assert json.loads((tmp_path / "DONE.json").read_text())["n_train"] == 6


def test_garment_pixels_carry_the_named_colour():
    rng = np.random.default_rng(3)
    palette = {c: np.array(v, float) for c, v in COLOURS.items()}
    for category in CATEGORIES:
        for colour in COLOURS:
            img = np.asarray(render_garment(category, colour, "plain", random_geometry(category, rng), rng), float)
            garment = img.reshape(-1, 3)[np.abs(img.reshape(-1, 3) - 245).max(axis=1) > 60]
            assert len(garment) > 0.1 * img.shape[0] * img.shape[1], f"{category} too small"
            mean = garment.mean(axis=0)
            assert min(palette, key=lambda c: np.linalg.norm(palette[c] - mean)) == colour, (category, colour)


def test_patterns_differ_and_bad_names_are_refused():
    rng = np.random.default_rng(0)
    geometry = random_geometry("dress", rng)
    renders = {p: np.asarray(render_garment("dress", "blue", p, geometry, np.random.default_rng(1)), float)
               for p in PATTERNS}  # fmt: skip
    inside = np.abs(renders["plain"] - 245).max(axis=-1) > 60  # the garment's pixels
    assert all(renders["plain"][inside].std(axis=0).max() * 2 < renders[p][inside].std(axis=0).max()
               for p in PATTERNS if p != "plain")  # fmt: skip
    assert all(np.abs(renders[p] - renders["plain"]).mean() > 5 for p in PATTERNS if p != "plain")
    with pytest.raises(ValueError, match="category"):
        random_geometry("hat", rng)
    with pytest.raises(ValueError, match="colour"):
        render_garment("dress", "teal", "plain", geometry, rng)
    with pytest.raises(ValueError, match="pattern"):
        render_garment("dress", "red", "paisley", geometry, rng)


def test_prompt_packs_cover_the_classes_and_never_occur_in_captions(tmp_path):
    packs = load_prompt_packs()
    assert set(packs["category"]["classes"]) == set(CATEGORIES)
    assert set(packs["colour"]["classes"]) == set(COLOURS)
    assert set(packs["pattern"]["classes"]) == set(PATTERNS)
    paths = write_demo_dataset(tmp_path, n_train=300, n_heldout=3, seed=5)
    captions = [c.lower() for c in pd.read_csv(paths["train"])["caption"]]
    prompts = [t.format(s).lower().rstrip(".") for p in packs.values() for t in p["templates"]
               for syns in p["classes"].values() for s in syns]  # fmt: skip
    assert not [p for p in prompts if any(p in c for c in captions)]
    for word in ("photo", "image", "picture", "shot", "catalogue"):
        assert not any(word in c for c in captions), word


def test_attribute_caption_joins_text_and_attributes():
    assert attribute_caption("Relaxed tee", {"colour": "red", "pattern": None, "fabric_type": "cotton"}) == (
        "Relaxed tee; colour: red; fabric type: cotton"
    )
    with pytest.raises(ValueError, match="text or at least one attribute"):
        attribute_caption(" ", {"colour": float("nan")})
