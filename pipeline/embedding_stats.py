"""The held-out embedding statistics a version records at registration, for its out-of-distribution warnings."""

from __future__ import annotations

import logging

import torch
from clipzoo.core.data import Manifest
from clipzoo.core.domain import Domain
from clipzoo.core.ood import MIN_ROWS, EmbeddingStats
from clipzoo.core.trust import primary_task

log = logging.getLogger(__name__)


def heldout_stats(domain: Domain, heldout: Manifest | None, features: torch.Tensor | None) -> EmbeddingStats | None:
    """Class means, shared covariance and threshold of the held-out rows' embeddings ``features`` (classes from the
    domain's primary classification task, when the manifest has its column); None without held-out data or with
    too few rows."""
    if heldout is None or features is None:
        return None
    if len(heldout) < MIN_ROWS:
        log.warning("%d held-out rows: too few for out-of-distribution statistics (%d)", len(heldout), MIN_ROWS)
        return None
    task = primary_task(domain, heldout)
    classes = [str(v) for v in heldout.column(task.label_column)] if task is not None else None
    stats = EmbeddingStats.fit(features, classes)
    stats.info["class_column"] = task.label_column if task is not None else None
    return stats
