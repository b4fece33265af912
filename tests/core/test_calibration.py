"""Temperature scaling, the expected calibration error and operating points, on synthetic scores whose truth is
known: an over-confident classifier, a timid one, and a finding score whose positives score higher."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from clipzoo.core.calibration import (
    Calibration,
    calibrate,
    expected_calibration_error,
    fit_temperature,
    nll,
    reliability,
    row_fields,
)
from clipzoo.core.operating_points import OperatingPoint, sensitivity, specificity, threshold_at_sensitivity


def _classifier(rows: int, classes: int, sharpness: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits whose softmax at temperature 1 is calibrated (the classes are drawn from it), multiplied by
    ``sharpness``: > 1 over-confident, < 1 timid."""
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(rows, classes, generator=gen, dtype=torch.float64) * 2.0
    targets = torch.multinomial(logits.softmax(-1), 1, generator=gen).squeeze(1)
    return logits * sharpness, targets


def test_temperature_scaling_undoes_over_confidence_and_lowers_the_ece():
    logits, targets = _classifier(4000, 5, sharpness=4.0)
    found, before, after = calibrate(logits, targets, "task")
    assert found.temperature == pytest.approx(4.0, rel=0.1), "the sharpening the scores were given"
    assert found.ece_before > 0.15 and found.ece_after < 0.03 and found.ece_after_method == "5-fold cross-fitted"
    assert found.nll_after < found.nll_before
    assert (before.ece, after.ece) == (found.ece_before, found.ece_after)
    probs = (logits / found.temperature).softmax(-1)
    assert torch.equal(probs.argmax(1), logits.argmax(1)), "the ranking never changes"
    assert probs.max(1).values.mean() < logits.softmax(-1).max(1).values.mean()


def test_a_timid_classifier_is_sharpened():
    logits, targets = _classifier(4000, 5, sharpness=0.25)
    temperature = fit_temperature(logits, targets)
    assert temperature == pytest.approx(0.25, rel=0.1)
    assert expected_calibration_error((logits / temperature).softmax(-1), targets) < expected_calibration_error(
        logits.softmax(-1), targets
    )


def test_the_fitted_temperature_is_the_nll_minimum():
    logits, targets = _classifier(500, 3, sharpness=3.0, seed=1)
    t = fit_temperature(logits, targets)
    assert nll(logits, targets, t) <= min(nll(logits, targets, t * 1.02), nll(logits, targets, t / 1.02))


def test_ece_and_reliability_by_hand():
    # confidences 0.95 (right), 0.95 (wrong), 0.5 (right), 0.58 (wrong): bins (14/15, 1], (7/15, 8/15], (8/15, 9/15]
    probs = torch.tensor([[0.95, 0.05], [0.95, 0.05], [0.5, 0.5], [0.42, 0.58]])
    targets = torch.tensor([0, 1, 0, 0])
    data = reliability(probs, targets)
    assert data.counts.sum() == 4 and data.counts[14] == 2 and data.counts[7] == 1 and data.counts[8] == 1
    assert data.accuracy[14] == 0.5 and data.confidence[14] == pytest.approx(0.95)
    expected = (2 * abs(0.5 - 0.95) + abs(1 - 0.5) + abs(0 - 0.58)) / 4
    assert data.ece == pytest.approx(expected) == expected_calibration_error(probs, targets)
    assert np.isnan(data.accuracy[0]), "an empty bin has no accuracy"


def test_too_few_rows_are_refused_and_a_record_round_trips():
    with pytest.raises(ValueError, match="at least 2 rows"):
        fit_temperature(torch.zeros(1, 3), torch.tensor([0]))
    with pytest.raises(ValueError, match="targets must lie in"):
        fit_temperature(torch.zeros(4, 3), torch.tensor([0, 1, 2, 3]))
    logits, targets = _classifier(8, 3, sharpness=2.0)
    found, _, _ = calibrate(logits, targets, "few")
    assert found.ece_after_method.startswith("in-sample")
    assert Calibration.from_dict(found.to_dict()) == found
    assert row_fields(None) == {"calibrated": False}
    assert row_fields(found.temperature) == {"calibrated": True, "temperature": round(found.temperature, 6)}


def _finding(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.3).astype(np.int64)
    scores = np.clip(rng.normal(0.4 + 0.25 * labels, 0.12), 0, 1)
    return scores, labels


@pytest.mark.parametrize("target", [0.8, 0.9, 0.95, 1.0])
def test_an_operating_point_reaches_its_sensitivity_and_no_higher_threshold_does(target):
    scores, labels = _finding(400)
    point = OperatingPoint.at_sensitivity(scores, labels, target, n_resamples=200)
    assert point.sensitivity >= target and point.sensitivity == sensitivity(scores, labels, point.threshold)
    assert point.specificity == specificity(scores, labels, point.threshold)
    above = np.sort(scores[(labels == 1) & (scores >= point.threshold)])[0]  # the lowest positive still called
    assert sensitivity(scores, labels, np.nextafter(above, 1.0)) < target, "the highest threshold that reaches it"
    low, high = point.sensitivity_ci
    assert low <= point.sensitivity <= high and low >= 0.0
    low, high = point.specificity_ci
    assert low <= point.specificity <= high <= 1.0 and high - low > 0
    assert (point.positives, point.negatives) == (int(labels.sum()), int((labels == 0).sum()))
    assert OperatingPoint.from_dict(point.to_dict()) == point
    assert point.is_positive(point.threshold) and not point.is_positive(np.nextafter(point.threshold, 0.0))


def test_the_threshold_sits_between_scores_and_one_class_is_refused():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    labels = np.array([1, 0, 1, 0, 0])
    assert threshold_at_sensitivity(scores, labels, 0.5) == pytest.approx(0.85)  # between 0.9 and 0.8
    assert threshold_at_sensitivity(scores, labels, 1.0) == pytest.approx(0.65)  # between 0.7 and 0.6
    with pytest.raises(ValueError, match="positive and negative"):
        OperatingPoint.at_sensitivity(scores, np.ones(5, dtype=int))
    with pytest.raises(ValueError, match="must lie in"):
        threshold_at_sensitivity(scores, labels, 0.0)
    with pytest.raises(ValueError, match="0 \\(absent\\) or 1"):
        threshold_at_sensitivity(scores, np.array([2, 0, 1, 0, 0]), 0.9)
