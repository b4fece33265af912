"""The MLflow pyfunc flavour of a clipzoo model. ``pyfunc_model.py`` beside it is the models-from-code file.

Input: a DataFrame with one row per input and a column ``path`` (a file the server can read) or ``data`` (the file's
bytes as base64, with ``name`` giving the file name and so its type); a ``text`` column adds a query text to a row, or
is the whole input of a row without a file. Params: ``labels``, ``templates``, ``task`` (``classify``, ``embed``, or
one of the domain's own tasks such as ``search``), ``top_k``, ``return_embeddings``, ``catalogue`` (a folder the task
reads), ``options`` (a JSON object of task settings). Output: one row per input with ``labels``, ``scores``,
``embedding`` (when asked), ``error`` (null, or why that input was skipped), ``warnings`` (what reading the input
noticed: irregular slice spacing, zero-filled bands...) and whatever the task adds; a classification row says whether
its scores are calibrated (``calibrated``, ``temperature``) and, for a version with operating points, calls each
finding at its threshold (``findings``; ``clipzoo.core.trust``).

Served, the model reads server-side ``path`` inputs only under the server's data roots and enforces its limits
(``limits.ServeLimits``, from the environment); loaded with ``model_config={"local_files": True}`` (the CLI, the
smoke prediction at registration) it reads any local file and has no limits.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import pandas as pd
from clipzoo.core.errors import ClipzooError, InputError
from clipzoo.core.guards import guarded
from clipzoo.core.predict import InputItem, Predictor
from mlflow.exceptions import MlflowException
from mlflow.models.signature import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel
from mlflow.types.schema import ColSpec, DataType, ParamSchema, ParamSpec, Schema

from .limits import LOCAL, MAX_NAME_CHARS, MAX_TEXT_CHARS, ServeLimits

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


def items_from_frame(frame: pd.DataFrame, limits: ServeLimits = LOCAL) -> list[InputItem]:
    """Rows of ``path`` or base64 ``data`` (+ ``name``), each with an optional ``text``, or a ``text`` alone, to
    prediction inputs; a malformed or refused row is an InputError naming the row (never repeating its content)."""
    if frame is None or len(frame) == 0:
        raise InputError("the request holds no inputs: send rows with a 'path', base64 'data' or 'text' column")
    if len(frame) > limits.max_rows:
        raise InputError(f"the request has {len(frame)} inputs, over this server's limit of {limits.max_rows}")
    if not {"path", "data", "text"} & set(frame.columns):
        columns = [str(c)[:40] for c in list(frame.columns)[:10]]
        raise InputError(f"each input needs a 'path', base64 'data' or 'text' column; got columns {columns}")
    items = []
    for i, row in enumerate(frame.to_dict("records")):
        path, data, text = row.get("path"), row.get("data"), row.get("text")
        text = text if isinstance(text, str) and text else None
        name = row.get("name")
        if not limits.local_files:
            if text is not None and len(text) > MAX_TEXT_CHARS:
                raise InputError(f"input {i}: 'text' is longer than {MAX_TEXT_CHARS} characters")
            if isinstance(name, str) and len(name) > MAX_NAME_CHARS:
                raise InputError(f"input {i}: 'name' is longer than {MAX_NAME_CHARS} characters")
        if data == "":
            raise InputError(f"input {i} ({row.get('name') or 'unnamed'}): 'data' is empty (0 bytes)")
        if isinstance(data, str):
            try:
                raw = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError) as err:
                raise InputError(f"input {i}: 'data' is not valid base64") from err
            items.append(InputItem(name=str(row.get("name") or f"input-{i}"), data=raw, text=text))
        elif isinstance(path, str) and path:
            items.append(InputItem(name=limits.readable_path(path, f"input {i}: 'path'"), text=text))
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


def _label_list(params: dict[str, Any], key: str, limits: ServeLimits) -> list[str]:
    values = list(params.get(key) or [])
    if len(values) > limits.max_labels:
        raise InputError(f"'{key}' has {len(values)} entries, over this server's limit of {limits.max_labels}")
    if not limits.local_files and any(len(str(v)) > MAX_NAME_CHARS for v in values):
        raise InputError(f"an entry of '{key}' is longer than {MAX_NAME_CHARS} characters")
    return values


def run_prediction(
    predictor: Predictor, frame: pd.DataFrame, params: dict[str, Any] | None, limits: ServeLimits = LOCAL
) -> pd.DataFrame:
    """The shared predict path (CLI and server): payload in, one result row per input out, within ``limits``."""
    params = dict(params or {})
    items = items_from_frame(frame, limits)
    labels = _label_list(params, "labels", limits)
    templates = _label_list(params, "templates", limits) or None
    catalogue = str(params.get("catalogue") or "") or None
    if catalogue is not None:
        catalogue = limits.readable_path(catalogue, "'catalogue'")
    options = parse_options(params.get("options"))
    if not limits.local_files:  # a task setting naming a folder (a heatmap folder, say) is a server-side path too
        for key, value in options.items():
            if key.endswith(("_dir", "_path")) and isinstance(value, str) and value:
                options[key] = limits.readable_path(value, f"option {key[:40]!r}")
    with guarded(timeout_s=limits.timeout_s or None, max_pixels=limits.max_pixels):
        results = predictor.predict(
            items,
            labels=labels,
            task=str(params.get("task") or "classify"),
            top_k=int(5 if params.get("top_k") is None else params["top_k"]),
            templates=templates,
            return_embeddings=bool(params.get("return_embeddings", False)),
            catalogue=catalogue,
            options=options,
        )
    if all(r.error for r in results) and not limits.local_files:
        # served: a request nothing of which could be answered is the client's error (HTTP 400, its first reason);
        # locally (the CLI) every row comes back, errors included, and the CLI exits 2
        more = f" (and {len(results) - 1} more)" if len(results) > 1 else ""
        raise InputError(f"no input could be read: {results[0].error}{more}")
    rows = [r.to_dict() for r in results]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    # object dtype, every key in every row: a missing error or task field stays None, never NaN
    return pd.DataFrame([{key: row.get(key) for key in columns} for row in rows], columns=columns, dtype=object)


class ClipzooPyfunc(PythonModel):
    """Loads the packaged model (checksums verified) once, then answers predictions through ``Predictor``, within
    the server's limits (or none, with ``model_config={"local_files": True}``)."""

    def load_context(self, context: Any) -> None:
        from clipzoo.core.domain import get_domain

        from .package import load_package

        config = getattr(context, "model_config", None) or {}
        self.limits = LOCAL if config.get("local_files") else ServeLimits.from_env()
        clip = load_package(context.artifacts[MODEL_DIR_ARTIFACT])
        self.predictor = Predictor(clip, get_domain(clip.spec.domain))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        try:
            return run_prediction(self.predictor, model_input, params, self.limits)
        except ClipzooError as err:
            raise MlflowException(str(err), error_code=INVALID_PARAMETER_VALUE) from err
