"""Batches beyond a single tensor: volumes with slice masks, pose sequences with frame masks, composed queries.

A domain's ``collate`` may return a tensor, a dict or a tuple of tensors; these helpers move and split any of them.
"""

from __future__ import annotations

from typing import Any

import torch

Batch = Any


def move_to(batch: Batch, device: torch.device | str) -> Batch:
    """The batch with every tensor in it on ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: move_to(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(v, device) for v in batch)
    return batch


def batch_size(batch: Batch) -> int:
    if isinstance(batch, torch.Tensor):
        return batch.shape[0]
    if isinstance(batch, dict):
        return batch_size(next(iter(batch.values())))
    if isinstance(batch, (list, tuple)):
        return batch_size(batch[0])
    raise TypeError(f"cannot size a batch of type {type(batch).__name__}")


def split_batch(batch: Batch, chunks: int) -> list[Batch]:
    """Split along the first dimension into ``chunks`` parts (gradient accumulation)."""
    if isinstance(batch, torch.Tensor):
        return list(batch.chunk(chunks))
    if isinstance(batch, dict):
        parts = {k: split_batch(v, chunks) for k, v in batch.items()}
        return [{k: v[i] for k, v in parts.items()} for i in range(chunks)]
    if isinstance(batch, (list, tuple)):
        parts = [split_batch(v, chunks) for v in batch]
        return [type(batch)(p[i] for p in parts) for i in range(chunks)]
    raise TypeError(f"cannot split a batch of type {type(batch).__name__}")
