"""Serving: MLflow's scoring server (uvicorn + FastAPI) on a verified copy of a registered version, bound to loopback
by default, reading server-side files only under the operator's data roots, within request limits.

The version is downloaded and verified against the registry's manifest *before* the server process starts; the
server then loads that very copy (kept under ``CLIPZOO_HOME/tmp`` while the server's process lives).
"""

from __future__ import annotations

import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .limits import ENV_MODEL_DIR, ServeLimits
from .tracking import tracking_uri
from .verified import fetch_verified

NO_AUTH_WARNING = (
    "warning: serving on {host}, beyond this machine: the MLflow scoring server has no authentication; "
    "put it behind a proxy that adds it"
)


@dataclass(frozen=True)
class ServePlan:
    command: list[str]
    env: dict[str, str]
    model_dir: Path
    warning: str | None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_command(host: str = "127.0.0.1", port: int = 5000, workers: int = 1) -> list[str]:
    """uvicorn running ``server_app`` (MLflow's scoring server with the clipzoo guards) from this environment."""
    return [
        sys.executable, "-m", "uvicorn", "--host", host, "--port", str(port), "--workers", str(workers),
        "--no-server-header", "clipzoo.registry.server_app:app",
    ]  # fmt: skip


def serve_env(model_dir: Path, limits: ServeLimits) -> dict[str, str]:
    """The server's environment: the verified model folder, the limits, the clipzoo store, this interpreter first."""
    env = dict(os.environ)
    env.update(limits.to_env())
    env[ENV_MODEL_DIR] = str(model_dir)
    env["MLFLOW_TRACKING_URI"] = tracking_uri()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    return env


def plan_serving(
    ref: str, limits: ServeLimits, host: str = "127.0.0.1", port: int = 5000, workers: int = 1
) -> ServePlan:
    """Verify the version, then say how to start its server (the caller execs it, keeping the verified copy)."""
    _, model_dir = fetch_verified(ref)
    warning = None if is_loopback(host) else NO_AUTH_WARNING.format(host=host)
    return ServePlan(serve_command(host, port, workers), serve_env(model_dir, limits), model_dir, warning)
