"""Fetch a registered version's artifact and verify it against the manifest the registry recorded for it.

Everything that loads a model for use (``clipzoo predict``, ``eval``, ``serve``) goes through here: the files are
downloaded into a scratch folder, every one is hashed and compared with the version's manifest tag, and only then is
the folder (that very copy, not a second download) loaded or served.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import mlflow
from clipzoo.core.errors import ChecksumError, ModelNotFoundError
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from .catalog import resolve
from .manifest import REGISTERED_MODEL_META, verify_manifest
from .scratch import new_scratch, scratch_of
from .tracking import configure

_RUN_URI = re.compile(r"^runs:/([0-9a-f]{32})/")
_MODELS_URI = re.compile(r"^models:/([^/@]+)(?:/(\d+)|@(.+))$")


def registered_version(ref: str, client: MlflowClient) -> ModelVersion:
    """The registered version a reference means (a run id or ``runs:/`` URI: the version registered from it)."""
    resolved = resolve(ref, client)
    uri = resolved.uri
    if resolved.name is not None:
        return client.get_model_version(resolved.name, resolved.version)
    match = _MODELS_URI.match(uri)
    if match:
        name, version, alias = match.groups()
        try:
            return client.get_model_version_by_alias(name, alias) if alias else client.get_model_version(name, version)
        except MlflowException as err:
            raise ModelNotFoundError(f"no registered version {uri}") from err
    match = _RUN_URI.match(uri)
    if match:
        found = client.search_model_versions(f"run_id='{match.group(1)}'")
        if found:
            return max(found, key=lambda v: int(v.version))
    raise ModelNotFoundError(f"{ref!r} is not a registered version; only registered versions are verified and loaded")


def fetch_verified(ref: str, client: MlflowClient | None = None) -> tuple[ModelVersion, Path]:
    """Download a version into a new scratch folder and verify it; returns the model's folder inside it, which the
    caller owns (``scratch.clean_stale`` removes it once this process has exited)."""
    client = client or configure()
    mv = registered_version(ref, client)
    folder = new_scratch("model")
    try:
        uri = f"models:/{mv.name}/{mv.version}"
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(folder)))
        (local / REGISTERED_MODEL_META).unlink(missing_ok=True)  # written by the download itself, not stored
        verify_manifest(local, dict(mv.tags), f"{mv.name} version {mv.version}")
    except MlflowException as err:
        shutil.rmtree(folder, ignore_errors=True)
        raise ModelNotFoundError(f"cannot download {mv.name} version {mv.version}: {err.message}") from err
    except ChecksumError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return mv, local


@contextlib.contextmanager
def verified_copy(ref: str, client: MlflowClient | None = None) -> Iterator[tuple[ModelVersion, Path]]:
    """``fetch_verified`` for the length of a ``with`` block."""
    mv, local = fetch_verified(ref, client)
    try:
        yield mv, local
    finally:
        shutil.rmtree(scratch_of(local), ignore_errors=True)
