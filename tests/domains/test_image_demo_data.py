"""The image demo data: decodable files, sound manifests, learnable labels, prompts that never leak."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from clipzoo.domains.image.demo_data import (
    COLOURS,
    SHAPES,
    TEXTURES,
    load_prompt_packs,
    render_image,
    write_demo_dataset,
)
from PIL import Image

COLUMNS = ["path", "caption", "shape", "colour", "texture"]
VALUES = {"shape": set(SHAPES), "colour": set(COLOURS), "texture": set(TEXTURES)}
SMALL = {"n_train": 60, "n_heldout": 24}


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    return root, write_demo_dataset(root, seed=0, **SMALL)


@pytest.fixture(scope="module")
def big_train(tmp_path_factory) -> pd.DataFrame:
    paths = write_demo_dataset(tmp_path_factory.mktemp("demo-big"), n_train=600, n_heldout=24, seed=3)
    return pd.read_csv(paths["train"])


def test_manifests_list_decodable_rgb_images_by_relative_path(small_demo):
    _, paths = small_demo
    assert set(paths) == {"train", "heldout"}
    for split, expected_rows in (("train", 60), ("heldout", 24)):
        frame = pd.read_csv(paths[split])
        assert list(frame.columns) == COLUMNS and len(frame) == expected_rows
        for rel in frame["path"]:
            assert not rel.startswith("/") and rel.startswith("images/")
            with Image.open(paths[split].parent / rel) as img:
                img.load()
                assert img.mode == "RGB" and img.size == (64, 64)
        for column, allowed in VALUES.items():
            assert set(frame[column]) <= allowed
    train, heldout = (pd.read_csv(paths[s]) for s in ("train", "heldout"))
    assert not set(train["path"]) & set(heldout["path"]), "held-out images must be separate files"


def test_requested_image_size_is_honoured(tmp_path):
    paths = write_demo_dataset(tmp_path, n_train=6, n_heldout=6, size=32)
    rel = pd.read_csv(paths["heldout"])["path"].iloc[0]
    with Image.open(tmp_path / rel) as img:
        assert img.size == (32, 32) and img.mode == "RGB"


def test_every_class_of_every_column_is_in_train(small_demo):
    _, paths = small_demo
    train = pd.read_csv(paths["train"])
    for column, allowed in VALUES.items():
        assert set(train[column]) == allowed, column


def test_captions_name_the_shape_and_colour(small_demo):
    _, paths = small_demo
    for split in ("train", "heldout"):
        for row in pd.read_csv(paths[split]).itertuples():
            words = row.caption.lower()
            assert row.shape in words and row.colour in words, row.caption
            others = [s for s in SHAPES if s != row.shape and s in words]
            assert not others, f"caption names another shape: {row.caption}"


def test_captions_are_varied(big_train):
    assert big_train["caption"].nunique() > 300
    starts = {c.split()[0] for c in big_train["caption"]}
    assert len(starts) >= 5, "captions should come from several templates"


def test_same_seed_same_bytes_other_seed_other_images(tmp_path):
    a = write_demo_dataset(tmp_path / "a", seed=7, **SMALL)
    b = write_demo_dataset(tmp_path / "b", seed=7, **SMALL)
    c = write_demo_dataset(tmp_path / "c", seed=8, **SMALL)
    for split in ("train", "heldout"):
        assert a[split].read_bytes() == b[split].read_bytes()
        assert a[split].read_bytes() != c[split].read_bytes()
    rels = pd.read_csv(a["train"])["path"]
    assert all((tmp_path / "a" / r).read_bytes() == (tmp_path / "b" / r).read_bytes() for r in rels)
    differing = sum((tmp_path / "a" / r).read_bytes() != (tmp_path / "c" / r).read_bytes() for r in rels)
    assert differing == len(rels)


def test_heldout_images_are_new_renders_independent_of_train_size(small_demo, tmp_path):
    root, paths = small_demo
    heldout = pd.read_csv(paths["heldout"])
    # Its own random stream: a training set as big as the held-out one shares no image with it...
    same_size = write_demo_dataset(tmp_path / "same", n_train=24, n_heldout=24, seed=0)
    train_bytes = {(tmp_path / "same" / r).read_bytes() for r in pd.read_csv(same_size["train"])["path"]}
    assert not any((root / r).read_bytes() in train_bytes for r in heldout["path"])
    # ...and a bigger training set leaves the held-out set as it was.
    other = pd.read_csv(write_demo_dataset(tmp_path / "big", n_train=90, n_heldout=24, seed=0)["heldout"])
    assert other.drop(columns="path").equals(heldout.drop(columns="path"))
    pairs = zip(heldout["path"], other["path"], strict=True)
    assert all((root / a).read_bytes() == (tmp_path / "big" / b).read_bytes() for a, b in pairs)


def test_rerun_with_same_arguments_is_skipped_and_other_arguments_regenerate(tmp_path):
    paths = write_demo_dataset(tmp_path, seed=1, **SMALL)
    first = pd.read_csv(paths["train"])
    stamp = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.png")}
    assert write_demo_dataset(tmp_path, seed=1, **SMALL) == paths
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.png")} == stamp

    paths = write_demo_dataset(tmp_path, n_train=12, n_heldout=6, seed=1)
    train, heldout = pd.read_csv(paths["train"]), pd.read_csv(paths["heldout"])
    assert (len(train), len(heldout)) == (12, 6)
    assert json.loads((tmp_path / "DONE.json").read_text())["n_train"] == 12
    listed = {tmp_path / r for r in [*train["path"], *heldout["path"]]}
    assert set((tmp_path / "images").glob("*.png")) == listed, "images of the earlier run must not linger"
    assert not first.equals(train)


def test_incomplete_dataset_is_regenerated(tmp_path):
    paths = write_demo_dataset(tmp_path, seed=2, **SMALL)
    paths["heldout"].unlink()
    assert write_demo_dataset(tmp_path, seed=2, **SMALL)["heldout"].is_file()


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="n_train"):
        write_demo_dataset(tmp_path, n_train=0, n_heldout=4)
    with pytest.raises(ValueError, match="shape"):
        render_image("hexagon", "red", "plain", np.random.default_rng(0))
    with pytest.raises(ValueError, match="colour"):
        render_image("star", "teal", "plain", np.random.default_rng(0))
    with pytest.raises(ValueError, match="texture"):
        render_image("star", "red", "wavy", np.random.default_rng(0))


def test_prompt_packs_cover_the_manifest_classes(small_demo):
    packs = load_prompt_packs()
    assert set(packs) == {"shape", "colour"}
    assert set(packs["shape"]["classes"]) == set(SHAPES)
    assert set(packs["colour"]["classes"]) == set(COLOURS)
    for pack in packs.values():
        assert 5 <= len(pack["templates"]) <= 8
        assert all(t.count("{}") == 1 for t in pack["templates"])
        assert all(len(syns) >= 1 and all(s.strip() for s in syns) for syns in pack["classes"].values())


def _filled_prompts() -> list[str]:
    prompts = []
    for pack in load_prompt_packs().values():
        synonyms = [s for names in pack["classes"].values() for s in names]
        prompts += [t.format(s).lower() for t in pack["templates"] for s in synonyms]
    return prompts


def test_no_prompt_occurs_in_a_training_caption(big_train):
    captions = [c.lower() for c in big_train["caption"]]
    leaked = [p for p in _filled_prompts() if any(p in c or p.rstrip(".") in c for c in captions)]
    assert not leaked
    for word in ("image", "picture", "photo", "showing", "depict", "drawing"):
        assert not any(word in c for c in captions), f"captions must not use prompt wording: {word!r}"


def _saturated_mean(img: Image.Image) -> tuple[np.ndarray, float]:
    """Mean RGB of the strongly saturated pixels (the shape; backgrounds are muted) and their share."""
    rgb = np.asarray(img, dtype=np.float64).reshape(-1, 3)
    value, low = rgb.max(axis=1), rgb.min(axis=1)
    saturation = (value - low) / np.maximum(value, 1)
    shape = (saturation > 0.55) & (value > 90)
    return rgb[shape].mean(axis=0), float(shape.mean())


@pytest.mark.parametrize("texture", TEXTURES)
def test_shape_pixels_carry_the_named_colour(texture):
    rng = np.random.default_rng(11)
    palette = {name: np.array(rgb, dtype=np.float64) for name, rgb in COLOURS.items()}
    for colour in COLOURS:
        for shape in SHAPES:
            img = render_image(shape, colour, texture, rng)
            mean, share = _saturated_mean(img)
            assert share > 0.05, f"{colour} {shape} on {texture}: too few coloured pixels ({share:.3f})"
            nearest = min(palette, key=lambda name: np.linalg.norm(palette[name] - mean))
            assert nearest == colour, f"{colour} {shape} on {texture} looks {nearest}: mean {mean.round()}"


def test_red_shape_differs_from_background_in_red():
    img = np.asarray(render_image("star", "red", "plain", np.random.default_rng(5)), dtype=np.float64)
    background = np.median(img.reshape(-1, 3), axis=0)
    differs = np.abs(img - background).sum(axis=-1) > 60
    assert 0.05 < differs.mean() < 0.6
    r, g, b = img[differs].mean(axis=0)
    assert r > 150 and r > g + 80 and r > b + 80


def test_shapes_have_distinct_silhouettes():
    """Same random draws, other shape: the coloured area differs (a ring has a hole, a star less fill)."""
    shares = {}
    for shape in SHAPES:
        img = render_image(shape, "blue", "plain", np.random.default_rng(4), extent=0.7)
        shares[shape] = _saturated_mean(img)[1]
    assert shares["ring"] < shares["circle"] * 0.8
    assert shares["star"] < shares["circle"] * 0.6
    assert len({round(v, 3) for v in shares.values()}) == len(SHAPES)
