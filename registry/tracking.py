"""Where runs and models live: a local SQLite MLflow store under a per-user clipzoo folder by default.

``MLFLOW_TRACKING_URI`` overrides the store; ``CLIPZOO_HOME`` moves the folder (default ``~/.clipzoo``). MLflow's
telemetry is switched off.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_ENABLE_DB_SDK", "false")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import mlflow
from clipzoo.core.errors import InputError
from mlflow.tracking import MlflowClient


def clipzoo_home() -> Path:
    home = Path(os.environ.get("CLIPZOO_HOME", Path.home() / ".clipzoo")).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{clipzoo_home() / 'mlflow.db'}"


def artifact_root() -> Path:
    return clipzoo_home() / "artifacts"


def configure() -> MlflowClient:
    """Point MLflow at the clipzoo store (tracking and registry alike) and return a client for it."""
    uri = tracking_uri()
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_for(domain: str) -> str:
    """Create (once) and select the experiment of a domain, its artifacts under the clipzoo folder."""
    client = configure()
    name = f"clipzoo-{domain}"
    exp = client.get_experiment_by_name(name)
    if exp is None:
        location = None
        if tracking_uri().startswith("sqlite:"):
            location = (artifact_root() / name).as_uri()
        exp_id = client.create_experiment(name, artifact_location=location)
    else:
        exp_id = exp.experiment_id
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


_LINE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def check_line(line: str) -> str:
    """A model line's name: lower-case letters, digits, ``.``, ``_`` and ``-`` (it becomes part of a registered
    model name and of a URL)."""
    if not _LINE.match(line):
        raise InputError(f"model line name {line!r}: use lower-case letters, digits, '.', '_' and '-'")
    return line


def registered_name(domain: str, line: str | None = None) -> str:
    """``clipzoo-<domain>`` for a domain's default line, ``clipzoo-<domain>-<line>`` for a named line (an imported
    checkpoint such as ``clipzoo-medical-biomedclip``, or ``clipzoo train --name``): each line has its own versions
    and its own champion, and the domain stays readable in every name."""
    return f"clipzoo-{domain}" if line is None else f"clipzoo-{domain}-{check_line(line)}"
