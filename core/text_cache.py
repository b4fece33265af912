"""Cache the outputs of a locked text tower per unique caption, so training does not recompute them each step."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .text import split_locked_text_tower


class LockedTextCache:
    """Trunk features of a frozen text tower, computed once per unique caption and kept on the CPU."""

    def __init__(self, model: torch.nn.Module, tokenize: Callable[[list[str]], torch.Tensor], batch_size: int = 256):
        self.trunk, self.head = split_locked_text_tower(model)
        self.tokenize = tokenize
        self.batch_size = batch_size
        self.features: dict[str, torch.Tensor] = {}
        self.hits = 0
        self.misses = 0

    @torch.no_grad()
    def trunk_features(self, captions: Sequence[str], device: torch.device) -> torch.Tensor:
        missing = list(dict.fromkeys(c for c in captions if c not in self.features))
        self.misses += len(missing)
        self.hits += len(captions) - len(missing)
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start : start + self.batch_size]
            out = self.trunk(self.tokenize(chunk).to(device)).float().cpu()
            self.features.update(zip(chunk, out, strict=True))
        return torch.stack([self.features[c] for c in captions]).to(device)
