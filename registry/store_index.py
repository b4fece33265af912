"""The registered model names of a local SQLite store, read with ``sqlite3`` alone: ``clipzoo predict`` with a name
that is not registered fails in well under a second instead of after importing MLflow (several seconds).

Only a certain "not registered" is answered here; anything else (a tracking server, a run id or URI, a store this
read does not understand) is left to MLflow's client, which has the last word for every model that may exist.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from .home import tracking_uri

LINE_TAG = "clipzoo.line"  # on a registered model: its line ("" for the domain's default line)
REGISTRY_LOCK_PREFIX = "clipzoo.lock."  # a registered model that is a held lock (``locks.registry_lock``)
RUN_ID = re.compile(r"^[0-9a-f]{32}$")  # a run id, as a model reference


def is_registry_lock(name: str) -> bool:
    """A registered model that is a held lock, not a model (listings leave it out)."""
    return name.startswith(REGISTRY_LOCK_PREFIX)


def not_registered(name: str, known: list[str]) -> str:
    """The message for a name no registered model has."""
    return f"no registered model {name!r}; registered models: {', '.join(known) or 'none'}"


def split_name_ref(ref: str) -> tuple[str, str | None, str | None]:
    """``name``, ``name@alias`` or ``name/version`` as (name, alias, version)."""
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return name, alias, None
    if "/" in ref:
        name, version = ref.rsplit("/", 1)
        return name, None, version
    return ref, None, None


def model_name(ref: str) -> str | None:
    """The registered-model part of a reference (``name``, ``name@alias``, ``name/version``); None for run ids and
    URIs."""
    if ref.startswith(("runs:/", "models:/")) or RUN_ID.match(ref):
        return None
    return split_name_ref(ref)[0]


def unregistered_locally(ref: str) -> str | None:
    """The "no registered model" message when ``ref`` surely names none in the local SQLite store; else None."""
    name, uri = model_name(ref), tracking_uri()
    if name is None or not uri.startswith("sqlite:///"):
        return None
    path = Path(uri[len("sqlite:///") :])
    if not path.is_file():
        return None  # a store not created yet: MLflow creates it and answers
    try:
        with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT name, workspace FROM registered_models").fetchall()
            lines = db.execute("SELECT value FROM registered_model_tags WHERE key = ?", (LINE_TAG,)).fetchall()
    except sqlite3.Error:
        return None  # another schema (an older or newer MLflow): ask MLflow
    if any(workspace != "default" for _, workspace in rows):
        return None
    names = sorted(n for n, _ in rows if not is_registry_lock(n))
    if name in names or f"clipzoo-{name}" in names or any(value == name for (value,) in lines):
        return None
    return not_registered(name, names)
