"""Temperature scaling (Guo et al., ICML 2017, "On Calibration of Modern Neural Networks") and how calibrated scores
are.

One scalar ``T`` per classifier, fitted on held-out rows by minimising the negative log-likelihood of
``softmax(logits / T)``: ``T > 1`` softens over-confident scores, ``T < 1`` sharpens timid ones, and the ranking of
the classes never changes. The expected calibration error (ECE) is the row-weighted gap between the top score and
the accuracy over 15 equal-width confidence bins; the reliability data is that gap per bin, for a diagram.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

BINS = 15
BOUNDS = (1e-2, 1e4)  # the temperatures searched (a saturated few-shot head can need T in the hundreds)
FOLDS = 5  # ece_after is cross-fitted over this many folds when there are enough rows
MIN_ROWS = 2  # fewer held-out rows than this fit nothing


def _check(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.as_tensor(logits).detach().double().cpu()
    y = torch.as_tensor(targets).detach().long().cpu()
    if z.ndim != 2 or y.ndim != 1 or len(z) != len(y):
        raise ValueError(f"logits [N, C] and targets [N] expected, got {tuple(z.shape)} and {tuple(y.shape)}")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= z.shape[1]):
        raise ValueError(f"targets must lie in [0, {z.shape[1]}), got [{int(y.min())}, {int(y.max())}]")
    return z, y


def nll(logits: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``softmax(logits / temperature)`` at the targets."""
    z, y = _check(logits, targets)
    return float(F.cross_entropy(z / temperature, y))


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """The temperature minimising :func:`nll` on these rows (a bounded 1-D search over ``log T``; the NLL is convex
    in ``1 / T``, so its one minimum is found)."""
    from scipy.optimize import minimize_scalar

    z, y = _check(logits, targets)
    if len(y) < MIN_ROWS:
        raise ValueError(f"fitting a temperature needs at least {MIN_ROWS} rows, got {len(y)}")
    found = minimize_scalar(
        lambda log_t: float(F.cross_entropy(z / math.exp(log_t), y)),
        bounds=(math.log(BOUNDS[0]), math.log(BOUNDS[1])),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(math.exp(found.x))


@dataclass(frozen=True)
class Reliability:
    """Per confidence bin ``(edges[i], edges[i + 1]]``: its rows, their mean top score and their accuracy (NaN in
    an empty bin), and the ECE they add up to."""

    edges: np.ndarray
    counts: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    ece: float


def reliability(probabilities: torch.Tensor, targets: torch.Tensor, bins: int = BINS) -> Reliability:
    """Reliability data of probabilities ``[N, C]`` (rows summing to 1) against the true classes ``[N]``."""
    p, y = _check(probabilities, targets)
    if len(y) == 0:
        raise ValueError("reliability needs at least one row")
    top, predicted = p.max(dim=1)
    conf, correct = top.numpy(), (predicted == y).numpy().astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(index, weights=conf, minlength=bins) / counts
        accuracy = np.bincount(index, weights=correct, minlength=bins) / counts
    filled = counts > 0
    ece = float(np.sum(counts[filled] / len(y) * np.abs(accuracy[filled] - confidence[filled])))
    return Reliability(edges, counts, confidence, accuracy, ece)


def expected_calibration_error(probabilities: torch.Tensor, targets: torch.Tensor, bins: int = BINS) -> float:
    """ECE of probabilities ``[N, C]`` against the true classes ``[N]``, over ``bins`` equal-width bins."""
    return reliability(probabilities, targets, bins).ece


def cross_fitted_probabilities(logits: torch.Tensor, targets: torch.Tensor, folds: int = FOLDS,
                               seed: int = 0) -> torch.Tensor:  # fmt: skip
    """Each row's ``softmax(logits / T)`` with ``T`` fitted on the other folds only: what calibration does to rows
    it never saw (the in-sample ECE after fitting is optimistic)."""
    z, y = _check(logits, targets)
    order = np.random.default_rng(seed).permutation(len(y))
    out = torch.empty_like(z)
    for part in np.array_split(order, folds):
        rest = torch.from_numpy(np.setdiff1d(order, part))
        part = torch.from_numpy(part)
        out[part] = (z[part] / fit_temperature(z[rest], y[rest])).softmax(dim=-1)
    return out


@dataclass(frozen=True)
class Calibration:
    """A classifier's fitted temperature and what it did on the held-out rows of ``task``: ECE before (T = 1) and
    after (cross-fitted over ``FOLDS`` folds when there are at least ``2 * FOLDS`` rows, else in-sample: said in
    ``ece_after_method``), and the NLL before and after (in-sample)."""

    temperature: float
    task: str
    rows: int
    ece_before: float
    ece_after: float
    ece_after_method: str
    nll_before: float
    nll_after: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def calibrate(logits: torch.Tensor, targets: torch.Tensor, task: str) -> tuple[Calibration, Reliability, Reliability]:
    """Fit the temperature of ``logits [N, C]`` on the true classes ``[N]``; returns it with the reliability data
    before (T = 1) and after (the probabilities ``ece_after`` is measured on)."""
    z, y = _check(logits, targets)
    temperature = fit_temperature(z, y)
    if len(y) >= 2 * FOLDS:
        after, method = cross_fitted_probabilities(z, y), f"{FOLDS}-fold cross-fitted"
    else:
        after, method = (z / temperature).softmax(dim=-1), "in-sample (too few rows to cross-fit)"
    before_data, after_data = reliability(z.softmax(dim=-1), y), reliability(after, y)
    found = Calibration(
        temperature=temperature,
        task=task,
        rows=len(y),
        ece_before=before_data.ece,
        ece_after=after_data.ece,
        ece_after_method=method,
        nll_before=nll(z, y),
        nll_after=nll(z, y, temperature),
    )
    return found, before_data, after_data


def temperature_of(record: dict[str, Any] | None) -> float | None:
    """The temperature a recorded calibration (``Calibration.to_dict``) holds, or None when there is none."""
    if not record or record.get("temperature") is None:
        return None
    return float(record["temperature"])


def row_fields(temperature: float | None) -> dict[str, Any]:
    """What a prediction row says of its scores: ``calibrated`` and, when they are, the ``temperature``."""
    if temperature is None:
        return {"calibrated": False}
    return {"calibrated": True, "temperature": round(float(temperature), 6)}
