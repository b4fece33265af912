"""Contrastive losses: open_clip's ``ClipLoss`` and ``SigLipLoss``, selected by name, distributed-aware."""

from __future__ import annotations

from open_clip.loss import ClipLoss, SigLipLoss
from torch import nn

from .errors import InputError

LOSSES = ("clip", "siglip")


def create_loss(
    name: str = "clip",
    rank: int = 0,
    world_size: int = 1,
    local_loss: bool = False,
    gather_with_grad: bool = True,
) -> nn.Module:
    """The contrastive loss ``name`` for ``world_size`` processes.

    Under torchrun, ``gather_with_grad=True`` lets gradients flow through the gathered features; with
    ``local_loss=True`` each rank scores only its own rows against the global batch (less memory, same mean loss).
    SigLIP exchanges text features between neighbouring ranks instead of gathering them.
    """
    if name == "clip":
        return ClipLoss(
            local_loss=local_loss,
            gather_with_grad=gather_with_grad,
            cache_labels=True,
            rank=rank,
            world_size=world_size,
        )
    if name == "siglip":
        return SigLipLoss(rank=rank, world_size=world_size)
    raise InputError(f"unknown loss {name!r}; choose one of {LOSSES}")
