"""A real `clipzoo serve` process (MLflow's scoring server) on 127.0.0.1 answering /invocations, 400 on bad input,
still serving. Security and limits: see test_serving_limits.py, which reuses this module's server."""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd
import pytest
import requests


@pytest.fixture(scope="module")
def server(image_server):
    return image_server


def _files(image_demo, n=2):
    frame = pd.read_csv(image_demo.heldout)
    return [str(Path(image_demo.heldout).parent / p) for p in frame["path"][:n]]


def _post(url, payload):
    return requests.post(f"{url}/invocations", json=payload, timeout=60)


def test_paths_in_a_dataframe_get_ranked_labels(server, image_demo):
    files = _files(image_demo)
    reply = _post(
        server,
        {
            "dataframe_split": {"columns": ["path"], "data": [[f] for f in files]},
            "params": {"labels": ["circle", "star", "cross"], "top_k": 2},
        },
    )
    assert reply.status_code == 200, reply.text
    rows = reply.json()["predictions"]
    assert [r["input"] for r in rows] == files
    assert all(len(r["labels"]) == 2 and set(r["labels"]) <= {"circle", "star", "cross"} for r in rows)


def test_base64_files_with_embeddings(server, image_demo):
    path = _files(image_demo, 1)[0]
    data = base64.b64encode(Path(path).read_bytes()).decode()
    reply = _post(
        server,
        {
            "inputs": {"data": [data], "name": ["upload.png"]},
            "params": {"labels": ["circle", "star"], "return_embeddings": True},
        },
    )
    assert reply.status_code == 200, reply.text
    row = reply.json()["predictions"][0]
    assert row["input"] == "upload.png" and len(row["embedding"]) == 32
    by_path = _post(
        server,
        {
            "dataframe_split": {"columns": ["path"], "data": [[path]]},
            "params": {"labels": ["circle", "star"]},
        },
    ).json()["predictions"][0]
    assert by_path["labels"] == row["labels"]
    assert by_path["scores"] == pytest.approx(row["scores"], abs=1e-5)


def test_a_missing_file_under_the_data_root_is_named(server, image_demo):
    missing = str(Path(image_demo.heldout).parent / "images" / "missing.png")
    reply = _post(server, {"inputs": {"path": [missing]}, "params": {"labels": ["a"]}})
    assert reply.status_code == 400 and "file not found" in reply.json()["message"]


@pytest.mark.parametrize(
    "payload, message",
    [
        (
            {"inputs": {"data": ["%%%not-base64"], "name": ["x.png"]}, "params": {"labels": ["a"]}},
            "not valid base64",
        ),
        (
            {
                "inputs": {"data": [base64.b64encode(b"").decode()], "name": ["x.png"]},
                "params": {"labels": ["a"]},
            },
            "'data' is empty (0 bytes)",
        ),
        (
            {
                "inputs": {"data": [base64.b64encode(b"garbage").decode()], "name": ["x.png"]},
                "params": {"labels": ["a"]},
            },
            "not a decodable image",
        ),
        ({"inputs": {"path": ["/nonexistent/file.png"]}, "params": {"labels": ["a"]}}, "not under a data root"),
        ({"inputs": {"text": ["x"]}, "params": {"labels": []}}, "needs candidate labels"),
        ({"inputs": {"text": ["x"]}, "params": {"labels": ["a"], "task": "dance"}}, "unknown task"),
        ({"inputs": {"other": ["x"]}}, "'path', base64 'data' or 'text'"),
    ],
)
def test_bad_requests_get_400_and_the_server_keeps_serving(server, image_demo, payload, message):
    reply = _post(server, payload)
    assert reply.status_code == 400, reply.text
    assert message in reply.json()["message"]
    ok = _post(server, {"inputs": {"path": _files(image_demo, 1)}, "params": {"labels": ["circle", "star"]}})
    assert ok.status_code == 200
