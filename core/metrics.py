"""Evaluation metrics for zero-shot classification and retrieval.

Every function accepts numpy arrays, torch tensors (any device, any dtype) or nested sequences, and validates
its inputs with the same error messages.

Where a metric is standard, scikit-learn computes it: :func:`auroc` (``roc_auc_score``; tied scores count one
half, the Mann-Whitney definition), :func:`balanced_accuracy` (``balanced_accuracy_score``) and
:func:`confusion_matrix` (``confusion_matrix``).

The rest is not in scikit-learn in this form and stays here: the bootstrap interval (:func:`bootstrap_ci`,
:func:`auroc_with_ci`), top-k accuracy and the retrieval metrics. These break ties pessimistically: a target
class (or relevant gallery item) that ties with a wrong one is ranked after it, so constant scores never look
good. scikit-learn's ``top_k_accuracy_score`` instead lets ties fall by class index and ``ndcg_score`` averages
the gains of tied items; on tie-free data the results are equal.

Retrieval functions take a similarity matrix ``sim [Q, G]`` (higher = more similar) and a relevance matrix
``relevant [Q, G]`` (bool, or non-negative gains where > 0 means relevant; several relevant items per query
are allowed). ``relevant=None`` means the identity: query i matches gallery item i, which needs Q == G.
Queries with no relevant gallery item are left out of every averaged retrieval metric.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
from sklearn import metrics as skm

if TYPE_CHECKING:
    import torch

ArrayLike: TypeAlias = "np.ndarray | torch.Tensor | Sequence[Any]"

__all__ = [
    "auroc",
    "auroc_with_ci",
    "balanced_accuracy",
    "bootstrap_ci",
    "confusion_matrix",
    "first_relevant_rank",
    "mean_reciprocal_rank",
    "median_rank",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
    "retrieval_metrics",
    "topk_accuracy",
]


# --------------------------------------------------------------------------------------------------- helpers


def _to_numpy(x: ArrayLike) -> np.ndarray:
    """A numpy view/copy of an array, tensor or sequence, keeping its dtype."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":  # numpy has no bfloat16
            x = x.float()
        x = x.numpy()
    return np.asarray(x)


def _as_float(x: ArrayLike, name: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    """float64 numpy array with the expected number of dimensions and only finite values."""
    arr = _to_numpy(x).astype(np.float64, copy=False)
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in ndims:
        raise ValueError(f"{name} must be {' or '.join(f'{d}-D' for d in ndims)}, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _as_labels(x: ArrayLike, name: str, n: int | None = None) -> np.ndarray:
    """1-D int64 array of integer labels (bool and integral floats accepted), of length n when given."""
    arr = _to_numpy(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} entries, expected {n}")
    if arr.dtype.kind == "f":
        if not (np.isfinite(arr).all() and (arr == np.round(arr)).all()):
            raise ValueError(f"{name} must hold integer class labels")
    elif arr.dtype.kind not in "biu":
        raise ValueError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _check_range(labels: np.ndarray, num_classes: int, name: str) -> None:
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{name} must lie in [0, {num_classes}), got range [{labels.min()}, {labels.max()}]")


def _check_ks(ks: Iterable[int]) -> tuple[int, ...]:
    ks = tuple(ks)
    if not ks:
        raise ValueError("ks must not be empty")
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"every k must be a positive integer, got {k!r}")
    return tuple(int(k) for k in ks)


# ------------------------------------------------------------------------------------------ classification


def topk_accuracy(logits: ArrayLike, targets: ArrayLike, ks: Iterable[int] = (1, 5)) -> dict[int, float]:
    """Fraction of rows whose target class is among the k highest logits, for every k in ``ks``.

    ``logits [N, C]``, ``targets [N]`` class indices. A k above C is clamped to C (accuracy 1). Ties count
    against the target: its rank is the number of classes scoring at least as high, itself included. This is
    why sklearn's top_k_accuracy_score is not used: it ranks tied classes by decreasing index, so constant logits
    would score the frequency of the last class at k = 1.
    """
    scores = _as_float(logits, "logits", 2)
    n, c = scores.shape
    if n == 0 or c == 0:
        raise ValueError(f"logits must be non-empty, got shape {scores.shape}")
    labels = _as_labels(targets, "targets", n)
    _check_range(labels, c, "targets")
    ks = _check_ks(ks)
    target_scores = scores[np.arange(n), labels]
    ranks = (scores >= target_scores[:, None]).sum(axis=1)
    return {k: float((ranks <= min(k, c)).mean()) for k in ks}


def confusion_matrix(predictions: ArrayLike, targets: ArrayLike, num_classes: int) -> np.ndarray:
    """``[num_classes, num_classes]`` int64 counts; rows are true classes, columns predicted classes."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be positive, got {num_classes}")
    preds = _as_labels(predictions, "predictions")
    labels = _as_labels(targets, "targets", len(preds))
    _check_range(preds, num_classes, "predictions")
    _check_range(labels, num_classes, "targets")
    if len(labels) == 0:  # sklearn rejects empty input
        return np.zeros((num_classes, num_classes), dtype=np.int64)
    return skm.confusion_matrix(labels, preds, labels=np.arange(num_classes)).astype(np.int64)


def balanced_accuracy(predictions: ArrayLike, targets: ArrayLike) -> float:
    """Mean per-class recall over the classes present in ``targets`` (sklearn's balanced_accuracy_score).

    Predicted classes that never occur in ``targets`` add no term (sklearn's warning about them is silenced).
    """
    preds = _as_labels(predictions, "predictions")
    labels = _as_labels(targets, "targets", len(preds))
    if len(labels) == 0:
        raise ValueError("balanced_accuracy needs at least one sample")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true", category=UserWarning)
        return float(skm.balanced_accuracy_score(labels, preds))


def auroc(scores: ArrayLike, targets: ArrayLike) -> float:
    """Area under the ROC curve (sklearn's roc_auc_score); tied scores count one half.

    Binary when ``scores`` is 1-D (``targets`` 0/1, 1 = positive). When ``scores`` is ``[N, C]`` (probabilities
    or raw logits) and ``targets`` are class indices: one-vs-rest AUROC per class present in ``targets``,
    macro-averaged (classes absent from ``targets`` are skipped). Raises ValueError when ``targets`` hold a
    single class.
    """
    s = _as_float(scores, "scores", (1, 2))
    labels = _as_labels(targets, "targets", len(s))
    present = np.unique(labels)
    if s.ndim == 1 and not np.isin(present, (0, 1)).all():
        raise ValueError(f"binary auroc needs 0/1 targets, got values {present.tolist()}")
    if s.ndim == 2:
        _check_range(labels, s.shape[1], "targets")
    if len(present) < 2:
        raise ValueError(f"auroc is undefined when only one class is present (class {present.tolist()})")
    if s.ndim == 1:
        return float(skm.roc_auc_score(labels, s))
    # One-vs-rest through sklearn's multilabel path: unlike multi_class="ovr" it takes scores that are not
    # probabilities and lets us drop the columns of absent classes.
    one_hot = (labels[:, None] == present[None, :]).astype(np.int64)
    return float(skm.roc_auc_score(one_hot, s[:, present], average="macro"))


def bootstrap_ci(
    metric: Callable[..., float],
    *arrays: ArrayLike,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric(*arrays)``, resampling rows of all arrays together.

    Resamples where ``metric`` raises ValueError (e.g. only one class drawn) or returns a non-finite value
    are skipped; ValueError if none succeeds.
    """
    if not arrays:
        raise ValueError("bootstrap_ci needs at least one array")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive, got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    data = [_to_numpy(a) for a in arrays]
    if any(a.ndim == 0 for a in data):
        raise ValueError("bootstrap_ci arrays must have at least one dimension")
    n = len(data[0])
    if any(len(a) != n for a in data):
        raise ValueError(f"bootstrap_ci arrays must have the same length, got {[len(a) for a in data]}")
    if n == 0:
        raise ValueError("bootstrap_ci needs at least one row")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_resamples):
        idx = rng.integers(0, n, size=n)
        try:
            value = float(metric(*(a[idx] for a in data)))
        except ValueError:
            continue
        if np.isfinite(value):
            values.append(value)
    if not values:
        raise ValueError(f"the metric failed on all {n_resamples} bootstrap resamples")
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


def auroc_with_ci(
    scores: ArrayLike, targets: ArrayLike, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> dict[str, float]:
    """``{"auroc", "ci_low", "ci_high"}``: :func:`auroc` with its percentile bootstrap interval."""
    s = _as_float(scores, "scores", (1, 2))
    labels = _as_labels(targets, "targets", len(s))
    point = auroc(s, labels)
    low, high = bootstrap_ci(auroc, s, labels, n_resamples=n_resamples, confidence=confidence, seed=seed)
    return {"auroc": point, "ci_low": low, "ci_high": high}


# ------------------------------------------------------------------------------------------------ retrieval


def _retrieval_inputs(sim: ArrayLike, relevant: ArrayLike | None) -> tuple[np.ndarray, np.ndarray]:
    """(sim, gains) as float64 ``[Q, G]``; gains are 0/1 for boolean relevance."""
    s = _as_float(sim, "sim", 2)
    q, g = s.shape
    if q == 0 or g == 0:
        raise ValueError(f"sim must be non-empty, got shape {s.shape}")
    if relevant is None:
        if q != g:
            raise ValueError(f"relevant=None means query i matches gallery i, which needs Q == G; sim is {q}x{g}")
        return s, np.eye(q)
    gains = _as_float(relevant, "relevant", 2)
    if gains.shape != s.shape:
        raise ValueError(f"relevant has shape {gains.shape}, sim has shape {s.shape}; they must match")
    if (gains < 0).any():
        raise ValueError("relevant must be boolean or non-negative gains")
    return s, gains


def _with_relevant(sim: np.ndarray, gains: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of queries that have at least one relevant item; ValueError if there are none."""
    keep = (gains > 0).any(axis=1)
    if not keep.any():
        raise ValueError("no query has a relevant gallery item")
    return sim[keep], gains[keep]


def _ranks(sim: np.ndarray, rel: np.ndarray) -> np.ndarray:
    """1 + number of irrelevant items scoring at least as high as the best relevant one (pessimistic ties)."""
    best = np.where(rel, sim, -np.inf).max(axis=1)
    return 1 + (~rel & (sim >= best[:, None])).sum(axis=1)


def _pessimistic_order(sim: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Per row, gallery indices by decreasing similarity; among ties, lower gains come first."""
    return np.lexsort((gains, -sim), axis=-1)


def first_relevant_rank(sim: ArrayLike, relevant: ArrayLike | None = None) -> np.ndarray:
    """1-based rank of the best-ranked relevant item of every query, as int64 ``[Q]``.

    Ties are broken pessimistically: irrelevant items scoring the same as the best relevant item are ranked
    before it. ValueError if some query has no relevant item.
    """
    s, gains = _retrieval_inputs(sim, relevant)
    rel = gains > 0
    missing = np.flatnonzero(~rel.any(axis=1))
    if len(missing):
        raise ValueError(f"queries {missing[:10].tolist()} have no relevant gallery item")
    return _ranks(s, rel).astype(np.int64)


def recall_at_k(sim: ArrayLike, relevant: ArrayLike | None, ks: Iterable[int] = (1, 5, 10)) -> dict[int, float]:
    """Fraction of queries with at least one relevant item in their top k, for every k in ``ks``."""
    ks = _check_ks(ks)
    s, gains = _with_relevant(*_retrieval_inputs(sim, relevant))
    ranks = _ranks(s, gains > 0)
    return {k: float((ranks <= k).mean()) for k in ks}


def precision_at_k(sim: ArrayLike, relevant: ArrayLike | None, ks: Iterable[int] = (1, 5, 10)) -> dict[int, float]:
    """Mean over queries of the fraction of the top k items that are relevant (k clamped to G)."""
    ks = _check_ks(ks)
    s, gains = _with_relevant(*_retrieval_inputs(sim, relevant))
    rel = gains > 0
    order = _pessimistic_order(s, rel)
    hits = np.cumsum(np.take_along_axis(rel, order, axis=1), axis=1)  # relevant items within the top j+1
    g = s.shape[1]
    return {k: float((hits[:, min(k, g) - 1] / min(k, g)).mean()) for k in ks}


def mean_reciprocal_rank(sim: ArrayLike, relevant: ArrayLike | None = None) -> float:
    """Mean of 1 / rank of the first relevant item."""
    s, gains = _with_relevant(*_retrieval_inputs(sim, relevant))
    return float((1.0 / _ranks(s, gains > 0)).mean())


def median_rank(sim: ArrayLike, relevant: ArrayLike | None = None) -> float:
    """Median rank of the first relevant item (1 is best)."""
    s, gains = _with_relevant(*_retrieval_inputs(sim, relevant))
    return float(np.median(_ranks(s, gains > 0)))


def _ndcg(sim: np.ndarray, gains: np.ndarray, ks: tuple[int, ...]) -> dict[int, float]:
    g = sim.shape[1]
    discount = 1.0 / np.log2(np.arange(2, g + 2))
    ranked = np.take_along_axis(gains, _pessimistic_order(sim, gains), axis=1)
    ideal = -np.sort(-gains, axis=1)
    dcg = np.cumsum(ranked * discount, axis=1)
    idcg = np.cumsum(ideal * discount, axis=1)
    return {k: float((dcg[:, min(k, g) - 1] / idcg[:, min(k, g) - 1]).mean()) for k in ks}


def ndcg_at_k(sim: ArrayLike, relevant_or_gains: ArrayLike | None, ks: Iterable[int] = (1, 5, 10)) -> dict[int, float]:
    """Normalised discounted cumulative gain at every k: sum of gain_i / log2(i + 1) over ranks i <= k,
    divided by the same sum for the ideal ordering of the gains (binary or graded, linear gains as in
    sklearn's ndcg_score). Queries without any positive gain are skipped."""
    ks = _check_ks(ks)
    s, gains = _with_relevant(*_retrieval_inputs(sim, relevant_or_gains))
    return _ndcg(s, gains, ks)


def retrieval_metrics(
    sim: ArrayLike, relevant: ArrayLike | None = None, ks: Iterable[int] = (1, 5, 10), prefix: str = ""
) -> dict[str, float]:
    """``{prefix}R@k`` for every k, ``{prefix}MRR``, ``{prefix}median_rank`` and ``{prefix}nDCG@{max k}``."""
    ks = _check_ks(ks)
    s, gains = _with_relevant(*_retrieval_inputs(sim, relevant))
    ranks = _ranks(s, gains > 0)
    out = {f"{prefix}R@{k}": float((ranks <= k).mean()) for k in ks}
    out[f"{prefix}MRR"] = float((1.0 / ranks).mean())
    out[f"{prefix}median_rank"] = float(np.median(ranks))
    top = max(ks)
    out[f"{prefix}nDCG@{top}"] = _ndcg(s, gains, (top,))[top]
    return out
