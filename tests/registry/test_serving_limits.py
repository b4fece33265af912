"""What a served model refuses, on the one real server of ``image_server``: paths outside its data roots (one
message whether the file exists or not), ``..`` and symlink escapes, images too large by their header, bodies over
the limit, too many rows; error bodies stay short; after each refusal the server still answers."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import requests
from PIL import Image

from tests.registry.conftest import MAX_BODY_MB, MAX_ROWS

pytestmark = pytest.mark.slow
LABELS = {"labels": ["circle", "star"]}


def _post(url: str, payload: dict | None = None, data: bytes | None = None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    return requests.post(f"{url}/invocations", json=payload, data=data, headers=headers, timeout=120)


def _root(image_demo) -> Path:
    return Path(image_demo.heldout).parent


def _good_file(image_demo) -> str:
    return str(_root(image_demo) / pd.read_csv(image_demo.heldout)["path"][0])


def _still_serves(url: str, image_demo) -> None:
    reply = _post(url, {"inputs": {"path": [_good_file(image_demo)]}, "params": LABELS})
    assert reply.status_code == 200, reply.text
    assert reply.json()["predictions"][0]["error"] is None


def _refusal(url: str, path: str) -> str:
    reply = _post(url, {"inputs": {"path": [path]}, "params": LABELS})
    assert reply.status_code == 400, reply.text
    return reply.json()["message"]


def _server_process(url: str) -> psutil.Process:
    port = int(url.rsplit(":", 1)[1])
    pids = {c.pid for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port and c.pid}
    assert len(pids) == 1, pids
    return psutil.Process(pids.pop())


def test_a_path_outside_the_data_root_gets_the_same_message_whether_it_exists_or_not(
    image_server, image_demo, tmp_path
):
    outside = tmp_path / "secret.png"
    Image.new("RGB", (32, 32), "red").save(outside)
    existing = _refusal(image_server, str(outside))
    missing = _refusal(image_server, str(tmp_path / "no-such-file.png"))
    assert existing == missing and "not under a data root" in existing
    assert str(tmp_path) not in existing  # the message never repeats the path
    _still_serves(image_server, image_demo)


def test_dot_dot_and_symlink_escapes_are_refused(image_server, image_demo, tmp_path):
    outside = tmp_path / "secret.png"
    Image.new("RGB", (32, 32), "red").save(outside)
    root = _root(image_demo)
    climb = os.path.relpath(outside, root)
    assert climb.startswith("..")
    assert "not under a data root" in _refusal(image_server, f"{root}/{climb}")
    link = root / "escape.png"
    link.symlink_to(outside)
    try:
        assert "not under a data root" in _refusal(image_server, str(link))
    finally:
        link.unlink()
    _still_serves(image_server, image_demo)


def test_a_huge_png_is_refused_from_its_header_without_growing_the_server(image_server, image_demo):
    huge = _root(image_demo) / "huge.png"
    Image.new("L", (12000, 12000), 255).save(huge)  # small on disk, 144 Mpx decoded
    try:
        process = _server_process(image_server)
        before = process.memory_info().rss
        start = time.monotonic()
        by_path = _post(image_server, {"inputs": {"path": [str(huge)]}, "params": LABELS})
        upload = base64.b64encode(huge.read_bytes()).decode()
        by_upload = _post(image_server, {"inputs": {"data": [upload], "name": ["huge.png"]}, "params": LABELS})
        elapsed = time.monotonic() - start
        grown = process.memory_info().rss - before
    finally:
        huge.unlink()
    for reply in (by_path, by_upload):
        assert reply.status_code == 400, reply.text
        assert "12000x12000 px, over the limit" in reply.json()["message"]
    assert grown < 100 * 1024 * 1024, f"server grew by {grown / 2**20:.0f} MB"
    assert elapsed < 10, "refused from the header, not after decoding"  # lenient: two requests on a shared CPU
    _still_serves(image_server, image_demo)


def test_a_body_over_the_limit_gets_413(image_server, image_demo):
    body = b'{"inputs": {"text": ["' + b"x" * (MAX_BODY_MB * 1024 * 1024 + 1) + b'"]}}'
    reply = _post(image_server, data=body)
    assert reply.status_code == 413
    assert "over this server's limit" in reply.json()["message"] and len(reply.content) < 1024
    _still_serves(image_server, image_demo)


def test_too_many_rows_get_400_naming_the_limit(image_server, image_demo):
    reply = _post(image_server, {"inputs": {"path": [_good_file(image_demo)] * (MAX_ROWS + 1)}, "params": LABELS})
    assert reply.status_code == 400 and f"limit of {MAX_ROWS}" in reply.json()["message"]
    _still_serves(image_server, image_demo)


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"inputs": {"data": ["' + base64.b64encode(os.urandom(3_750_000)) + b'"]}, "params": {"labels": ["a"]}}',
         "not a decodable image"),
        (b'{"inputs": {"path": ["' + b"a" * 5_000_000 + b'"]}}', "longer than"),
        (b'{"inputs": {"text": ["' + b"z" * 5_000_000, "valid JSON"),
        (b'{"inputs": {"data": ["' + b"%" * 5_000_000 + b'"]}}', "not valid base64"),
    ],
)  # fmt: skip
def test_a_5_mb_bad_input_gets_an_error_under_1_kb(image_server, image_demo, body, message):
    assert len(body) >= 5_000_000
    reply = _post(image_server, data=body)
    assert reply.status_code == 400, reply.text[:500]
    assert len(reply.content) < 1024 and message in reply.json()["message"], reply.text[:500]
    _still_serves(image_server, image_demo)
