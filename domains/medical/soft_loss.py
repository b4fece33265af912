"""MedCLIP's soft-target contrastive loss: two reports with the same findings are not each other's negatives.

Targets come from the findings of the batch's reports (``report_labels``): ``T = softmax(cos(l_i, l_j) / tau)`` over
the label vectors, so pairs with identical findings get the same target weight as the matching pair itself and
unrelated pairs almost none. MedCLIP uses ``softmax(l_i . l_j)`` (tau = 1, unnormalised labels); the temperature here
keeps the targets sharp with few findings. The loss is the mean of the soft cross-entropies image->text and
text->image. Selected by ``"loss": "medclip_soft"`` in a model spec; distributed like open_clip's ``ClipLoss``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from open_clip.loss import gather_features
from torch import nn

from .report_labels import label_vector

LOSS_NAME = "medclip_soft"


def soft_targets(captions: Sequence[str], temperature: float = 0.1, labeler: Callable = label_vector) -> torch.Tensor:
    """``[B, B]`` row-stochastic targets from the cosine similarity of the reports' finding vectors."""
    labels = F.normalize(torch.tensor([labeler(c) for c in captions], dtype=torch.float32), dim=-1)
    return (labels @ labels.T / temperature).softmax(dim=-1)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -(targets * logits.log_softmax(dim=-1)).sum(dim=-1).mean()


def gather_captions(captions: Sequence[str], world_size: int) -> list[str]:
    """Every rank's captions in rank order (the order ``gather_features`` stacks the features in)."""
    if world_size == 1:
        return list(captions)
    gathered: list[list[str] | None] = [None] * world_size
    dist.all_gather_object(gathered, list(captions))
    return [c for part in gathered for c in part]


class MedClipSoftLoss(nn.Module):
    """Soft-target CLIP loss; the Trainer passes the batch's report strings as ``captions``.

    Under torchrun the features are gathered as open_clip's ``ClipLoss`` gathers them and the captions with
    ``all_gather_object``, so the targets span the global batch: the loss and (DDP-averaged) gradients equal one
    process's on the whole batch. ``local_loss`` scores only this rank's rows against the global batch.
    """

    uses_captions = True

    def __init__(
        self,
        temperature: float = 0.1,
        rank: int = 0,
        world_size: int = 1,
        local_loss: bool = False,
        gather_with_grad: bool = True,
    ):
        super().__init__()
        self.temperature = temperature
        self.rank, self.world_size = rank, world_size
        self.local_loss, self.gather_with_grad = local_loss, gather_with_grad

    def forward(
        self,
        image_features: torch.Tensor,
        text_features: torch.Tensor,
        logit_scale: torch.Tensor,
        logit_bias: torch.Tensor | None = None,
        *,
        captions: Sequence[str],
    ) -> torch.Tensor:
        local = image_features.shape[0]
        if len(captions) != local:
            raise ValueError(f"{len(captions)} captions for {local} image features")
        targets = soft_targets(gather_captions(captions, self.world_size), self.temperature)
        targets = targets.to(image_features.device, image_features.dtype)
        targets_per_text = targets.T
        all_image, all_text = image_features, text_features
        if self.world_size > 1:
            all_image, all_text = gather_features(
                image_features, text_features, local_loss=self.local_loss, gather_with_grad=self.gather_with_grad,
                rank=self.rank, world_size=self.world_size,
            )  # fmt: skip
        if self.world_size > 1 and self.local_loss:
            rows = slice(self.rank * local, (self.rank + 1) * local)
            per_image = logit_scale * image_features @ all_text.T
            per_text = logit_scale * text_features @ all_image.T
            targets, targets_per_text = targets[rows], targets_per_text[rows]
        else:
            per_image = logit_scale * all_image @ all_text.T
            per_text = per_image.T
        if logit_bias is not None:
            per_image, per_text = per_image + logit_bias, per_text + logit_bias
        return (soft_cross_entropy(per_image, targets) + soft_cross_entropy(per_text, targets_per_text)) / 2


def medclip_soft_loss(
    rank: int = 0, world_size: int = 1, local_loss: bool = False, gather_with_grad: bool = True
) -> MedClipSoftLoss:
    """The loss factory ``MedicalDomain.losses()`` declares (``"loss": "medclip_soft"`` in a model spec)."""
    return MedClipSoftLoss(rank=rank, world_size=world_size, local_loss=local_loss, gather_with_grad=gather_with_grad)
