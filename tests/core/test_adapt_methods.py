"""Few-shot adaptation in closed form: each method checked against a direct computation, the blend chosen on the
shots alone, the head saved and loaded unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from clipzoo.core.adapt import METHODS, AdaptedHead, fit, fit_gda, fit_head
from clipzoo.core.errors import InputError
from sklearn.linear_model import LogisticRegression

CLASSES = ["alpha", "beta", "gamma", "delta"]


def _clusters(n_per_class: int, seed: int, dim: int = 24, spread: float = 0.35):
    """Unit-norm features around one centre per class (the same centres for every seed), and their labels."""
    centres = F.normalize(torch.randn(len(CLASSES), dim, generator=torch.Generator().manual_seed(123)), dim=-1)
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(len(CLASSES)).repeat_interleave(n_per_class)
    features = F.normalize(centres[labels] + spread * torch.randn(len(labels), dim, generator=g), dim=-1)
    return features, labels, centres


def test_gda_equals_the_direct_closed_form():
    x, y, _ = _clusters(6, seed=0)
    xs, ys = x.double().numpy(), y.numpy()
    n, d = xs.shape
    means = np.stack([xs[ys == c].mean(0) for c in range(len(CLASSES))])
    centred = xs - means[ys]
    pooled = centred.T @ centred / (n - 1)
    precision = d * np.linalg.inv((n - 1) * pooled + np.trace(pooled) * np.eye(d))
    weight = means @ precision
    bias = -0.5 * np.einsum("cd,de,ce->c", means, precision, means) + np.log(1 / len(CLASSES))

    gda = fit_gda(x, y, len(CLASSES))
    np.testing.assert_allclose(gda.tensors["weight"].numpy(), weight, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gda.tensors["bias"].numpy(), bias, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gda.logits(x).numpy(), xs @ weight.T + bias, rtol=1e-3, atol=1e-3)


def test_gda_with_one_shot_per_class_is_the_nearest_class_mean():
    x, y, _ = _clusters(1, seed=1)
    gda = fit_gda(x, y, len(CLASSES))
    queries, _, _ = _clusters(5, seed=2)
    expected = torch.cdist(queries, x).argmin(1)  # the single shot is its class's mean
    assert torch.equal(gda.logits(queries).argmax(1), expected)


def test_tip_adapter_cache_and_linear_probe_match_their_definitions():
    x, y, _ = _clusters(5, seed=3)
    queries, _, _ = _clusters(3, seed=4)
    tip = fit("tip", x, y, len(CLASSES), beta=5.5)
    expected = torch.exp(-5.5 * (1 - queries @ x.T)) @ F.one_hot(y, len(CLASSES)).float()
    torch.testing.assert_close(tip.logits(queries), expected)

    for keep in (list(range(len(CLASSES))), [0, 2]):  # several classes, and scikit-learn's binary special case
        mask = torch.isin(y, torch.tensor(keep))
        probe = fit("linear", x[mask], y[mask], len(CLASSES), c=10.0)
        reference = LogisticRegression(C=10.0, max_iter=1000).fit(x[mask].double().numpy(), y[mask].numpy())
        ours = probe.logits(queries)[:, keep].softmax(-1).numpy()
        np.testing.assert_allclose(ours, reference.predict_proba(queries.double().numpy()), atol=1e-4)


@pytest.mark.parametrize("method", METHODS)
def test_adapting_beats_a_poor_zero_shot_classifier_and_is_deterministic(method):
    shots, y, centres = _clusters(8, seed=5)
    queries, truth, _ = _clusters(50, seed=6)
    # a text classifier that knows the classes only roughly: zero-shot is far from perfect
    text = F.normalize(centres + 1.2 * torch.randn(centres.shape, generator=torch.Generator().manual_seed(7)), dim=-1)
    labels = [CLASSES[i] for i in y]
    head = fit_head(shots, labels, CLASSES, text, logit_scale=30.0, method=method)
    again = fit_head(shots, labels, CLASSES, text, logit_scale=30.0, method=method)

    zero_shot = float((head.zero_shot_logits(queries).argmax(1) == truth).float().mean())
    adapted = float((head.logits(queries).argmax(1) == truth).float().mean())
    assert adapted >= zero_shot + 0.15, (method, zero_shot, adapted)
    assert head.alpha > 0 and "cross-validation" in head.info["selection"]
    assert torch.equal(head.logits(queries), again.logits(queries)) and head.info["setting"] == again.info["setting"]


def test_a_class_with_a_single_shot_takes_the_defaults_and_a_class_without_any_is_refused():
    shots, y, centres = _clusters(1, seed=8)
    head = fit_head(shots, [CLASSES[i] for i in y], CLASSES, centres, 30.0, "tip")
    assert head.info["cv_accuracy"] is None and "single shot" in head.info["selection"]
    assert head.adapter.settings["beta"] == 5.5
    with pytest.raises(InputError, match=r"none for \['delta'\]"):
        fit_head(shots[:3], CLASSES[:3], CLASSES, centres, 30.0, "gda")
    with pytest.raises(InputError, match="unknown adaptation method"):
        fit_head(shots, [CLASSES[i] for i in y], CLASSES, centres, 30.0, "svm")


@pytest.mark.parametrize("method", METHODS)
def test_a_saved_head_loads_back_unchanged(tmp_path, method):
    shots, y, centres = _clusters(4, seed=9)
    head = fit_head(shots, [CLASSES[i] for i in y], CLASSES, centres, 20.0, method)
    written = head.save(tmp_path)
    assert sorted(written) == ["adapter.json", "adapter.safetensors"]
    loaded = AdaptedHead.load(tmp_path)
    queries, _, _ = _clusters(3, seed=10)
    torch.testing.assert_close(loaded.logits(queries), head.logits(queries))
    assert loaded.classes == CLASSES and loaded.info["shots"] == len(y)
    sub = loaded.probabilities(queries, ["gamma", "alpha"])
    torch.testing.assert_close(sub.sum(1), torch.ones(len(queries)))
    assert AdaptedHead.load(tmp_path / "elsewhere") is None
