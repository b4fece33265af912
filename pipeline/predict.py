"""The predict job: files and texts through a registered model's predict path (the pyfunc the server loads)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pandas as pd
from clipzoo.core.errors import InputError, ModelNotFoundError


def input_frame(files: Sequence[str], texts: Sequence[str]) -> pd.DataFrame:
    """One row per file (each with the one text, or its own when as many are given), or per text alone."""
    if not files:
        if not texts:
            raise InputError("nothing to predict: give files, --text, or both")
        return pd.DataFrame({"text": list(texts)})
    frame = pd.DataFrame({"path": [os.path.abspath(f) for f in files]})
    if texts:
        if len(texts) not in (1, len(files)):
            raise InputError(f"give one --text for all files or one per file ({len(files)}), not {len(texts)}")
        frame["text"] = list(texts) * (len(files) if len(texts) == 1 else 1)
    return frame


def _missing(path: str) -> bool:
    """Whether neither ``path`` nor the file before a ``#`` suffix (``FOLDER#KEY``, ``chip.tif#window=...``) exists."""
    head, sep, _ = path.rpartition("#")
    return not os.path.exists(path) and not (sep and os.path.exists(head))


def predict(ref: str, frame: pd.DataFrame, params: dict[str, Any]) -> list[dict[str, Any]]:
    """One answer row per input row (``labels``, ``scores``, ``error``, and what the task adds).

    Cheap checks come before the heavy imports (torch, open_clip, the domain's readers): when every input file is
    missing, each gets its error row at once, and an unknown model is reported from the registry alone."""
    paths = [p for p in frame["path"]] if "path" in frame.columns else []
    if paths and "text" not in frame.columns and all(_missing(p) for p in paths):
        return [{"input": p, "labels": [], "scores": [], "error": str(InputError("file not found", p)), "warnings": []}
                for p in paths]  # fmt: skip
    from clipzoo.registry.store_index import unregistered_locally

    unknown = unregistered_locally(ref)  # a local store read without MLflow: a typo fails in well under a second
    if unknown is not None:
        raise ModelNotFoundError(unknown)
    from clipzoo.registry.catalog import resolve

    resolve(ref)  # an unknown model or alias: its error before torch is imported
    from clipzoo.registry.loading import load_pyfunc

    return load_pyfunc(ref).predict(frame, params=params).to_dict("records")
