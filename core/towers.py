"""A registry of vision towers beyond open_clip's: each adapts a freshly created open_clip model to a spec.

``"open_clip"`` keeps the model's own tower (a ViT, a ModifiedResNet or a timm trunk from ``vision_cfg``). Domains
register theirs (slice pooling, an N-band patch embedding, a pose-sequence transformer) under their own names; core
only looks them up.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .errors import InputError
from .spec import ModelSpec

TowerAdapter = Callable[[nn.Module, ModelSpec], None]

_VISION_TOWERS: dict[str, TowerAdapter] = {}


def register_vision_tower(name: str) -> Callable[[TowerAdapter], TowerAdapter]:
    """Register ``fn(model, spec)``, which replaces or wraps ``model.visual`` in place."""

    def decorator(fn: TowerAdapter) -> TowerAdapter:
        _VISION_TOWERS[name] = fn
        return fn

    return decorator


@register_vision_tower("open_clip")
def _keep_open_clip_tower(model: nn.Module, spec: ModelSpec) -> None:
    """open_clip's own tower, built from ``vision_cfg``."""


def vision_tower(name: str) -> TowerAdapter:
    if name not in _VISION_TOWERS:
        raise InputError(f"unknown vision tower {name!r}; registered: {sorted(_VISION_TOWERS)}")
    return _VISION_TOWERS[name]


def registered_vision_towers() -> list[str]:
    return sorted(_VISION_TOWERS)
