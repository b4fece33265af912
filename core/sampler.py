"""A resumable, rank-aware sampler: the order of an epoch depends on (seed, epoch) alone, so a run resumed from a
checkpoint sees exactly the batches an uninterrupted run would, and each sample's augmentation has its own seed."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A seed for one sample's augmentation in one epoch, independent of workers and batch position."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


class ResumableSampler(Sampler[tuple[int, int]]):
    """Yields ``(index, sample_seed)`` for this rank's share of each full global batch, from ``start_step`` on."""

    def __init__(self, num_samples: int, global_batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1):
        if global_batch_size % world_size:
            raise ValueError(f"global batch {global_batch_size} is not divisible by {world_size} processes")
        if num_samples < global_batch_size:
            raise ValueError(f"{num_samples} samples cannot fill one global batch of {global_batch_size}")
        self.num_samples = num_samples
        self.global_batch_size = global_batch_size
        self.local_batch_size = global_batch_size // world_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0
        self.start_step = 0

    @property
    def steps_per_epoch(self) -> int:
        return self.num_samples // self.global_batch_size

    def set_position(self, epoch: int, step: int) -> None:
        self.epoch, self.start_step = epoch, step

    def __len__(self) -> int:
        return (self.steps_per_epoch - self.start_step) * self.local_batch_size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = torch.randperm(
            self.num_samples, generator=torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        )
        lo = self.rank * self.local_batch_size
        for step in range(self.start_step, self.steps_per_epoch):
            batch = order[step * self.global_batch_size : (step + 1) * self.global_batch_size]
            for index in batch[lo : lo + self.local_batch_size].tolist():
                yield index, sample_seed(self.seed, self.epoch, index)
