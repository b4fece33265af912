"""Contrastive losses: open_clip's ``ClipLoss`` and ``SigLipLoss``, selected by name, distributed-aware.

A domain declares its own (MedCLIP's soft targets, say) in ``Domain.losses()``. A loss whose module sets
``uses_captions = True`` is also given the batch's captions: ``loss(image_features, text_features, logit_scale,
[logit_bias,] captions=captions)``.
"""

from __future__ import annotations

from collections.abc import Callable

from open_clip.loss import ClipLoss, SigLipLoss
from torch import nn

from .errors import InputError

LossFactory = Callable[..., nn.Module]


def _clip_loss(rank: int, world_size: int, local_loss: bool, gather_with_grad: bool) -> nn.Module:
    return ClipLoss(
        local_loss=local_loss,
        gather_with_grad=gather_with_grad,
        cache_labels=True,
        rank=rank,
        world_size=world_size,
    )


def _siglip_loss(rank: int, world_size: int, local_loss: bool, gather_with_grad: bool) -> nn.Module:
    return SigLipLoss(rank=rank, world_size=world_size)  # exchanges text features between neighbouring ranks


CORE_LOSSES: dict[str, LossFactory] = {"clip": _clip_loss, "siglip": _siglip_loss}


def available_losses(domain: str | None = None) -> dict[str, LossFactory]:
    """The losses a spec of ``domain`` can name: core's, plus those the domain declares (``Domain.losses()``)."""
    if domain is None:
        return dict(CORE_LOSSES)
    from .domain import get_domain

    return {**CORE_LOSSES, **get_domain(domain).losses()}


def create_loss(
    name: str = "clip",
    domain: str | None = None,
    rank: int = 0,
    world_size: int = 1,
    local_loss: bool = False,
    gather_with_grad: bool = True,
) -> nn.Module:
    """The contrastive loss ``name`` (core's, or one ``domain`` declares) for ``world_size`` processes.

    Under torchrun, ``gather_with_grad=True`` lets gradients flow through the gathered features; with
    ``local_loss=True`` each rank scores only its own rows against the global batch (less memory, same mean loss).
    """
    losses = available_losses(domain)
    if name not in losses:
        raise InputError(f"unknown loss {name!r}; choose one of {sorted(losses)}")
    return losses[name](rank=rank, world_size=world_size, local_loss=local_loss, gather_with_grad=gather_with_grad)
