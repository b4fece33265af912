"""The register job: a trained model, its card and a smoke prediction through the publish path (champion gate)."""

from __future__ import annotations

from typing import Any

from clipzoo.core.data import Manifest
from clipzoo.core.domain import Domain
from clipzoo.core.model import ClipModel
from clipzoo.registry.card import model_card
from clipzoo.registry.package import library_versions
from clipzoo.registry.publish import Published, publish
from clipzoo.registry.tracking import registered_name


def register(
    clip: ClipModel,
    domain: Domain,
    data_info: dict[str, Any],
    heldout: Manifest,
    metrics: dict[str, float],
    train_config: dict[str, Any],
    line: str | None = None,
) -> Published:
    """Inside the training run: log the model from code, check it answers on a held-out file, register it as
    ``clipzoo-<domain>`` (``clipzoo-<domain>-<line>`` for a named line) and move that line's ``champion`` when its
    primary metric is at least the champion's."""
    card = model_card(
        clip.spec,
        data_info,
        metrics,
        library_versions(),
        intended_use=domain.intended_use,
        limitations=domain.limitations,
        registered_as=registered_name(domain.name, line),
    )
    example = {"inputs": {"path": [str(heldout.file(0))]}, "params": {"labels": domain.example_labels()}}
    metadata = {"train_config": train_config, "data": data_info, "metrics": metrics}
    return publish(clip, card, metadata, domain.primary_metric, metrics, example, line=line)
