"""`clipzoo predict --task search`: text, image and composed queries against a catalogue folder, through the real CLI
(its own process) with a registered tiny fashion model; bad catalogues and queries exit 2 naming the problem."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import faiss
import numpy as np
import pandas as pd
import pytest
import torch
from clipzoo.cli.main import main
from clipzoo.core.data import Manifest
from clipzoo.core.domain import get_domain
from clipzoo.core.model import build_model
from clipzoo.core.spec import ModelSpec
from clipzoo.core.zeroshot import encode_texts
from clipzoo.domains.fashion.catalogue import Catalogue
from clipzoo.domains.fashion.combiner import compose
from clipzoo.domains.fashion.index import IndexParams, ProductIndex
from clipzoo.registry.loading import load_clip, load_pyfunc
from mlflow.exceptions import MlflowException

from tests.conftest import REPO, TINY_OPEN_CLIP_CFG


def predict(*args: str) -> list[dict]:
    """`python -m clipzoo.cli.main predict ... --json` in its own process, as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "clipzoo.cli.main", "predict", *args, "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.fixture(scope="module")
def clip(registered_fashion):
    return load_clip(registered_fashion)


@pytest.fixture(scope="module")
def heldout(fashion_files) -> Manifest:
    return Manifest.read(fashion_files["heldout"])


def exact_ranking(folder: Path, query: torch.Tensor) -> tuple[list[str], np.ndarray]:
    """Every product of the catalogue folder, by cosine to ``query``, straight from the stored vectors."""
    index = faiss.read_index(str(folder / "index.faiss"))
    vectors = index.reconstruct_n(0, index.ntotal)
    ids = json.loads((folder / "ids.json").read_text())
    scores = vectors @ query.numpy().reshape(-1)
    order = np.argsort(-scores)
    return [ids[i] for i in order], scores[order]


def image_embedding(clip, path: Path) -> torch.Tensor:
    domain = get_domain("fashion")
    pixels = domain.transform(clip.spec, train=False)(domain.read(path)).unsqueeze(0)
    with torch.no_grad():
        return clip.model.encode_image(pixels, normalize=True).float()


def test_image_query_finds_the_product_itself_first(registered_fashion, fashion_catalogue, heldout):
    rows = [0, 4, 7]
    files = [str(heldout.file(i)) for i in rows]
    answers = predict(registered_fashion, *files, "--task", "search", "--catalogue", str(fashion_catalogue),
                      "--top-k", "5")  # fmt: skip
    assert [a["input"] for a in answers] == files
    for row, answer in zip(rows, answers, strict=True):
        own = heldout.frame["product_id"][row]
        assert answer["error"] is None and answer["query"] == "image"
        assert len(answer["ids"]) == 5 and answer["ids"][0] == own
        assert answer["scores"][0] == pytest.approx(1.0, abs=1e-4)
        assert answer["scores"] == sorted(answer["scores"], reverse=True)
        assert answer["labels"][0] == heldout.frame["title"][row], "labels are the products' titles"


def test_text_query_ranks_products_by_cosine(registered_fashion, fashion_catalogue, clip, heldout):
    text = "red striped dress"
    [answer] = predict(registered_fashion, "--task", "search", "--catalogue", str(fashion_catalogue), "--text", text,
                       "--top-k", "6")  # fmt: skip
    assert answer["input"] == text and answer["query"] == "text" and answer["error"] is None
    expected_ids, expected_scores = exact_ranking(fashion_catalogue, encode_texts(clip, [text])[0])
    assert answer["ids"] == expected_ids[:6]
    assert answer["scores"] == pytest.approx(expected_scores[:6].tolist(), abs=1e-4)
    titles = dict(zip(heldout.frame["product_id"], heldout.frame["title"], strict=True))
    assert answer["labels"] == [titles[i] for i in answer["ids"]]


def test_composed_query_goes_through_the_trained_combiner(registered_fashion, fashion_catalogue, clip, heldout):
    triplets = pd.read_csv(Path(heldout.source).with_name("heldout.triplets.csv"), dtype=str).iloc[[0, 3]]
    paths = heldout.frame.set_index("product_id")["path"]
    files = [str(heldout.root / paths[r]) for r in triplets["reference"]]
    texts = [arg for text in triplets["modification"] for arg in ("--text", text)]
    answers = predict(registered_fashion, *files, *texts, "--task", "search", "--catalogue", str(fashion_catalogue),
                      "--top-k", "15")  # fmt: skip
    for file, text, answer in zip(files, triplets["modification"], answers, strict=True):
        assert answer["query"] == "image+text (Combiner)" and answer["error"] is None
        query = compose(clip.model, image_embedding(clip, Path(file)), encode_texts(clip, [text]))[0]
        expected_ids, expected_scores = exact_ranking(fashion_catalogue, query)
        assert answer["ids"] == expected_ids and answer["scores"] == pytest.approx(expected_scores.tolist(), abs=1e-4)
        image_only = exact_ranking(fashion_catalogue, image_embedding(clip, Path(file))[0])[0]
        assert answer["ids"] != image_only, "the modification text changes the ranking"


@pytest.fixture(scope="module")
def pyfunc(registered_fashion):
    return load_pyfunc(registered_fashion)


def _catalogue_of(model_cfg: dict, manifest: Manifest, folder: Path) -> Path:
    spec = ModelSpec(name="other", domain="fashion", model_cfg=model_cfg, image_size=32, vision_tower="fashion")
    torch.manual_seed(1)
    return Catalogue.build(build_model(spec), manifest, model_ref="other/1").save(folder)


def test_bad_catalogues_and_queries_exit_2_naming_the_problem(registered_fashion, fashion_catalogue, tmp_path, capsys):
    cases = [
        (["--catalogue", str(tmp_path / "missing"), "--text", "bag"], "catalogue folder not found"),
        (["--text", "bag"], "the search task needs a catalogue folder"),
    ]
    for args, message in cases:
        assert main(["predict", registered_fashion, "--task", "search", *args]) == 2, message
        err = capsys.readouterr().err
        assert message in err and err.startswith("clipzoo: error:"), err
    blank = ["predict", registered_fashion, "--task", "search", "--catalogue", str(fashion_catalogue), "--text", "   "]
    assert main(blank) == 2  # a query row of its own: its error is its row's
    err = capsys.readouterr().err
    assert err == "ERROR input 0: a catalogue query needs an image, a text or both; got neither\n", err


def test_catalogue_of_another_model_is_refused(pyfunc, fashion_catalogue, heldout, tmp_path):
    frame = pd.DataFrame({"text": ["blue bag"]})
    other_dim = {**TINY_OPEN_CLIP_CFG, "embed_dim": 16}
    empty = ProductIndex(faiss.IndexFlatIP(32), [], IndexParams())
    not_catalogue = tmp_path / "plain"
    not_catalogue.mkdir()
    cases = [
        (_catalogue_of(TINY_OPEN_CLIP_CFG, heldout, tmp_path / "same-dim"), "built by another model, other/1"),
        (_catalogue_of(other_dim, heldout, tmp_path / "other-dim"), "this model embeds in 32-d"),
        (not_catalogue, "not a product catalogue (no catalogue.json)"),
    ]
    stamp = Catalogue.load(fashion_catalogue).stamp
    empty_folder = tmp_path / "empty"
    empty.save(empty_folder)
    (empty_folder / "catalogue.json").write_text(json.dumps({"format": 1, "model": stamp.__dict__, "count": 0}))
    cases.append((empty_folder, "the catalogue index is empty"))
    for folder, message in cases:
        with pytest.raises(MlflowException) as info:
            pyfunc.predict(frame, params={"task": "search", "catalogue": str(folder)})
        assert message in info.value.message, info.value.message
        assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException, match=r"unknown search option\(s\) \['nprob'\]"):
        pyfunc.predict(frame, params={"task": "search", "catalogue": str(fashion_catalogue), "options": '{"nprob": 4}'})


def test_a_bad_item_is_named_and_the_others_answered(pyfunc, fashion_catalogue, heldout, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not a jpeg")
    frame = pd.DataFrame({"path": [str(heldout.file(1)), str(broken), None], "text": [None, "in red", "green bag"]})
    params = {"task": "search", "catalogue": str(fashion_catalogue), "top_k": 3, "return_embeddings": True}
    rows = pyfunc.predict(frame, params=params).to_dict("records")
    assert rows[0]["ids"][0] == heldout.frame["product_id"][1] and rows[0]["error"] is None
    assert np.linalg.norm(rows[0]["embedding"]) == pytest.approx(1.0, abs=1e-4) and len(rows[0]["embedding"]) == 32
    assert "broken.jpg" in rows[1]["error"] and rows[1]["ids"] is None
    assert rows[2]["query"] == "text" and len(rows[2]["ids"]) == 3
