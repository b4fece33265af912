"""The 3D vision tower: a 2D open_clip tower on every slice (batched in chunks), then attention slice pooling.

RadCLIP's pooling: V = MHSA(I + PE(P)) over the slice embeddings I with learned slice-position encodings PE(P), then an
attention pool (a learned query scores each slice) to one embedding. Padded slices are masked out of both attentions
(``key_padding_mask``), so volumes of different depth share a batch. At initialisation the pool is the mean of the
slice embeddings and the self-attention adds nothing (zero output projection), so a 2D-trained tower starts the 3D
stage where it left off. Locking the tower (``lock_image``) freezes the 2D trunk and keeps the pooling trainable. An
imported 2D checkpoint gets the ``slice_mean`` tower: the same slicing, and the plain mean as its pooling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from clipzoo.core.spec import ModelSpec
from torch import nn

TOWER_NAME = "slice_attention"


class SliceAttentionPooling(nn.Module):
    """``[B, S, D]`` slice embeddings + ``[B, S]`` validity mask + ``[B, S]`` relative positions -> ``[B, D]``."""

    def __init__(self, dim: int, heads: int = 4, positions: int = 64):
        super().__init__()
        self.positions = positions
        self.position = nn.Embedding(positions, dim)
        nn.init.zeros_(self.position.weight)
        self.norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        nn.init.zeros_(self.attn.out_proj.weight)
        nn.init.zeros_(self.attn.out_proj.bias)
        self.pool_norm = nn.LayerNorm(dim)
        self.query = nn.Parameter(torch.zeros(dim))

    def forward(
        self, slices: torch.Tensor, mask: torch.Tensor, position: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The pooled embedding ``[B, D]`` and the pooling attention over slices ``[B, S]`` (0 on padding)."""
        idx = (position.clamp(0, 1) * (self.positions - 1)).round().long()
        x = slices + self.position(idx)
        h = self.norm(x)
        v, _ = self.attn(h, h, h, key_padding_mask=~mask, need_weights=False)
        x = x + v
        scores = self.pool_norm(x) @ self.query / math.sqrt(x.shape[-1])
        weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        return (weights.unsqueeze(-1) * x).sum(dim=1), weights


class MeanSlicePooling(nn.Module):
    """The pooling of an imported 2D checkpoint, which has no trained one: the plain mean of the L2-normalised
    embeddings of a volume's real slices (each slice counts once, whatever its norm, as open_clip averages normalised
    prompt embeddings); the weights returned are uniform over the real slices."""

    def forward(
        self, slices: torch.Tensor, mask: torch.Tensor, position: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        weights = mask.to(slices.dtype) / mask.sum(dim=-1, keepdim=True).clamp(min=1).to(slices.dtype)
        return (weights.unsqueeze(-1) * F.normalize(slices, dim=-1)).sum(dim=1), weights


class SliceTower(nn.Module):
    """``model.visual`` for 2D and 3D input: a ``[B, C, H, W]`` tensor goes through the 2D trunk; a collated volume
    batch ``{"volume": [B, S, C, H, W], "mask": [B, S], "position": [B, S]}`` through trunk + slice pooling
    (attention pooling, or ``pool`` given: :class:`MeanSlicePooling` for an imported 2D checkpoint)."""

    def __init__(
        self,
        trunk: nn.Module,
        dim: int,
        heads: int = 4,
        positions: int = 64,
        chunk_size: int = 64,
        pool: nn.Module | None = None,
    ):
        super().__init__()
        self.trunk = trunk
        self.pool = pool if pool is not None else SliceAttentionPooling(dim, heads, positions)
        self.chunk_size = chunk_size
        self.trunk_locked = False
        self.last_attention: torch.Tensor | None = None
        # see attention.recording: per encoded input, (weights, positions) of its real slices, or None for a 2D image
        self.record: list[tuple[torch.Tensor, torch.Tensor] | None] | None = None

    def encode_slices(self, slices: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W]`` -> ``[N, D]``, ``chunk_size`` slices per trunk call (memory bounded, few Python calls)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.trunk_locked):
            return torch.cat([self.trunk(c) for c in slices.split(self.chunk_size)])

    def forward_with_attention(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        volume, mask = batch["volume"], batch["mask"].bool()
        b, s = mask.shape
        position = batch.get("position")
        if position is None:
            position = torch.linspace(0, 1, s, device=volume.device).expand(b, s)
        feats = self.encode_slices(volume[mask])  # only the real slices
        slices = feats.new_zeros(b, s, feats.shape[-1])
        slices[mask] = feats.to(slices.dtype)
        return self.pool(slices, mask, position)

    def forward(self, x: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
        if isinstance(x, torch.Tensor):
            if self.record is not None:
                self.record.extend([None] * x.shape[0])
            return self.encode_slices(x)
        pooled, weights = self.forward_with_attention(x)
        self.last_attention = weights.detach()
        if self.record is not None:
            mask = x["mask"].bool().cpu()
            position = x.get("position")
            position = torch.linspace(0, 1, mask.shape[1]).expand(mask.shape) if position is None else position.cpu()
            for w, p, m in zip(weights.detach().float().cpu(), position.float(), mask, strict=True):
                self.record.append((w[m], p[m]))
        return pooled

    def lock(self, unlocked_groups: int = 0, freeze_bn_stats: bool = False) -> None:
        """Freeze the 2D trunk (RadCLIP's locked 2D tower); the slice pooling stays trainable."""
        if hasattr(self.trunk, "lock"):
            self.trunk.lock(unlocked_groups=unlocked_groups, freeze_bn_stats=freeze_bn_stats)
        else:
            for p in self.trunk.parameters():
                p.requires_grad = False
        self.trunk_locked = unlocked_groups == 0

    def train(self, mode: bool = True) -> SliceTower:
        super().train(mode)
        if self.trunk_locked:
            self.trunk.eval()
        return self

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        if hasattr(self.trunk, "set_grad_checkpointing"):
            self.trunk.set_grad_checkpointing(enable)


def slice_attention_tower(model: nn.Module, spec: ModelSpec) -> None:
    """Wrap the open_clip tower built from ``vision_cfg`` in :class:`SliceTower` (args from ``vision_tower_args``)."""
    args = spec.vision_tower_args
    model.visual = SliceTower(
        model.visual,
        dim=spec.embed_dim,
        heads=int(args.get("heads", 4)),
        positions=int(args.get("positions", 64)),
        chunk_size=int(args.get("chunk_size", 64)),
    )


MEAN_TOWER_NAME = "slice_mean"


def slice_mean_tower(model: nn.Module, spec: ModelSpec) -> None:
    """Wrap an imported 2D open_clip tower in :class:`SliceTower` with :class:`MeanSlicePooling` (no parameters, so
    the checkpoint's weights are all there is)."""
    chunk = int(spec.vision_tower_args.get("chunk_size", 64))
    model.visual = SliceTower(model.visual, dim=spec.embed_dim, chunk_size=chunk, pool=MeanSlicePooling())


def mean_pooling_spec(spec: ModelSpec, scan_defaults: dict[str, Any]) -> ModelSpec:
    """An imported 2D checkpoint's spec in medical: images and slices through its own tower, volumes mean-pooled."""
    note = (
        "volumes (DICOM series, NIfTI): each sampled axial slice through the imported 2D tower, then an untrained "
        "pooling stage, the plain mean of the L2-normalised slice embeddings"
    )
    spec = spec.with_input_notes(note, scan=dict(scan_defaults))
    return spec.replace(vision_tower=MEAN_TOWER_NAME, vision_tower_args={"chunk_size": 64})


def collate_scans(items: Sequence[Any]) -> torch.Tensor | dict[str, torch.Tensor]:
    """2D images only -> ``[B, C, H, W]``; any volume -> padded ``{"volume", "mask", "position"}`` (a 2D image is
    a one-slice volume at position 0.5). ``mask`` is True on real slices."""
    if all(isinstance(it, torch.Tensor) for it in items):
        return torch.stack(list(items))
    vols = [it if isinstance(it, dict) else {"volume": it[None], "position": torch.tensor([0.5])} for it in items]
    depth = max(v["volume"].shape[0] for v in vols)
    first = vols[0]["volume"]
    volume = first.new_zeros(len(vols), depth, *first.shape[1:])
    mask = torch.zeros(len(vols), depth, dtype=torch.bool)
    position = torch.zeros(len(vols), depth)
    for i, v in enumerate(vols):
        n = v["volume"].shape[0]
        volume[i, :n], mask[i, :n], position[i, :n] = v["volume"], True, v["position"]
    return {"volume": volume, "mask": mask, "position": position}
