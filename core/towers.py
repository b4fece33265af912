"""Vision towers beyond open_clip's: each adapts a freshly created open_clip model to a spec.

``"open_clip"`` keeps the model's own tower (a ViT, a ModifiedResNet or a timm trunk from ``vision_cfg``). A domain
declares its own (slice pooling, an N-band patch embedding, a pose-sequence transformer) in
``Domain.vision_towers()``; core looks the spec's tower up in the spec's domain, by name.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .errors import InputError
from .spec import ModelSpec

TowerAdapter = Callable[[nn.Module, ModelSpec], None]
OPEN_CLIP = "open_clip"


def _keep_open_clip_tower(model: nn.Module, spec: ModelSpec) -> None:
    """open_clip's own tower, built from ``vision_cfg``."""


def vision_tower(spec: ModelSpec) -> TowerAdapter:
    """The adapter of ``spec.vision_tower``: open_clip's own, or one the spec's domain declares."""
    if spec.vision_tower == OPEN_CLIP:
        return _keep_open_clip_tower
    from .domain import get_domain

    towers = get_domain(spec.domain).vision_towers()
    if spec.vision_tower not in towers:
        known = sorted([OPEN_CLIP, *towers])
        raise InputError(f"unknown vision tower {spec.vision_tower!r} for domain {spec.domain!r}; known: {known}")
    return towers[spec.vision_tower]
