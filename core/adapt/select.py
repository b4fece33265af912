"""Fit an adapted head: the method's hyper-parameter and its blend with the zero-shot logits chosen by stratified
cross-validation on the shots alone (no held-out data is looked at), then the method refitted on every shot."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch

from ..errors import InputError
from .head import AdaptedHead
from .methods import METHODS, Adapter, fit, settings_grid

# Blend weights tried, relative to the ratio of the zero-shot logits' spread to the adapter's on the shots: 0 is
# zero-shot alone, 1 gives both the same spread, 100 is the adapter almost alone. Ties keep the smaller weight.
RELATIVE_BLENDS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0, 100.0)
MAX_FOLDS = 5
_DEFAULT_SETTING = {"gda": {"shrinkage": 1.0}, "tip": {"beta": 5.5}, "linear": {"c": 1.0}}


def _spread_ratio(zero_shot: torch.Tensor, adapter: torch.Tensor) -> float:
    """How much the adapter's logits must be scaled to spread like the zero-shot ones (per-row centred std)."""
    zs = (zero_shot - zero_shot.mean(1, keepdim=True)).std()
    ad = (adapter - adapter.mean(1, keepdim=True)).std()
    return float(zs / ad) if float(ad) > 1e-12 else 1.0


def _folds(targets: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(targets)
    k = min(MAX_FOLDS, int(counts[counts > 0].min()))
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(targets)), targets))


def _cross_validate(
    method: str, features: torch.Tensor, targets: torch.Tensor, zero_shot: torch.Tensor, num_classes: int, seed: int
) -> tuple[dict[str, float], float, float]:
    """(setting, relative blend, mean held-fold accuracy) of the best grid point."""
    folds = _folds(targets.numpy(), seed)
    best: tuple[dict[str, float], float, float] = ({}, 0.0, -1.0)
    for setting in settings_grid(method):
        correct = np.zeros(len(RELATIVE_BLENDS))
        for train_idx, val_idx in folds:
            tr, va = torch.from_numpy(train_idx), torch.from_numpy(val_idx)
            adapter = fit(method, features[tr], targets[tr], num_classes, **setting)
            ratio = _spread_ratio(zero_shot[tr], adapter.logits(features[tr]))
            adapted = adapter.logits(features[va])
            for i, blend in enumerate(RELATIVE_BLENDS):
                logits = zero_shot[va] + blend * ratio * adapted
                correct[i] += int((logits.argmax(1) == targets[va]).sum())
        accuracy = correct / len(targets)
        i = int(np.argmax(accuracy))  # first best: the smallest blend among ties
        if accuracy[i] > best[2]:
            best = (setting, RELATIVE_BLENDS[i], float(accuracy[i]))
    return best


def fit_head(
    features: torch.Tensor,
    labels: Sequence[str],
    classes: Sequence[str],
    text: torch.Tensor,
    logit_scale: float,
    method: str,
    seed: int = 0,
) -> AdaptedHead:
    """Adapt to the shots ``features`` (L2-normalised, ``[N, D]``) labelled ``labels`` (each one of ``classes``),
    blended with the zero-shot classifier ``text`` (``[C, D]``, rows in ``classes`` order). Deterministic for a
    given ``seed`` (the cross-validation split)."""
    if method not in METHODS:
        raise InputError(f"unknown adaptation method {method!r}; choose one of {', '.join(METHODS)}")
    classes = list(classes)
    unknown = sorted({lb for lb in labels if lb not in classes})
    if unknown:
        raise InputError(f"shots labelled outside the classes {classes}: {unknown}")
    targets = torch.tensor([classes.index(lb) for lb in labels])
    counts = np.bincount(targets.numpy(), minlength=len(classes))
    if (counts == 0).any():
        missing = [c for c, n in zip(classes, counts, strict=True) if n == 0]
        raise InputError(f"every class needs at least one shot; none for {missing}")
    features = features.float()
    zero_shot = logit_scale * features @ text.float().T
    started = time.perf_counter()
    if counts.min() >= 2:
        setting, blend, cv_accuracy = _cross_validate(method, features, targets, zero_shot, len(classes), seed)
        how = f"{min(MAX_FOLDS, int(counts.min()))}-fold stratified cross-validation on the shots"
    else:
        setting, blend, cv_accuracy = _DEFAULT_SETTING.get(method, {}), 1.0, None
        how = "defaults: a class has a single shot, too few to cross-validate"
    adapter: Adapter = fit(method, features, targets, len(classes), **setting)
    alpha = blend * _spread_ratio(zero_shot, adapter.logits(features))
    info = {
        "shots": len(labels),
        "shots_per_class": int(counts.min()) if counts.min() == counts.max() else f"{counts.min()}-{counts.max()}",
        "setting": setting,
        "relative_blend": blend,
        "selection": how,
        "cv_accuracy": cv_accuracy,
        "seed": seed,
        "fit_seconds": round(time.perf_counter() - started, 4),
    }
    return AdaptedHead(method, classes, text.float().clone(), float(logit_scale), adapter, float(alpha), info)
