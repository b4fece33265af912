"""Users' data: captions from text + attributes, and the FashionIQ layout on a tiny replica."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from clipzoo.cli.main import main
from clipzoo.core.data import Manifest
from clipzoo.core.errors import InputError
from clipzoo.domains.fashion.convert import caption_manifest, convert_fashioniq
from clipzoo.domains.fashion.triplets import read_triplets
from PIL import Image


def _fashioniq(root, missing: str | None = None):
    """A FashionIQ-shaped folder: captions/, image_splits/, images/ (PNG and JPEG), two categories."""
    (root / "captions").mkdir(parents=True)
    (root / "image_splits").mkdir()
    (root / "images").mkdir()
    splits = {"dress": ["B001", "B002", "B003"], "toptee": ["B010", "B011"]}
    for category, names in splits.items():
        (root / "image_splits" / f"split.{category}.val.json").write_text(json.dumps(names))
        for i, name in enumerate(names):
            if name != missing:
                Image.new("RGB", (30, 40), (40 * i, 90, 160)).save(root / "images" / f"{name}.{'png' if i else 'jpg'}")
    (root / "captions" / "cap.dress.val.json").write_text(json.dumps([
        {"target": "B002", "candidate": "B001", "captions": ["is red with no sleeves.", "is shorter"]},
        {"target": "B003", "candidate": "B002", "captions": ["has stripes", ""]},
    ]))  # fmt: skip
    (root / "captions" / "cap.toptee.val.json").write_text(json.dumps([
        {"target": "B011", "candidate": "B010", "captions": ["is blue?", "has a logo"]},
    ]))  # fmt: skip


def test_fashioniq_replica_converts_to_manifest_and_triplets(tmp_path):
    _fashioniq(tmp_path / "fiq")
    res = convert_fashioniq(tmp_path / "fiq", tmp_path / "out", split="val")
    assert (res.products, res.triplet_rows, res.skipped_missing) == (5, 3, 0)
    manifest = Manifest.read(res.manifest)
    assert set(manifest.frame["category"]) == {"dress", "toptee"}
    assert set(manifest.frame["caption"]) == {"dress", "top or tee"}
    assert all(manifest.file(i).is_file() for i in range(len(manifest)))
    triplets = read_triplets(res.triplets, manifest)
    assert triplets.modification == ["is red with no sleeves and is shorter", "has stripes", "is blue and has a logo"]
    ids = list(manifest.frame["product_id"])
    assert [ids[i] for i in triplets.reference] == ["B001", "B002", "B010"]


def test_fashioniq_missing_images_are_named_or_skipped(tmp_path, capsys):
    _fashioniq(tmp_path / "fiq", missing="B002")
    with pytest.raises(InputError, match=r"1 image\(s\) named by the split are missing, e\.g\. \['B002'\]"):
        convert_fashioniq(tmp_path / "fiq", tmp_path / "out", split="val")
    fashioniq = ["convert", "fashion", "fashioniq"]
    options = ["--option", "split=val", "--option", "skip_missing=true"]
    assert main([*fashioniq, str(tmp_path / "fiq"), str(tmp_path / "out"), *options]) == 0
    assert "4 products" in capsys.readouterr().out
    frame = pd.read_csv(tmp_path / "out" / "val.triplets.csv")
    assert len(frame) == 1 and "B002" not in set(frame["reference"]) | set(frame["target"])
    assert main([*fashioniq, str(tmp_path / "nothing"), str(tmp_path / "out")]) == 2
    assert "not a FashionIQ folder" in capsys.readouterr().err


def test_caption_manifest_builds_captions_from_text_and_attributes(tmp_path, capsys):
    (tmp_path / "shop" / "img").mkdir(parents=True)
    Image.new("RGB", (20, 30), "red").save(tmp_path / "shop" / "img" / "a.webp")
    pd.DataFrame({"path": ["img/a.webp", "img/a.webp"], "product_id": ["A", "B"],
                  "title": ["Linen shirt", None], "colour": ["red", "blue"], "material": ["linen", "cotton"]}
                 ).to_csv(tmp_path / "shop" / "products.csv", index=False)  # fmt: skip
    out = caption_manifest(tmp_path / "shop" / "products.csv", tmp_path / "train" / "train.csv", "title",
                           ["colour", "material"])  # fmt: skip
    manifest = Manifest.read(out)
    assert manifest.captions() == ["Linen shirt; colour: red; material: linen", "colour: blue; material: cotton"]
    assert manifest.file(0).resolve() == (tmp_path / "shop" / "img" / "a.webp").resolve()
    with pytest.raises(InputError, match=r"no column\(s\) \['fabric'\]"):
        caption_manifest(tmp_path / "shop" / "products.csv", tmp_path / "x.csv", "title", ["fabric"])
    cli_out = tmp_path / "train" / "cli.csv"
    assert main(["convert", "fashion", "captions", str(tmp_path / "shop" / "products.csv"), str(cli_out),
                 "--option", 'attributes=["colour", "material"]']) == 0  # fmt: skip
    assert str(cli_out) in capsys.readouterr().out
    assert Manifest.read(cli_out).captions() == manifest.captions()
