"""A real `clipzoo serve` (``mlflow models serve``) process on 127.0.0.1 for serving tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(
    model: str,
    log_name: str,
    *options: str,
    startup_s: float = 300,
    prefix: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """Serve a registered model (``options``: more ``clipzoo serve`` flags; ``prefix``: a command the server runs
    under; ``env``: variables to change); yields its base URL once ``/ping`` answers, fails the test with the
    server's log if it exits or does not come up, and stops it afterwards."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **(env or {})}
    log_path = Path(env["CLIPZOO_HOME"]) / log_name
    cmd = [*prefix, sys.executable, "-m", "clipzoo.cli.main", "serve", model, "--port", str(port), *options]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + startup_s
        while time.time() < deadline and proc.poll() is None:
            try:
                if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        if proc.poll() is not None or time.time() >= deadline:
            proc.kill()
            pytest.fail("server did not come up:\n" + log_path.read_text()[-4000:])
        try:
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)
