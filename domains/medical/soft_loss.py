"""MedCLIP's soft-target contrastive loss: two reports with the same findings are not each other's negatives.

Targets come from the findings of the batch's reports (``report_labels``): ``T = softmax(cos(l_i, l_j) / tau)`` over
the label vectors, so pairs with identical findings get the same target weight as the matching pair itself and
unrelated pairs almost none. MedCLIP uses ``softmax(l_i . l_j)`` (tau = 1, unnormalised labels); the temperature here
keeps the targets sharp with few findings. The loss is the mean of the soft cross-entropies image->text and
text->image. Selected by ``"loss": "medclip_soft"`` in a model spec.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from clipzoo.core.errors import InputError
from torch import nn

from .report_labels import label_vector

LOSS_NAME = "medclip_soft"


def soft_targets(captions: Sequence[str], temperature: float = 0.1, labeler: Callable = label_vector) -> torch.Tensor:
    """``[B, B]`` row-stochastic targets from the cosine similarity of the reports' finding vectors."""
    labels = F.normalize(torch.tensor([labeler(c) for c in captions], dtype=torch.float32), dim=-1)
    return (labels @ labels.T / temperature).softmax(dim=-1)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -(targets * logits.log_softmax(dim=-1)).sum(dim=-1).mean()


class MedClipSoftLoss(nn.Module):
    """Soft-target CLIP loss on one process; the Trainer passes the batch's report strings as ``captions``."""

    uses_captions = True

    def __init__(self, temperature: float = 0.1):
        super().__init__()
        self.temperature = temperature

    def forward(
        self,
        image_features: torch.Tensor,
        text_features: torch.Tensor,
        logit_scale: torch.Tensor,
        logit_bias: torch.Tensor | None = None,
        *,
        captions: Sequence[str],
    ) -> torch.Tensor:
        if len(captions) != image_features.shape[0]:
            raise ValueError(f"{len(captions)} captions for {image_features.shape[0]} image features")
        logits = logit_scale * image_features @ text_features.T
        if logit_bias is not None:
            logits = logits + logit_bias
        targets = soft_targets(captions, self.temperature).to(logits.device, logits.dtype)
        return (soft_cross_entropy(logits, targets) + soft_cross_entropy(logits.T, targets.T)) / 2


def medclip_soft_loss(rank: int = 0, world_size: int = 1, local_loss: bool = False, gather_with_grad: bool = True):
    """The factory ``clipzoo.core.loss.register_loss`` takes: one process only (captions are not gathered)."""
    if world_size > 1:
        raise InputError(
            f"loss {LOSS_NAME!r} runs on one process only (it does not gather captions across ranks); "
            f"got world_size={world_size}: train with one process or use loss 'clip'"
        )
    return MedClipSoftLoss()
