"""Where runs and models live: a local SQLite MLflow store under a per-user clipzoo folder by default.

``MLFLOW_TRACKING_URI`` overrides the store (a team's tracking server: ``http://host:5000``, see
``scripts/team_registry.sh``); ``CLIPZOO_HOME`` moves the folder (default ``~/.clipzoo``). MLflow's
telemetry is switched off. A local store is created under a file lock, so commands started together on a fresh
``CLIPZOO_HOME`` (two shells, or the ranks of torchrun) do not race to create its tables.
"""

from __future__ import annotations

import contextlib
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

from .home import clipzoo_home, tracking_uri
from .locks import file_lock, lock_folder, registry_lock

# A checkpoint of several hundred MB goes to a tracking server in one request: MLflow's default 120 s would cut it
# off on an ordinary link. A remote store gets these unless the user set them (seconds; retries back off).
REMOTE_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "900",
    "MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT": "900",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "7",
}

_READY: set[str] = set()  # stores this process has created or opened under the lock


def artifact_root() -> Path:
    return clipzoo_home() / "artifacts"


def configure() -> MlflowClient:
    """Point MLflow at the clipzoo store (tracking and registry alike) and return a client for it."""
    uri = tracking_uri()
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    folder = lock_folder(uri, clipzoo_home())
    if uri.startswith(("http://", "https://")):
        for key, value in REMOTE_HTTP_DEFAULTS.items():
            os.environ.setdefault(key, value)
    if uri in _READY or folder is None:
        return MlflowClient(tracking_uri=uri, registry_uri=uri)
    with file_lock(folder, "mlflow-store"):
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments(max_results=1)  # creates (or migrates) the tracking tables
        client.search_registered_models(max_results=1)  # and the registry's
    _READY.add(uri)
    return client


def store_lock(name: str) -> contextlib.AbstractContextManager:
    """A lock every command using this store shares: a file lock beside a local store, a registry lock on a server."""
    folder = lock_folder(tracking_uri(), clipzoo_home())
    return registry_lock(configure(), name) if folder is None else file_lock(folder, name)


def experiment_for(domain: str) -> str:
    """Create (once) and select the experiment of a domain, its artifacts under the clipzoo folder."""
    client = configure()
    name = f"clipzoo-{domain}"
    exp = client.get_experiment_by_name(name)
    if exp is None:
        location = None
        if tracking_uri().startswith("sqlite:"):
            location = (artifact_root() / name).as_uri()
        try:
            exp_id = client.create_experiment(name, artifact_location=location)
        except mlflow.exceptions.MlflowException:  # another command created it meanwhile
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
            exp_id = exp.experiment_id
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
