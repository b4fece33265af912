"""Load a registered model back as a ``ClipModel`` (for evaluation) or as the served pyfunc (for prediction).

Both load a verified copy (``verified.py``): a file that differs from the registry's manifest refuses the load.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import mlflow
from clipzoo.core.errors import ModelNotFoundError
from clipzoo.core.model import ClipModel
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from packaging.requirements import InvalidRequirement, Requirement

from .package import SPEC, load_package
from .verified import verified_copy

log = logging.getLogger(__name__)

# The CLI predicts on the user's own files: any local path, no server limits.
LOCAL_CONFIG = {"local_files": True}


def load_pyfunc(ref: str) -> mlflow.pyfunc.PyFuncModel:
    """The served model itself, for the CLI: the same object and predict path as the server, on local files."""
    return load_pyfunc_version(ref)[0]


def requirement_mismatches(folder: Path) -> list[str]:
    """The pinned requirements of a logged model (``requirements.txt``) this environment does not satisfy, read from
    the installed distributions' metadata: MLflow's own check imports every package to read its version (seconds
    at each start), this one imports none."""
    path = folder / "requirements.txt"
    if not path.is_file():
        return []
    found = []
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue  # a URL or a path: nothing to compare
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            installed = version(req.name)
        except PackageNotFoundError:
            found.append(f"{req.name} (required: {req.specifier or 'any'}, installed: none)")
            continue
        if req.specifier and not req.specifier.contains(installed, prereleases=True):
            found.append(f"{req.name} (required: {req.specifier}, installed: {installed})")
    return found


def load_pyfunc_version(ref: str) -> tuple[mlflow.pyfunc.PyFuncModel, ModelVersion]:
    """``load_pyfunc`` and the registered version it is."""
    with verified_copy(ref) as (mv, folder):
        mismatches = requirement_mismatches(folder)
        if mismatches:
            log.warning("%s version %s was logged with other packages than this environment has: %s", mv.name,
                        mv.version, "; ".join(mismatches))  # fmt: skip
        try:
            model = mlflow.pyfunc.load_model(str(folder), model_config=LOCAL_CONFIG, suppress_warnings=True)
            return model, mv
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
