"""CLIP4Cir's Combiner (Baldrati et al., 2022) and the ``fashion`` vision tower that carries it.

The Combiner fuses a reference-image embedding and a modification-text embedding into one query embedding:
projected features are mixed by an MLP, and a learned dynamic scalar lambda blends the raw features,
``out = MLP([t, i]) + lambda * text + (1 - lambda) * image``. It is trained in its own stage, CLIP frozen.

The tower keeps open_clip's ViT as ``model.visual`` and adds the Combiner as ``model.combiner``, so its weights travel
in the same safetensors file as the rest of the model. Until stage 2 has trained it, its ``trained`` buffer is 0 and
composed queries fall back to the element-wise sum of image and text embeddings (CLIP4Cir's baseline).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from clipzoo.core.spec import ModelSpec
from torch import nn

TOWER_NAME = "fashion"


class Combiner(nn.Module):
    """Image + modification text -> query embedding (L2-normalised), with a dynamic mix lambda."""

    def __init__(self, feature_dim: int, projection_dim: int, hidden_dim: int, dropout: float = 0.5):
        super().__init__()
        self.text_projection = nn.Linear(feature_dim, projection_dim)
        self.image_projection = nn.Linear(feature_dim, projection_dim)
        self.combiner_layer = nn.Linear(projection_dim * 2, hidden_dim)
        self.output_layer = nn.Linear(hidden_dim, feature_dim)
        self.dynamic_scalar = nn.Sequential(
            nn.Linear(projection_dim * 2, hidden_dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden_dim, 1)
        )
        self.dropout = nn.Dropout(dropout)
        self.dropout_mix = nn.Dropout(dropout)
        self.register_buffer("trained", torch.zeros((), dtype=torch.uint8))

    @property
    def is_trained(self) -> bool:
        return bool(self.trained.item())

    def mix(self, image: torch.Tensor, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The combined (unnormalised) features and lambda, for L2-normalised inputs ``[B, D]``."""
        text_proj = self.dropout(F.relu(self.text_projection(text)))
        image_proj = self.dropout(F.relu(self.image_projection(image)))
        raw = torch.cat([text_proj, image_proj], dim=-1)
        combined = self.dropout_mix(F.relu(self.combiner_layer(raw)))
        lam = torch.sigmoid(self.dynamic_scalar(raw))
        return self.output_layer(combined) + lam * text + (1 - lam) * image, lam.squeeze(-1)

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.mix(image, text)[0], dim=-1)


def sum_query(image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """CLIP4Cir's baseline: the normalised element-wise sum of normalised image and text features."""
    return F.normalize(F.normalize(image, dim=-1) + F.normalize(text, dim=-1), dim=-1)


def combiner_sizes(spec: ModelSpec) -> dict[str, int | float]:
    """Combiner sizes from ``vision_tower_args`` (CLIP4Cir uses 4x and 8x the embedding size; we default lower)."""
    args = spec.vision_tower_args
    dim = spec.embed_dim
    return {
        "projection_dim": int(args.get("combiner_projection_dim", 2 * dim)),
        "hidden_dim": int(args.get("combiner_hidden_dim", 4 * dim)),
        "dropout": float(args.get("combiner_dropout", 0.5)),
    }


def attach_combiner(model: nn.Module, spec: ModelSpec) -> None:
    """Keep open_clip's vision tower; add the Combiner, frozen until its own training stage."""
    model.combiner = Combiner(spec.embed_dim, **combiner_sizes(spec))
    model.combiner.requires_grad_(False)


def get_combiner(model: nn.Module) -> Combiner | None:
    combiner = getattr(model, "combiner", None)
    return combiner if isinstance(combiner, Combiner) else None


def uses_combiner(model: nn.Module) -> bool:
    """Whether composed queries go through a trained Combiner (else the element-wise sum)."""
    combiner = get_combiner(model)
    return combiner is not None and combiner.is_trained


@torch.no_grad()
def compose(model: nn.Module, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """Composed query embeddings ``[B, D]`` (CPU, L2-normalised) for L2-normalised image and modification-text
    features: the model's trained Combiner, else the element-wise sum."""
    if not uses_combiner(model):
        return sum_query(image.float().cpu(), text.float().cpu())
    combiner = get_combiner(model).eval()
    device = combiner.trained.device
    return combiner(image.float().to(device), text.float().to(device)).float().cpu()
