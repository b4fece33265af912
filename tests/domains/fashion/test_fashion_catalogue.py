"""Catalogue folders with a real (tiny) fashion model: built, stamped with their model, reloaded, searched by text,
image and image + text through the ``search`` task, and refused for another model or a bad query."""

from __future__ import annotations

import json

import pytest
import torch
from clipzoo.core.data import Manifest
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.core.model import build_model
from clipzoo.core.predict import InputItem, Predictor
from clipzoo.core.spec import ModelSpec
from clipzoo.domains.fashion.catalogue import Catalogue, towers_sha256
from clipzoo.domains.fashion.combiner import get_combiner
from clipzoo.domains.fashion.index import IndexParams
from clipzoo.domains.fashion.search import search

from tests.conftest import TINY_OPEN_CLIP_CFG

SPEC = ModelSpec(name="tiny", domain="fashion", model_cfg=TINY_OPEN_CLIP_CFG, image_size=32, vision_tower="fashion")


def _model(seed: int):
    torch.manual_seed(seed)
    return build_model(SPEC)


@pytest.fixture(scope="module")
def built(fashion_files):
    clip = _model(0)
    manifest = Manifest.read(fashion_files["heldout"])
    return clip, manifest, Catalogue.build(clip, manifest, model_ref="clipzoo-fashion/7")


def _search(clip, catalogue, *items: InputItem, k: int = 5):
    return search(Predictor(clip, get_domain("fashion")), catalogue, list(items), k)


def test_saved_catalogue_records_its_model_and_reloads(built, tmp_path):
    clip, manifest, catalogue = built
    folder = catalogue.save(tmp_path / "cat")
    info = json.loads((folder / "catalogue.json").read_text())
    assert info["model"]["ref"] == "clipzoo-fashion/7" and info["model"]["embed_dim"] == 32
    assert info["model"]["towers_sha256"] == towers_sha256(clip.model) and info["count"] == len(manifest)
    loaded = Catalogue.load(folder)
    loaded.check_model(clip)
    assert loaded.index.ids == list(manifest.frame["product_id"]) and loaded.titles == list(manifest.frame["title"])
    item = InputItem.from_path(manifest.file(2))
    assert _search(clip, loaded, item)[0].extra == _search(clip, catalogue, item)[0].extra


def test_text_image_and_composed_queries(built):
    clip, manifest, catalogue = built
    text, image = InputItem.from_text("blue striped dress"), InputItem.from_path(manifest.file(3))
    composed = InputItem.from_path(manifest.file(3), text="same but in red")
    answers = _search(clip, catalogue, text, image, composed)
    assert [a.extra["query"] for a in answers] == ["text", "image", "image+text (sum)"]
    for answer in answers:
        assert answer.error is None and len(answer.extra["ids"]) == 5
        assert set(answer.extra["ids"]) <= set(manifest.frame["product_id"])
        assert answer.scores == sorted(answer.scores, reverse=True)
    assert answers[1].extra["ids"][0] == manifest.frame["product_id"][3]
    assert answers[1].scores[0] == pytest.approx(1.0, abs=1e-4)
    assert answers[2].scores != answers[1].scores
    assert len(_search(clip, catalogue, text, k=100)[0].extra["ids"]) == len(manifest)


def test_composed_query_uses_the_combiner_once_trained_and_the_catalogue_stays_valid(built):
    clip, manifest, catalogue = built
    combiner = get_combiner(clip.model)
    item = InputItem.from_path(manifest.file(0), text="with stripes")
    before = _search(clip, catalogue, item, k=len(manifest))[0]
    towers = towers_sha256(clip.model)
    combiner.trained.fill_(1)
    try:
        after = _search(clip, catalogue, item, k=len(manifest))[0]
        assert after.extra["query"] == "image+text (Combiner)" and after.scores != before.scores
        assert towers_sha256(clip.model) == towers, "the Combiner does not change product embeddings"
        catalogue.check_model(clip)
    finally:
        combiner.trained.fill_(0)


def test_another_model_is_refused(built):
    _, _, catalogue = built
    with pytest.raises(InputError, match=r"built by another model, clipzoo-fashion/7 \(spec 'tiny', 32-d\)"):
        catalogue.check_model(_model(1))


def test_bad_queries_are_named_and_the_others_answered(built, tmp_path):
    clip, _, catalogue = built
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    answers = _search(
        clip, catalogue, InputItem.from_text("   "), InputItem.from_path(tmp_path / "broken.jpg", text="in blue"),
        InputItem.from_text("red bag"),
    )  # fmt: skip
    assert "needs an image, a text or both; got neither" in answers[0].error
    assert "broken.jpg: not a decodable image" in answers[1].error
    assert answers[2].error is None and len(answers[2].extra["ids"]) == 5


def test_bad_catalogues_are_refused(built, tmp_path):
    clip, manifest, catalogue = built
    header_only = tmp_path / "empty.csv"
    header_only.write_text("path,product_id,caption\n")
    with pytest.raises(InputError, match=r"empty\.csv: manifest has no rows"):
        Catalogue.build(clip, Manifest.read(header_only))
    frame = manifest.frame.drop(columns="product_id")
    frame.to_csv(tmp_path / "noid.csv", index=False)
    (tmp_path / "images").symlink_to(manifest.root / "images")
    with pytest.raises(InputError, match="no 'product_id' column"):
        Catalogue.build(clip, Manifest.read(tmp_path / "noid.csv"))
    with pytest.raises(InputError, match="catalogue folder not found"):
        Catalogue.load(tmp_path / "nowhere")
    folder = catalogue.save(tmp_path / "cat")
    (folder / "catalogue.json").unlink()  # what a build interrupted before its last file leaves
    with pytest.raises(InputError, match=r"not a product catalogue \(no catalogue.json\)"):
        Catalogue.load(folder)
    catalogue.save(folder)
    info = json.loads((folder / "catalogue.json").read_text())
    (folder / "catalogue.json").write_text(json.dumps({**info, "count": 3}))
    with pytest.raises(InputError, match="lists 3 products, the index 15"):
        Catalogue.load(folder)


def test_approximate_catalogue_keeps_its_search_settings_and_takes_overrides(built, tmp_path):
    clip, manifest, _ = built
    hnsw = Catalogue.build(clip, manifest, IndexParams(kind="hnsw", ef_search=32))
    loaded = Catalogue.load(hnsw.save(tmp_path / "hnsw"))
    assert loaded.index.index.hnsw.efSearch == 32
    item = InputItem.from_text("red bag")
    assert _search(clip, loaded, item)[0].extra == _search(clip, hnsw, item)[0].extra
    loaded.tune({"ef_search": 128})
    assert loaded.index.index.hnsw.efSearch == 128
    loaded.tune({})
    assert loaded.index.index.hnsw.efSearch == 32, "a request without options gets the built settings back"
    with pytest.raises(InputError, match="must be a positive integer"):
        loaded.tune({"nprobe": 0})
    with pytest.raises(InputError, match=r"unknown search option\(s\) \['k'\]"):
        loaded.tune({"k": 3})
