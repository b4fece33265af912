"""The register job: a model (trained, or imported as published), its card and a smoke prediction through the publish
path (champion gate). Training and importing both register through here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from clipzoo.core.data import Manifest
from clipzoo.core.domain import Domain
from clipzoo.core.evaluate import encode_manifest
from clipzoo.core.model import ClipModel
from clipzoo.core.operating_points import DEFAULT_SENSITIVITY
from clipzoo.core.trust import CALIBRATION, trust_record
from clipzoo.registry.card import model_card
from clipzoo.registry.package import library_versions, sha256_file
from clipzoo.registry.publish import Published, publish
from clipzoo.registry.tracking import registered_name

from .calibrate import calibrate_version
from .embedding_stats import heldout_stats

# An imported checkpoint's card: the domain's own limitations describe its demo training data, not these weights.
IMPORTED_LIMITATIONS = (
    "The published weights, unchanged: what they were trained on and validated for is in the source's model card and "
    "paper (linked above). Validate on your own data before relying on it."
)


def smoke_example(domain: Domain, heldout: Manifest | None) -> dict[str, Any]:
    """What the logged model must answer before it is registered: a held-out file with the domain's labels, or
    (no held-out data, an import) a text's embedding."""
    if heldout is not None:
        return {"inputs": {"path": [str(heldout.file(0))]}, "params": {"labels": domain.example_labels()}}
    return {"inputs": {"text": [f"an example from the {domain.name} domain"]}, "params": {"task": "embed"}}


def register(
    clip: ClipModel,
    domain: Domain,
    data_info: dict[str, Any],
    heldout: Manifest | None,
    metrics: dict[str, float],
    metadata: dict[str, Any],
    line: str | None = None,
    source: dict[str, Any] | None = None,
    text_dir: Path | None = None,
    example: dict[str, Any] | None = None,
    primary_metric: str | None = None,
    features: torch.Tensor | None = None,
    sensitivity: float = DEFAULT_SENSITIVITY,
) -> Published:
    """Inside the model's run: log the model from code, check it answers ``smoke_example``, register it as
    ``clipzoo-<domain>`` (``clipzoo-<domain>-<line>`` for a named line) and move that line's ``champion`` when its
    primary metric is at least the champion's. Without ``heldout`` (an import) the version carries no metric.
    ``source``: where an imported checkpoint came from, for its card; ``text_dir``: HF text files to package;
    ``example``: the smoke prediction (default ``smoke_example``); ``primary_metric``: the line's champion metric
    (default the domain's). With ``heldout``, the version's temperatures and operating points (at ``sensitivity``)
    are fitted on it first (``calibrate_version``; ``features``: its rows' embeddings, when already encoded)."""
    # an adapted version without held-out data keeps its source's zero-shot calibration (the same weights)
    inherited = (
        " (the zero-shot ones above are its source's: the same weights)" if clip.spec.extra.get(CALIBRATION) else ""
    )
    notes = [f"no held-out data: no temperature or operating point fitted for this version{inherited}"]
    if heldout is not None:
        features = encode_manifest(clip, domain, heldout) if features is None else features
        notes = calibrate_version(clip, domain, heldout, features, sensitivity).notes
    clip.ood = heldout_stats(domain, heldout, features) or clip.ood  # an adapted version keeps its source's
    card = model_card(
        clip.spec,
        data_info,
        metrics,
        library_versions(),
        intended_use=domain.intended_use,
        limitations=domain.limitations if source is None else IMPORTED_LIMITATIONS,
        registered_as=registered_name(domain.name, line),
        source=source,
        trust={**trust_record(clip), "notes": notes},
    )
    return publish(
        clip,
        card,
        metadata,
        primary_metric or domain.primary_metric,
        metrics,
        example or smoke_example(domain, heldout),
        line=line,
        text_dir=text_dir,
        evaluated=heldout is not None,
        data_sha256=sha256_file(heldout.source) if heldout is not None else None,
    )
