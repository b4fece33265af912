"""The catalogue job: embed a manifest's items with a registered model into a searchable folder (``--task search``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clipzoo.core.data import Manifest
from clipzoo.core.domain import get_domain
from clipzoo.registry.catalog import resolve
from clipzoo.registry.loading import load_clip


def build_catalogue(ref: str, manifest: str | Path, out: str | Path, options: dict[str, Any]) -> str:
    """Pin ``ref`` to one version (a catalogue is valid only for the model that made it), embed and index."""
    model = resolve(ref)
    clip = load_clip(model.uri)
    label = f"{model.name}/{model.version}" if model.version else model.uri
    rows = Manifest.read(manifest, require_caption=False)
    return get_domain(clip.spec.domain).build_catalogue(clip, rows, Path(out), label, options)
