"""SignCLIP's pose encoder as a clipzoo vision tower: frame MLP, transformer with padding masks, masked mean pooling."""

from __future__ import annotations

from typing import Any

import torch
from clipzoo.core.spec import ModelSpec
from torch import nn

from .layouts import get_layout

TOWER_NAME = "pose_transformer"


class PoseSequenceEncoder(nn.Module):
    """[B, T, D] frames + [B, T] mask -> [B, embed_dim].

    Each frame's D = 3 x points values go through an MLP to ``width``, get a learned position embedding, pass a
    pre-norm transformer that ignores padded frames (``src_key_padding_mask``), and are mean-pooled over real frames
    only, so a sequence encodes the same alone or padded in a batch.
    """

    def __init__(
        self,
        input_dim: int,
        embed_dim: int,
        width: int = 256,
        layers: int = 2,
        heads: int = 4,
        max_frames: int = 256,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.input_dim, self.max_frames = input_dim, max_frames
        self.frame_mlp = nn.Sequential(nn.Linear(input_dim, width), nn.GELU(), nn.Linear(width, width))
        self.positional_embedding = nn.Parameter(torch.randn(max_frames, width) * 0.02)
        layer = nn.TransformerEncoderLayer(
            width, heads, 4 * width, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Linear(width, embed_dim, bias=False)

    def forward(self, batch: dict[str, torch.Tensor] | torch.Tensor) -> torch.Tensor:
        if isinstance(batch, dict):
            poses, mask = batch["poses"], batch["mask"]
        else:
            poses = batch
            mask = torch.ones(poses.shape[:2], dtype=torch.bool, device=poses.device)
        frames = poses.shape[1]
        if frames > self.max_frames:
            raise ValueError(f"{frames} frames exceed the encoder's max_frames={self.max_frames}")
        if poses.shape[-1] != self.input_dim:
            raise ValueError(f"frames have {poses.shape[-1]} values, the encoder expects {self.input_dim}")
        x = self.frame_mlp(poses) + self.positional_embedding[:frames]
        x = self.transformer(x, src_key_padding_mask=~mask)
        x = self.ln_post(x)
        weights = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return self.proj(pooled)

    def lock(self, unlocked_groups: int = 0, freeze_bn_stats: bool = False) -> None:
        """Freeze the tower (open_clip's ``lock_image_tower`` calls this)."""
        for p in self.parameters():
            p.requires_grad = False

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Not supported; the sequences are short."""


def encoder_kwargs(spec: ModelSpec) -> dict[str, Any]:
    args = dict(spec.vision_tower_args)
    layout = get_layout(spec.extra.get("layout", "signclip203"))
    args.setdefault("max_frames", int(spec.extra.get("max_frames", 256)))
    args["input_dim"] = layout.frame_dim
    args["embed_dim"] = spec.embed_dim
    return args


def pose_transformer_tower(model: nn.Module, spec: ModelSpec) -> None:
    """Replace the open_clip model's visual tower by the pose-sequence encoder."""
    model.visual = PoseSequenceEncoder(**encoder_kwargs(spec))
