"""Load a registered model back as a ``ClipModel`` (for evaluation) or as the served pyfunc (for prediction)."""

from __future__ import annotations

from pathlib import Path

import mlflow
from clipzoo.core.errors import ModelNotFoundError
from clipzoo.core.model import ClipModel
from mlflow.exceptions import MlflowException

from .catalog import resolve
from .package import load_package
from .pyfunc import MODEL_DIR_ARTIFACT
from .tracking import configure


def load_pyfunc(ref: str) -> mlflow.pyfunc.PyFuncModel:
    """The served model itself, for the CLI: the same object and predict path as ``mlflow models serve``."""
    uri = resolve(ref, configure()).uri
    try:
        return mlflow.pyfunc.load_model(uri)
    except MlflowException as err:
        raise ModelNotFoundError(f"cannot load {ref!r} ({uri}): {err.message}") from err


def load_clip(ref: str) -> ClipModel:
    """Download a model's artifacts, verify their checksums and rebuild the ``ClipModel``."""
    uri = resolve(ref, configure()).uri
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except MlflowException as err:
        raise ModelNotFoundError(f"cannot download {ref!r} ({uri}): {err.message}") from err
    folders = list(local.glob(f"artifacts/{'*'}")) if not (local / "spec.json").is_file() else [local]
    folders = [f for f in folders if (f / "spec.json").is_file()]
    if not folders:
        raise ModelNotFoundError(f"{uri} holds no clipzoo model folder ({MODEL_DIR_ARTIFACT})")
    return load_package(folders[0])
