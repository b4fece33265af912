"""A real `mlflow models serve` process (through `clipzoo serve`) answering catalogue searches on /invocations."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import requests

from tests.helpers.serving import served


@pytest.fixture(scope="module")
def server(registered_fashion, fashion_catalogue, fashion_files):
    roots = ["--data-root", str(fashion_catalogue.parent), "--data-root", str(Path(fashion_files["heldout"]).parent)]
    with served(registered_fashion, "fashion-serve.log", *roots) as url:
        yield url


def _post(url: str, payload: dict) -> requests.Response:
    return requests.post(f"{url}/invocations", json=payload, timeout=120)


def test_served_model_answers_text_and_composed_searches(server, fashion_catalogue, fashion_files):
    params = {"task": "search", "catalogue": str(fashion_catalogue), "top_k": 4}
    reply = _post(server, {"inputs": {"text": ["red striped dress", "black bag"]}, "params": params})
    assert reply.status_code == 200, reply.text
    rows = reply.json()["predictions"]
    assert [r["input"] for r in rows] == ["red striped dress", "black bag"]
    products = set(pd.read_csv(fashion_files["heldout"])["product_id"])
    for row in rows:
        assert row["query"] == "text" and row["error"] is None
        assert len(row["ids"]) == 4 and set(row["ids"]) <= products
        assert row["scores"] == sorted(row["scores"], reverse=True)
    image = str(Path(fashion_files["heldout"]).parent / pd.read_csv(fashion_files["heldout"])["path"][2])
    reply = _post(server, {"inputs": {"path": [image, image], "text": ["", "in blue"]}, "params": params})
    assert reply.status_code == 200, reply.text
    plain, composed = reply.json()["predictions"]
    assert plain["query"] == "image" and plain["ids"][0] == pd.read_csv(fashion_files["heldout"])["product_id"][2]
    assert composed["query"] == "image+text (Combiner)"


def test_bad_search_gets_400_and_the_server_keeps_serving(server, fashion_catalogue, fashion_files, tmp_path):
    not_a_catalogue = str(Path(fashion_files["heldout"]).parent)  # under a data root, but no index
    reply = _post(server, {"inputs": {"text": ["bag"]}, "params": {"task": "search", "catalogue": not_a_catalogue}})
    assert reply.status_code == 400 and "not a product catalogue" in reply.json()["message"], reply.text
    reply = _post(server, {"inputs": {"text": ["bag"]}, "params": {"task": "search", "catalogue": str(tmp_path)}})
    assert reply.status_code == 400 and "'catalogue' is not under a data root" in reply.json()["message"]
    reply = _post(server, {"inputs": {"text": ["bag"]}, "params": {"task": "search"}})
    assert reply.status_code == 400 and "needs a catalogue folder" in reply.json()["message"], reply.text
    ok = _post(server, {"inputs": {"text": ["bag"]}, "params": {"task": "search", "catalogue": str(fashion_catalogue)}})
    assert ok.status_code == 200 and len(ok.json()["predictions"][0]["ids"]) == 5
