"""The Trainer: contrastive training with AMP on CUDA, accumulation, cosine schedule, DDP and exact resume."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn
from torch.utils.data import DataLoader

from .batch import move_to, split_batch
from .checkpoint import load_checkpoint_file, rng_state, save_atomic, set_rng_state
from .data import ManifestDataset, collate_with
from .distributed import DistEnv, mean_across_ranks, wrap_ddp
from .domain import Domain
from .errors import InputError
from .loss import create_loss
from .model import ClipModel
from .progress import Progress
from .sampler import ResumableSampler
from .text_cache import LockedTextCache

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "last.pt"


@dataclass
class TrainConfig:
    """Optimisation settings; ``batch_size`` is the global batch of one optimizer step, across ranks and chunks."""

    epochs: int = 1
    batch_size: int = 64
    accum_steps: int = 1
    lr: float = 5e-4
    text_lr: float | None = None  # for the text tower's pretrained layers when they train (None: lr)
    weight_decay: float = 0.1
    warmup_steps: int = 10
    seed: int = 0
    num_workers: int = 0
    checkpoint_every: int = 50
    max_steps: int | None = None
    local_loss: bool = False
    gather_with_grad: bool = True
    precision: str = "auto"
    cache_locked_text: bool = True
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-stage overrides, by stage name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def for_stage(self, name: str) -> TrainConfig:
        """The settings of stage ``name``: these, with the stage's overrides applied."""
        overrides = self.stages.get(name, {})
        unknown = sorted(set(overrides) - {f.name for f in fields(self)} - {"stages"})
        if unknown:
            raise InputError(f"stage {name!r}: unknown training setting(s) {unknown}")
        return replace(self, **{k: v for k, v in overrides.items() if k != "stages"}, stages={})


class TrainCallback(Protocol):
    def on_step(self, step: int, metrics: dict[str, float]) -> None: ...

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None: ...


@dataclass
class TrainState:
    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    step_losses: list[float] = field(default_factory=list)
    epoch_losses: list[float] = field(default_factory=list)


class ContrastivePair(nn.Module):
    """One forward for both towers, so DDP sees every trainable parameter used in ``forward``.

    Text comes either as tokens (trainable tower) or as cached trunk features of a locked tower (through its head).
    """

    def __init__(self, clip: ClipModel, text_head: nn.Module | None = None):
        super().__init__()
        self.model = clip.model
        self.text_head = text_head

    def forward(self, inputs: Any, text: torch.Tensor, owners: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """``owners[j]`` is the caption that text row ``j`` is a piece of, when captions come in pieces (a long
        report's sentences): their embeddings are averaged per caption and renormalised."""
        image_features = self.model.encode_image(inputs, normalize=True)
        if self.text_head is None:
            text_features = self.model.encode_text(text, normalize=True)
        else:
            text_features = nn.functional.normalize(self.text_head(text), dim=-1)
        if owners is not None:
            pooled = text_features.new_zeros(int(owners.max()) + 1, text_features.shape[1])
            text_features = nn.functional.normalize(pooled.index_add(0, owners, text_features), dim=-1)
        bias = self.model.logit_bias
        return image_features, text_features, self.model.logit_scale.exp(), bias


TEXT_TRUNK_PREFIXES = ("text.transformer.", "transformer.", "token_embedding.", "positional_embedding", "ln_final.")


def parameter_groups(model: nn.Module, weight_decay: float, text_lr: float | None = None) -> list[dict[str, Any]]:
    """open_clip's rule: no weight decay on gains, biases, norms and the logit scale. With ``text_lr``, the text
    tower's pretrained trunk (an HF encoder, or open_clip's own text transformer) gets its own learning rate, as
    fine-tuning a pretrained layer at a from-scratch tower's rate wipes out what it knows."""
    no_decay, decay, text_no_decay, text_decay = [], [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        exclude = p.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name
        if text_lr is not None and name.startswith(TEXT_TRUNK_PREFIXES):
            (text_no_decay if exclude else text_decay).append(p)
        else:
            (no_decay if exclude else decay).append(p)
    groups = [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]
    if text_lr is not None:  # after the two usual groups, so checkpoints without text_lr resume unchanged
        groups += [
            {"params": text_no_decay, "weight_decay": 0.0, "lr": text_lr},
            {"params": text_decay, "weight_decay": weight_decay, "lr": text_lr},
        ]
    return groups


def cosine_with_warmup(warmup: int, total: int) -> Any:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


class Trainer:
    """Trains a ``ClipModel`` on a ``ManifestDataset``, checkpointing to ``output_dir/last.pt``.

    A run killed at any point (SIGKILL included) and started again with the same arguments resumes from the last
    checkpoint and ends with the same weights as an uninterrupted run: data order, per-sample augmentation seeds,
    RNG, optimizer and scheduler state are all restored.
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
        self.clip, self.domain, self.dataset, self.config = clip, domain, dataset, config
        self.output_dir = Path(output_dir)
        self.env = env or DistEnv()
        self.callbacks = list(callbacks)
        self.state = TrainState()
        self.device = self.env.device
        if config.batch_size % (self.env.world_size * config.accum_steps):
            raise ValueError(
                f"batch size {config.batch_size} must divide into {self.env.world_size} ranks x "
                f"{config.accum_steps} accumulation chunks"
            )
        self.sampler = ResumableSampler(
            len(dataset),
            config.batch_size,
            seed=config.seed,
            rank=self.env.rank,
            world_size=self.env.world_size,
        )
        self.use_amp = config.precision == "amp" or (config.precision == "auto" and self.device.type == "cuda")
        self.splits_captions = type(domain).caption_chunks is not Domain.caption_chunks
        self.text_cache = (
            LockedTextCache(clip.model, clip.tokenize) if clip.spec.text_frozen and config.cache_locked_text else None
        )
        clip.model.to(self.device)
        self.pair = ContrastivePair(clip, self.text_cache.head if self.text_cache else None)
        self.ddp_pair = wrap_ddp(self.pair, self.env)
        self.optimizer = torch.optim.AdamW(
            parameter_groups(clip.model, config.weight_decay, config.text_lr), lr=config.lr
        )
        self.total_steps = self._total_steps()
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, cosine_with_warmup(config.warmup_steps, self.total_steps)
        )
        self.loss_fn = create_loss(
            clip.spec.loss,
            domain=clip.spec.domain,
            rank=self.env.rank,
            world_size=self.env.world_size,
            local_loss=config.local_loss,
            gather_with_grad=config.gather_with_grad,
        )

    @property
    def checkpoint_path(self) -> Path:
        return self.output_dir / CHECKPOINT_NAME

    def _total_steps(self) -> int:
        total = self.config.epochs * self.sampler.steps_per_epoch
        return min(total, self.config.max_steps) if self.config.max_steps else total

    # -- checkpoints -------------------------------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        if not self.env.is_main:
            return
        save_atomic(
            {
                "model": self.clip.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "rng": rng_state(),
                "state": asdict(self.state),
                "config": self.config.to_dict(),
                "spec": self.clip.spec.to_dict(),
            },
            self.checkpoint_path,
        )

    def resume(self) -> bool:
        """Restore the last checkpoint if there is one; returns whether training resumes."""
        if not self.checkpoint_path.is_file():
            return False
        ckpt = load_checkpoint_file(self.checkpoint_path)
        self.clip.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        set_rng_state(ckpt["rng"])
        self.state = TrainState(**ckpt["state"])
        log.info(
            "resumed from %s at epoch %d step %d",
            self.checkpoint_path,
            self.state.epoch,
            self.state.global_step,
        )
        return True

    # -- one step --------------------------------------------------------------------------------------------
    def _text(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The text tower's input for ``captions`` (tokens, or cached trunk features of a locked tower), one row per
        caption, or per piece with each piece's caption index when the domain splits captions."""
        pieces, owners = captions, None
        if self.splits_captions:
            chunks = [self.domain.caption_chunks(self.clip, c) for c in captions]
            if any(len(c) > 1 for c in chunks):
                pieces = [piece for c in chunks for piece in c]
                owners = torch.tensor([i for i, c in enumerate(chunks) for _ in c], device=self.device)
        if self.text_cache is not None:
            return self.text_cache.trunk_features(pieces, self.device), owners
        return self.clip.tokenize(pieces).to(self.device), owners

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.use_amp:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _loss(self, image_features, text_features, logit_scale, logit_bias, captions: list[str]) -> torch.Tensor:
        extra = {"captions": captions} if getattr(self.loss_fn, "uses_captions", False) else {}
        if logit_bias is not None:
            return self.loss_fn(image_features, text_features, logit_scale, logit_bias, **extra)
        return self.loss_fn(image_features, text_features, logit_scale, **extra)

    def train_step(self, inputs: Any, captions: list[str]) -> float:
        """One optimizer step over a local batch; with accumulation, the loss is that of the whole batch
        (features of the other chunks are recomputed without gradient, as open_clip does; unlike open_clip, the
        logit scale gets its gradient once, not once per chunk)."""
        inputs = move_to(inputs, self.device)
        self.optimizer.zero_grad(set_to_none=True)
        accum = self.config.accum_steps
        if accum == 1:
            with self._autocast():
                loss = self._loss(*self.ddp_pair(inputs, *self._text(captions)), captions)
            loss.backward()
        else:
            in_chunks = split_batch(inputs, accum)
            sizes = [len(part) for part in torch.arange(len(captions)).chunk(accum)]  # as the inputs split
            starts = [sum(sizes[:j]) for j in range(len(sizes))]
            text_chunks = [self._text(captions[a : a + n]) for a, n in zip(starts, sizes, strict=True)]
            with torch.no_grad(), self._autocast():
                feats = [self.pair(i, *t)[:2] for i, t in zip(in_chunks, text_chunks, strict=True)]
            for j in range(accum):
                sync = (
                    contextlib.nullcontext() if j == accum - 1 or not self.env.distributed else self.ddp_pair.no_sync()
                )
                with sync, self._autocast():
                    img_j, txt_j, scale, bias = self.ddp_pair(in_chunks[j], *text_chunks[j])
                    images = torch.cat([f[0] for f in feats[:j]] + [img_j] + [f[0] for f in feats[j + 1 :]])
                    texts = torch.cat([f[1] for f in feats[:j]] + [txt_j] + [f[1] for f in feats[j + 1 :]])
                    if j > 0:  # the scale and bias enter every chunk's loss: let only one chunk carry their gradient
                        scale = scale.detach()
                        bias = None if bias is None else bias.detach()
                    loss = self._loss(images, texts, scale, bias, captions)
                    loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        with torch.no_grad():
            self.clip.model.logit_scale.clamp_(0, math.log(100))
        return float(mean_across_ranks(loss.detach().float(), self.env))

    # -- the loop --------------------------------------------------------------------------------------------
    def _loader(self) -> DataLoader:
        self.sampler.set_position(self.state.epoch, self.state.step_in_epoch)
        return DataLoader(
            self.dataset,
            batch_size=self.sampler.local_batch_size,
            sampler=self.sampler,
            num_workers=self.config.num_workers,
            collate_fn=collate_with(self.domain),
            drop_last=True,
            persistent_workers=False,
        )

    def _set_train_mode(self) -> None:
        self.clip.model.train()
        text = getattr(self.clip.model, "text", None)
        if self.clip.spec.text_frozen and text is not None and hasattr(text, "transformer"):
            text.transformer.eval()  # a locked tower runs without dropout (LiT)
        if self.clip.spec.lock_image:
            self.clip.model.visual.eval()

    def fit(self, resume: bool = True) -> TrainState:
        if resume:
            self.resume()
        self._set_train_mode()
        while self.state.epoch < self.config.epochs and self.state.global_step < self.total_steps:
            loader = self._loader()
            progress = Progress(loader, total=len(loader), desc=f"epoch {self.state.epoch + 1}/{self.config.epochs}")
            for batch in progress:
                loss = self.train_step(batch["input"], batch["caption"])
                self.state.global_step += 1
                self.state.step_in_epoch += 1
                self.state.step_losses.append(loss)
                progress.set(loss=loss, lr=self.scheduler.get_last_lr()[0])
                for cb in self.callbacks:
                    cb.on_step(self.state.global_step, {"train_loss": loss, "lr": self.scheduler.get_last_lr()[0]})
                if self.state.global_step % self.config.checkpoint_every == 0:
                    self.save_checkpoint()
                if self.state.global_step >= self.total_steps:
                    break
            done_epoch = self.state.step_in_epoch >= self.sampler.steps_per_epoch
            if done_epoch:
                this_epoch = self.state.step_losses[-self.sampler.steps_per_epoch :]
                mean = sum(this_epoch) / len(this_epoch)
                self.state.epoch_losses.append(mean)
                for cb in self.callbacks:
                    cb.on_epoch_end(self.state.epoch, {"epoch_loss": mean})
            if done_epoch:
                self.state.epoch += 1
                self.state.step_in_epoch = 0
            self.save_checkpoint()
        self.clip.model.eval()
        return self.state
