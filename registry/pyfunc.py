"""The MLflow pyfunc flavour of a clipzoo model. ``pyfunc_model.py`` beside it is the models-from-code file.

Input: a DataFrame with one row per input and a column ``path`` (a file the server can read) or ``data`` (the file's
bytes as base64, with ``name`` giving the file name and so its type). Params: ``labels``, ``templates``, ``task``
(``classify`` or ``embed``), ``top_k``, ``return_embeddings``. Output: one row per input with ``labels``, ``scores``,
``embedding`` (when asked) and ``error`` (null, or why that input was skipped).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import pandas as pd
from clipzoo.core.errors import ClipzooError, InputError
from clipzoo.core.predict import InputItem, Predictor
from mlflow.exceptions import MlflowException
from mlflow.models.signature import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel
from mlflow.types.schema import ColSpec, DataType, ParamSchema, ParamSpec, Schema

MODEL_DIR_ARTIFACT = "model_dir"

SIGNATURE = ModelSignature(
    inputs=Schema(
        [
            ColSpec(DataType.string, "path", required=False),
            ColSpec(DataType.string, "data", required=False),
            ColSpec(DataType.string, "name", required=False),
        ]
    ),
    params=ParamSchema(
        [
            ParamSpec("labels", DataType.string, [], shape=(-1,)),
            ParamSpec("templates", DataType.string, [], shape=(-1,)),
            ParamSpec("task", DataType.string, "classify"),
            ParamSpec("top_k", DataType.long, 5),
            ParamSpec("return_embeddings", DataType.boolean, False),
        ]
    ),
)


def items_from_frame(frame: pd.DataFrame) -> list[InputItem]:
    """Rows of ``path`` or base64 ``data`` (+ ``name``) to prediction inputs; a malformed row is an InputError."""
    if frame is None or len(frame) == 0:
        raise InputError("the request holds no inputs: send rows with a 'path' or base64 'data' column")
    if "path" not in frame.columns and "data" not in frame.columns:
        raise InputError(f"each input needs a 'path' or base64 'data' column; got columns {list(frame.columns)}")
    items = []
    for i, row in enumerate(frame.to_dict("records")):
        path, data = row.get("path"), row.get("data")
        if isinstance(data, str) and data:
            try:
                raw = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError) as err:
                raise InputError(f"input {i}: 'data' is not valid base64: {err}") from err
            items.append(InputItem(name=str(row.get("name") or f"input-{i}"), data=raw))
        elif isinstance(path, str) and path:
            items.append(InputItem(name=path))
        else:
            raise InputError(f"input {i} has neither 'path' nor 'data'")
    return items


def run_prediction(predictor: Predictor, frame: pd.DataFrame, params: dict[str, Any] | None) -> pd.DataFrame:
    """The shared predict path (CLI and server): payload in, one result row per input out."""
    params = dict(params or {})
    results = predictor.predict(
        items_from_frame(frame),
        labels=list(params.get("labels") or []),
        task=str(params.get("task") or "classify"),
        top_k=int(params.get("top_k") or 5),
        templates=list(params.get("templates") or []) or None,
        return_embeddings=bool(params.get("return_embeddings", False)),
    )
    if all(r.error for r in results):
        raise InputError("no input could be read: " + "; ".join(str(r.error) for r in results))
    return pd.DataFrame([r.to_dict() for r in results], dtype=object)  # object: a missing error stays None


class ClipzooPyfunc(PythonModel):
    """Loads the packaged model (checksums verified) once, then answers predictions through ``Predictor``."""

    def load_context(self, context: Any) -> None:
        from clipzoo.core.domain import get_domain

        from .package import load_package

        clip = load_package(context.artifacts[MODEL_DIR_ARTIFACT])
        self.predictor = Predictor(clip, get_domain(clip.spec.domain))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        try:
            return run_prediction(self.predictor, model_input, params)
        except ClipzooError as err:
            raise MlflowException(str(err), error_code=INVALID_PARAMETER_VALUE) from err
