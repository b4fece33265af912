"""Operating points of a binary score (a finding's P(present)): the threshold at which an input is called positive,
chosen on held-out rows for a target sensitivity, with the specificity there and percentile bootstrap intervals of
both (rows resampled, the threshold held fixed).

The threshold is chosen on the same rows it is reported on, so the sensitivity there is at least the target by
construction; the intervals say how much that could move on another sample of the same size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .metrics import ArrayLike, _as_float, _as_labels, bootstrap_ci

DEFAULT_SENSITIVITY = 0.90


def _binary(scores: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    s = _as_float(scores, "scores", 1)
    y = _as_labels(labels, "labels", len(s))
    if len(y) and not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (absent) or 1 (present)")
    return s, y


def sensitivity(scores: ArrayLike, labels: ArrayLike, threshold: float) -> float:
    """Share of the positive rows scoring at or above ``threshold``; ValueError without positive rows."""
    s, y = _binary(scores, labels)
    if not (y == 1).any():
        raise ValueError("sensitivity needs at least one positive row")
    return float(np.mean(s[y == 1] >= threshold))


def specificity(scores: ArrayLike, labels: ArrayLike, threshold: float) -> float:
    """Share of the negative rows scoring below ``threshold``; ValueError without negative rows."""
    s, y = _binary(scores, labels)
    if not (y == 0).any():
        raise ValueError("specificity needs at least one negative row")
    return float(np.mean(s[y == 0] < threshold))


def threshold_at_sensitivity(scores: ArrayLike, labels: ArrayLike, target: float) -> float:
    """The highest threshold whose sensitivity on these rows is at least ``target``: the score of the
    ``ceil(target * positives)``-th highest positive row, moved halfway down to the next lower score of any row (the
    same calls on these rows, and no call flips when a score moves by a rounding error)."""
    if not 0.0 < target <= 1.0:
        raise ValueError(f"the target sensitivity must lie in (0, 1], got {target}")
    s, y = _binary(scores, labels)
    positives = np.sort(s[y == 1])[::-1]
    if not len(positives):
        raise ValueError("choosing a threshold needs at least one positive row")
    needed = max(1, math.ceil(target * len(positives) - 1e-9))
    cut = float(positives[needed - 1])
    below = s[s < cut]
    return (cut + float(below.max())) / 2 if len(below) else cut


@dataclass(frozen=True)
class OperatingPoint:
    """Where a binary score is cut: ``threshold`` (positive when the score is at or above it), the sensitivity and
    specificity there on the held-out rows with their bootstrap intervals, and the rows they come from."""

    threshold: float
    target_sensitivity: float
    sensitivity: float
    specificity: float
    sensitivity_ci: tuple[float, float]
    specificity_ci: tuple[float, float]
    positives: int
    negatives: int
    confidence: float = 0.95

    @classmethod
    def at_sensitivity(
        cls,
        scores: ArrayLike,
        labels: ArrayLike,
        target: float = DEFAULT_SENSITIVITY,
        n_resamples: int = 1000,
        confidence: float = 0.95,
        seed: int = 0,
    ) -> OperatingPoint:
        """The operating point at ``target`` sensitivity of ``scores`` against 0/1 ``labels``; ValueError when the
        rows hold one class only."""
        s, y = _binary(scores, labels)
        if not (y == 0).any() or not (y == 1).any():
            raise ValueError("an operating point needs positive and negative rows")
        t = threshold_at_sensitivity(s, y, target)
        intervals = [
            bootstrap_ci(lambda a, b, f=f: f(a, b, t), s, y, n_resamples=n_resamples, confidence=confidence, seed=seed)
            for f in (sensitivity, specificity)
        ]
        return cls(
            threshold=t,
            target_sensitivity=float(target),
            sensitivity=sensitivity(s, y, t),
            specificity=specificity(s, y, t),
            sensitivity_ci=intervals[0],
            specificity_ci=intervals[1],
            positives=int((y == 1).sum()),
            negatives=int((y == 0).sum()),
            confidence=confidence,
        )

    def is_positive(self, score: float) -> bool:
        return bool(score >= self.threshold)

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "target_sensitivity": self.target_sensitivity,
            "sensitivity": self.sensitivity,
            "specificity": self.specificity,
            "sensitivity_ci": list(self.sensitivity_ci),
            "specificity_ci": list(self.specificity_ci),
            "positives": self.positives,
            "negatives": self.negatives,
            "confidence": self.confidence,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OperatingPoint:
        return cls(
            threshold=float(data["threshold"]),
            target_sensitivity=float(data["target_sensitivity"]),
            sensitivity=float(data["sensitivity"]),
            specificity=float(data["specificity"]),
            sensitivity_ci=(float(data["sensitivity_ci"][0]), float(data["sensitivity_ci"][1])),
            specificity_ci=(float(data["specificity_ci"][0]), float(data["specificity_ci"][1])),
            positives=int(data["positives"]),
            negatives=int(data["negatives"]),
            confidence=float(data.get("confidence", 0.95)),
        )

    def describe(self) -> str:
        """``threshold 0.620: sensitivity 0.92 [0.80, 1.00], specificity 0.71 [0.60, 0.82] (25 positive, 40 negative
        rows)``."""
        se_lo, se_hi = self.sensitivity_ci
        sp_lo, sp_hi = self.specificity_ci
        return (f"threshold {self.threshold:.4f}: sensitivity {self.sensitivity:.3f} [{se_lo:.3f}, {se_hi:.3f}], "
                f"specificity {self.specificity:.3f} [{sp_lo:.3f}, {sp_hi:.3f}] ({self.positives} positive, "
                f"{self.negatives} negative rows)")  # fmt: skip
