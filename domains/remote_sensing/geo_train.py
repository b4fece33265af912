"""GeoCLOSP training: core's contrastive step plus a location <-> image contrastive term (open_clip ``ClipLoss``).

``GeoTrainer`` is core's ``Trainer`` with one change: when the model has a location encoder, every forward also
embeds each row's chip centre (``batch["lonlat"]``, from the raster's georeferencing) and scores it against the
row's image embedding with its own temperature; ``loss = CLOSP loss + loss_weight * location loss``. Image and
location encoders both learn from the term (as SatCLIP/GeoCLOSP). The term is computed in the pair's forward, so
DDP sees the location parameters; with gradient accumulation it is contrasted within each chunk and averaged.

The domain's ``trainer_class()`` returns ``GeoTrainer``, so ``clipzoo train remote_sensing`` and the demo use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from clipzoo.core.data import ManifestDataset
from clipzoo.core.distributed import DistEnv, wrap_ddp
from clipzoo.core.domain import Domain
from clipzoo.core.loss import create_loss
from clipzoo.core.model import ClipModel
from clipzoo.core.train import ContrastivePair, TrainCallback, TrainConfig, Trainer
from torch import nn

from .location import LocationEncoder, location_encoder_of

LOCATION_LOSS_METRIC = "train_location_loss"


class GeoPair(ContrastivePair):
    """Core's pair, which also leaves the batch's location <-> image loss in ``location_term``."""

    def __init__(self, clip: ClipModel, text_head: nn.Module | None, location: LocationEncoder, loss: nn.Module):
        super().__init__(clip, text_head)
        self.location = location
        self.location_loss = loss
        self.location_term: torch.Tensor | None = None

    def forward(self, inputs: Any, text: torch.Tensor, owners: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        image_features, text_features, scale, bias = super().forward(inputs, text, owners)
        location_features = self.location(inputs["lonlat"]).to(image_features.dtype)
        self.location_term = self.location_loss(image_features, location_features, self.location.scale())
        return image_features, text_features, scale, bias


class GeoTrainer(Trainer):
    """``Trainer`` adding the GeoCLOSP location term when the model has a location encoder (else unchanged).

    ``location_losses`` holds the location term of every step run in this process.
    """

    def __init__(
        self,
        clip: ClipModel,
        domain: Domain,
        dataset: ManifestDataset,
        config: TrainConfig,
        output_dir: str | Path,
        env: DistEnv | None = None,
        callbacks: Sequence[TrainCallback] = (),
    ):
        super().__init__(clip, domain, dataset, config, output_dir, env=env, callbacks=callbacks)
        self.location = location_encoder_of(clip.model)
        self.location_losses: list[float] = []
        self._last_location: float = float("nan")
        if self.location is not None:
            loss = create_loss(
                "clip",
                rank=self.env.rank,
                world_size=self.env.world_size,
                local_loss=config.local_loss,
                gather_with_grad=config.gather_with_grad,
            )
            self.pair = GeoPair(clip, self.pair.text_head, self.location, loss)
            self.ddp_pair = wrap_ddp(self.pair, self.env)

    def _loss(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        loss = super()._loss(*args, **kwargs)
        if self.location is None:
            return loss
        term = self.pair.location_term
        self._last_location = float(term.detach())
        return loss + self.location.config.loss_weight * term / self.config.accum_steps

    def train_step(self, inputs: Any, captions: list[str]) -> float:
        loss = super().train_step(inputs, captions)
        if self.location is not None:
            self.location_losses.append(self._last_location)
            for cb in self.callbacks:
                cb.on_step(self.state.global_step + 1, {LOCATION_LOSS_METRIC: self._last_location})
        return loss
