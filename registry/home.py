"""Where the clipzoo folder and the MLflow store are, known without importing MLflow (a fast CLI error path reads it).

``MLFLOW_TRACKING_URI`` names the store (a team's server: ``http://host:5000``); by default it is a SQLite file in
``CLIPZOO_HOME`` (default ``~/.clipzoo``).
"""

from __future__ import annotations

import os
from pathlib import Path


def clipzoo_home() -> Path:
    home = Path(os.environ.get("CLIPZOO_HOME", Path.home() / ".clipzoo")).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{clipzoo_home() / 'mlflow.db'}"
