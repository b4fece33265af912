"""The held-out embedding statistics a version records at registration, for its out-of-distribution warnings."""

from __future__ import annotations

import logging

from clipzoo.core.data import Manifest
from clipzoo.core.domain import CLASSIFICATION, Domain
from clipzoo.core.evaluate import encode_manifest
from clipzoo.core.model import ClipModel
from clipzoo.core.ood import MIN_ROWS, EmbeddingStats

log = logging.getLogger(__name__)


def heldout_stats(clip: ClipModel, domain: Domain, heldout: Manifest | None) -> EmbeddingStats | None:
    """Class means, shared covariance and threshold of the held-out embeddings (classes from the domain's first
    classification task whose column the manifest has); None without held-out data or with too few rows."""
    if heldout is None:
        return None
    if len(heldout) < MIN_ROWS:
        log.warning("%d held-out rows: too few for out-of-distribution statistics (%d)", len(heldout), MIN_ROWS)
        return None
    columns = heldout.frame.columns
    task = next((t for t in domain.zero_shot_tasks() if t.kind == CLASSIFICATION and t.label_column in columns), None)
    classes = [str(v) for v in heldout.column(task.label_column)] if task is not None else None
    stats = EmbeddingStats.fit(encode_manifest(clip, domain, heldout), classes)
    stats.info["class_column"] = task.label_column if task is not None else None
    return stats
