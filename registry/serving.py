"""Serving with ``mlflow models serve``: the same pyfunc (and predict path) as the CLI, bound to loopback by default."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .catalog import resolve
from .tracking import configure, tracking_uri


def serve_command(ref: str, host: str = "127.0.0.1", port: int = 5000, workers: int = 1) -> list[str]:
    """The ``mlflow models serve`` command line for a model reference (``--env-manager local``: this environment)."""
    uri = resolve(ref, configure()).uri
    return [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        uri,
        "--env-manager",
        "local",
        "-h",
        host,
        "-p",
        str(port),
        "-w",
        str(workers),
    ]


def serve_env() -> dict[str, str]:
    """The server's environment: the clipzoo store, and this interpreter's folder first on PATH (for uvicorn)."""
    env = dict(os.environ)
    env["MLFLOW_TRACKING_URI"] = tracking_uri()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    return env
