"""Training-free few-shot adapters fitted in closed form on L2-normalised image embeddings.

Each ``fit_*`` takes the shots' features ``[N, D]`` and class indices ``[N]`` and returns the adapter's parameters:
a linear map (``weight [C, D]``, ``bias [C]``) for GDA, prototypes and the linear probe, or a key-value cache for
Tip-Adapter. ``adapter_logits`` applies either form. How much each adapter counts against the zero-shot text
classifier is chosen elsewhere (``select.py``), by cross-validation on the shots.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

GDA, TIP, PROTO, LINEAR = "gda", "tip", "proto", "linear"
METHODS = (GDA, TIP, PROTO, LINEAR)

# The hyper-parameter each method tries, besides the blend (chosen together with it by cross-validation):
# Tip-Adapter's sharpness beta (the paper's search range; 5.5 is its ImageNet value), the probe's inverse L2 strength.
TIP_BETAS = (1.0, 3.0, 5.5, 8.0, 12.0)
LINEAR_CS = (0.1, 1.0, 10.0, 100.0)
GDA_SHRINKAGE = (0.1, 1.0, 10.0)  # times the paper's ridge tr(S): 1.0 is the paper's estimator


@dataclass
class Adapter:
    """A fitted adapter: ``linear`` (``weight``, ``bias``) or ``cache`` (``keys``, ``values``, ``beta``)."""

    kind: str
    tensors: dict[str, torch.Tensor]
    settings: dict[str, float] = field(default_factory=dict)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """``[M, C]`` adapter logits of L2-normalised features."""
        x = features.float()
        if self.kind == "linear":
            return x @ self.tensors["weight"].T + self.tensors["bias"]
        affinity = torch.exp(-self.settings["beta"] * (1.0 - x @ self.tensors["keys"].T))
        return affinity @ self.tensors["values"]


def class_means(features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``[C, D]`` mean feature of each class."""
    return torch.stack([features[labels == c].mean(0) for c in range(num_classes)])


def gda_weight(
    features: torch.Tensor, labels: torch.Tensor, means: torch.Tensor, shrinkage: float = 1.0
) -> torch.Tensor:
    """``mu Sigma^-1`` of GDA, with the shared precision of "A Hard-to-Beat Baseline for Training-free CLIP-based
    Adaptation" (Wang et al., ICLR 2024): ``Sigma^-1 = D ((N - 1) S + tr(S) I)^-1``, an empirical-Bayes ridge on the
    covariance ``S`` of the class-centred features ``Z`` (``(N - 1) S = Z^T Z``). Few shots give ``N < D``, so the
    inverse is taken through the Woodbury identity on ``N x N``:
    ``(t I + Z^T Z)^-1 = (I - Z^T (t I + Z Z^T)^-1 Z) / t``. ``shrinkage`` scales the ridge ``t = tr(S)`` (1: the
    paper's). With one shot per class ``Z`` is zero and the precision the identity (nearest class mean)."""
    centred = (features - means[labels]).double()
    n, dim = centred.shape
    ridge = shrinkage * float((centred * centred).sum()) / max(n - 1, 1)
    if ridge <= 1e-12:
        return means.clone()
    mu = means.double()
    gram = centred @ centred.T + ridge * torch.eye(n, dtype=torch.float64)
    inner = torch.cholesky_solve((mu @ centred.T).T, torch.linalg.cholesky(gram)).T  # [C, N]
    return (dim / ridge * (mu - inner @ centred)).float()


def fit_gda(features: torch.Tensor, labels: torch.Tensor, num_classes: int, shrinkage: float = 1.0) -> Adapter:
    """Gaussian discriminant analysis with a shared covariance and uniform class priors:
    ``W = mu Sigma^-1``, ``b_c = -1/2 mu_c^T Sigma^-1 mu_c + log(1 / C)``."""
    means = class_means(features, labels, num_classes)
    weight = gda_weight(features, labels, means, shrinkage)
    bias = -0.5 * (weight * means).sum(dim=1) + float(np.log(1.0 / num_classes))
    return Adapter("linear", {"weight": weight, "bias": bias}, {"shrinkage": float(shrinkage)})


def fit_tip(features: torch.Tensor, labels: torch.Tensor, num_classes: int, beta: float = 5.5) -> Adapter:
    """Tip-Adapter's cache (Zhang et al., ECCV 2022): the shots' features as keys, their one-hot labels as values,
    affinities ``exp(-beta (1 - cos))``."""
    values = torch.nn.functional.one_hot(labels, num_classes).float()
    return Adapter("cache", {"keys": features.float().clone(), "values": values}, {"beta": float(beta)})


def fit_proto(features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> Adapter:
    """Image prototypes (Proto-CLIP, training-free): each class's renormalised mean shot, scored by cosine."""
    prototypes = torch.nn.functional.normalize(class_means(features, labels, num_classes), dim=-1)
    return Adapter("linear", {"weight": prototypes, "bias": torch.zeros(num_classes)})


def fit_linear(features: torch.Tensor, labels: torch.Tensor, num_classes: int, c: float = 1.0) -> Adapter:
    """A multinomial logistic-regression probe (scikit-learn, L-BFGS), the reference the training-free methods are
    measured against."""
    from sklearn.linear_model import LogisticRegression

    probe = LogisticRegression(C=c, max_iter=1000)
    probe.fit(features.double().numpy(), labels.numpy())
    weight = np.zeros((num_classes, features.shape[1]))
    bias = np.zeros(num_classes)
    seen = probe.classes_
    if len(seen) == 2:  # scikit-learn keeps one row for two classes: logit of the second against the first
        weight[seen[1]], bias[seen[1]] = probe.coef_[0], probe.intercept_[0]
    else:
        weight[seen], bias[seen] = probe.coef_, probe.intercept_
    return Adapter("linear", {"weight": torch.from_numpy(weight).float(), "bias": torch.from_numpy(bias).float()},
                   {"c": float(c)})  # fmt: skip


def fit(method: str, features: torch.Tensor, labels: torch.Tensor, num_classes: int, **setting: float) -> Adapter:
    """Fit ``method`` (one of ``METHODS``) with one setting of its hyper-parameter."""
    if method == GDA:
        return fit_gda(features, labels, num_classes, **setting)
    if method == TIP:
        return fit_tip(features, labels, num_classes, **setting)
    if method == PROTO:
        return fit_proto(features, labels, num_classes)
    if method == LINEAR:
        return fit_linear(features, labels, num_classes, **setting)
    raise ValueError(f"unknown adaptation method {method!r}; choose one of {METHODS}")


def settings_grid(method: str) -> list[dict[str, float]]:
    """The hyper-parameter settings cross-validation tries for ``method``."""
    if method == GDA:
        return [{"shrinkage": s} for s in GDA_SHRINKAGE]
    if method == TIP:
        return [{"beta": b} for b in TIP_BETAS]
    if method == LINEAR:
        return [{"c": c} for c in LINEAR_CS]
    return [{}]
