"""The MLflow pyfunc flavour of a clipzoo model. ``pyfunc_model.py`` beside it is the models-from-code file.

Input: a DataFrame with one row per input and a column ``path`` (a file the server can read) or ``data`` (the file's
bytes as base64, with ``name`` giving the file name and so its type); a ``text`` column adds a query text to a row, or
is the whole input of a row without a file. Params: ``labels``, ``templates``, ``task`` (``classify``, ``embed``, or
one of the domain's own tasks such as ``search``), ``top_k``, ``return_embeddings``, ``catalogue`` (a folder the task
reads), ``options`` (a JSON object of task settings). Output: one row per input with ``labels``, ``scores``,
``embedding`` (when asked), ``error`` (null, or why that input was skipped) and whatever the task adds.
"""

from __future__ import annotations

import base64
import binascii
import json
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
            ColSpec(DataType.string, "text", required=False),
        ]
    ),
    params=ParamSchema(
        [
            ParamSpec("labels", DataType.string, [], shape=(-1,)),
            ParamSpec("templates", DataType.string, [], shape=(-1,)),
            ParamSpec("task", DataType.string, "classify"),
            ParamSpec("top_k", DataType.long, 5),
            ParamSpec("return_embeddings", DataType.boolean, False),
            ParamSpec("catalogue", DataType.string, ""),
            ParamSpec("options", DataType.string, "{}"),
        ]
    ),
)


def items_from_frame(frame: pd.DataFrame) -> list[InputItem]:
    """Rows of ``path`` or base64 ``data`` (+ ``name``), each with an optional ``text``, or a ``text`` alone, to
    prediction inputs; a malformed row is an InputError."""
    if frame is None or len(frame) == 0:
        raise InputError("the request holds no inputs: send rows with a 'path', base64 'data' or 'text' column")
    if not {"path", "data", "text"} & set(frame.columns):
        raise InputError(
            f"each input needs a 'path', base64 'data' or 'text' column; got columns {list(frame.columns)}"
        )
    items = []
    for i, row in enumerate(frame.to_dict("records")):
        path, data, text = row.get("path"), row.get("data"), row.get("text")
        text = text if isinstance(text, str) and text else None
        if data == "":
            raise InputError(f"input {i} ({row.get('name') or 'unnamed'}): 'data' is empty (0 bytes)")
        if isinstance(data, str):
            try:
                raw = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError) as err:
                raise InputError(f"input {i}: 'data' is not valid base64: {err}") from err
            items.append(InputItem(name=str(row.get("name") or f"input-{i}"), data=raw, text=text))
        elif isinstance(path, str) and path:
            items.append(InputItem(name=path, text=text))
        elif text is not None:
            items.append(InputItem.from_text(text))
        else:
            raise InputError(f"input {i} has none of 'path', 'data' or 'text'")
    return items


def parse_options(raw: Any) -> dict[str, Any]:
    """The ``options`` param: a JSON object (as text) or a dict."""
    if isinstance(raw, dict):
        return raw
    if not raw:
        return {}
    try:
        options = json.loads(raw)
    except json.JSONDecodeError as err:
        raise InputError(f"'options' is not valid JSON: {err}") from err
    if not isinstance(options, dict):
        raise InputError(f"'options' must be a JSON object, got {type(options).__name__}")
    return options


def run_prediction(predictor: Predictor, frame: pd.DataFrame, params: dict[str, Any] | None) -> pd.DataFrame:
    """The shared predict path (CLI and server): payload in, one result row per input out."""
    params = dict(params or {})
    results = predictor.predict(
        items_from_frame(frame),
        labels=list(params.get("labels") or []),
        task=str(params.get("task") or "classify"),
        top_k=int(5 if params.get("top_k") is None else params["top_k"]),
        templates=list(params.get("templates") or []) or None,
        return_embeddings=bool(params.get("return_embeddings", False)),
        catalogue=str(params.get("catalogue") or "") or None,
        options=parse_options(params.get("options")),
    )
    if all(r.error for r in results):
        raise InputError("no input could be read: " + "; ".join(str(r.error) for r in results))
    rows = [r.to_dict() for r in results]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    # object dtype, every key in every row: a missing error or task field stays None, never NaN
    return pd.DataFrame([{key: row.get(key) for key in columns} for row in rows], columns=columns, dtype=object)


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
