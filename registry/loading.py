"""Load a registered model back as a ``ClipModel`` (for evaluation) or as the served pyfunc (for prediction).

Both load a verified copy (``verified.py``): a file that differs from the registry's manifest refuses the load.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import mlflow
from clipzoo.core.errors import ModelNotFoundError
from clipzoo.core.model import ClipModel
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from .package import SPEC, load_package
from .verified import verified_copy

# The CLI predicts on the user's own files: any local path, no server limits.
LOCAL_CONFIG = {"local_files": True}


def load_pyfunc(ref: str) -> mlflow.pyfunc.PyFuncModel:
    """The served model itself, for the CLI: the same object and predict path as the server, on local files."""
    return load_pyfunc_version(ref)[0]


def load_pyfunc_version(ref: str) -> tuple[mlflow.pyfunc.PyFuncModel, ModelVersion]:
    """``load_pyfunc`` and the registered version it is."""
    with verified_copy(ref) as (mv, folder):
        try:
            return mlflow.pyfunc.load_model(str(folder), model_config=LOCAL_CONFIG), mv
        except MlflowException as err:
            raise ModelNotFoundError(f"cannot load {mv.name} version {mv.version}: {err.message}") from err


@contextlib.contextmanager
def registered_package(ref: str) -> Iterator[tuple[ModelVersion, Path]]:
    """A verified copy of a version's clipzoo model folder, for the length of a ``with`` block."""
    with verified_copy(ref) as (mv, folder):
        packages = [p for p in sorted((folder / "artifacts").glob("*")) if (p / SPEC).is_file()]
        if not packages:
            raise ModelNotFoundError(f"{mv.name} version {mv.version} holds no clipzoo model folder")
        yield mv, packages[0]


def load_clip(ref: str) -> ClipModel:
    """Verify a version's artifact and rebuild its ``ClipModel``."""
    with registered_package(ref) as (_, package):
        return load_package(package)
