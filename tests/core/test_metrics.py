"""clipzoo.core.metrics against hand-computed values on tiny examples and against scikit-learn on random data."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from clipzoo.core.metrics import (
    auroc,
    auroc_with_ci,
    balanced_accuracy,
    bootstrap_ci,
    confusion_matrix,
    first_relevant_rank,
    mean_reciprocal_rank,
    median_rank,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    retrieval_metrics,
    topk_accuracy,
)
from sklearn import metrics as skm


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _tied(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Scores drawn from only 4 values, so that almost every row or column has ties."""
    return rng.integers(0, 4, size=shape).astype(np.float64)


# ------------------------------------------------------------------------------------------ top-k accuracy


def test_topk_accuracy_hand_computed():
    logits = np.array(
        [
            [0.1, 0.5, 0.3, 0.2],  # target 1 has the highest logit: rank 1
            [0.4, 0.1, 0.3, 0.2],  # target 2 is beaten by 0.4 only: rank 2
            [0.1, 0.2, 0.3, 0.4],  # target 0 is the lowest of 4: rank 4
        ]
    )
    targets = np.array([1, 2, 0])
    # top1: 1 of 3; top2: ranks 1 and 2 -> 2 of 3; top3: still 2 of 3; top5 is clamped to C = 4: all 3.
    assert topk_accuracy(logits, targets, ks=(1, 2, 3, 5)) == pytest.approx({1: 1 / 3, 2: 2 / 3, 3: 2 / 3, 5: 1.0})


def test_topk_accuracy_ties_count_against_the_target():
    # All three classes tie: the target is ranked after both others (rank 3), so constant logits score 0.
    assert topk_accuracy(np.ones((1, 3)), np.array([0]), ks=(1, 2, 3)) == {1: 0.0, 2: 0.0, 3: 1.0}


def test_topk_accuracy_matches_sklearn():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 10))
    targets = rng.integers(0, 10, size=200)
    ours = topk_accuracy(logits, targets, ks=(1, 3, 5))
    for k in (1, 3, 5):
        assert ours[k] == pytest.approx(skm.top_k_accuracy_score(targets, logits, k=k, labels=np.arange(10)))


def test_topk_accuracy_is_pessimistic_on_ties_unlike_sklearn():
    rng = np.random.default_rng(10)
    logits = _tied(rng, (300, 6))
    targets = rng.integers(0, 6, size=300)
    ours = topk_accuracy(logits, targets, ks=(1, 2, 3))
    # Pushing the target's logit just below the classes it ties with makes every tie-breaking rule pessimistic,
    # so sklearn must then agree with us; on the raw tied logits sklearn ranks tied classes by index instead
    # and scores higher.
    pushed_down = logits - 1e-3 * np.eye(6)[targets]
    for k in (1, 2, 3):
        assert ours[k] == pytest.approx(skm.top_k_accuracy_score(targets, pushed_down, k=k, labels=np.arange(6)))
        assert ours[k] < skm.top_k_accuracy_score(targets, logits, k=k, labels=np.arange(6))
    # Constant logits: sklearn puts the last class first (top-1 accuracy 1 for target 2); ours ranks it last.
    assert skm.top_k_accuracy_score([2], np.ones((1, 3)), k=1, labels=[0, 1, 2]) == 1.0
    assert topk_accuracy(np.ones((1, 3)), [2], ks=(1,)) == {1: 0.0}


def test_topk_accuracy_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    logits = torch.tensor([[0.1, 0.9], [0.8, 0.2]], dtype=torch.bfloat16)
    # Row 0: target 1 is the argmax; row 1: target 1 loses to 0.8 -> top1 = 1/2, top2 = 1.
    assert topk_accuracy(logits, torch.tensor([1, 1])) == {1: 0.5, 5: 1.0}


@pytest.mark.parametrize(
    ("logits", "targets", "match"),
    [
        (np.zeros(4), [0, 1, 2, 3], "2-D"),
        (np.zeros((3, 4)), [0, 1], "entries"),
        (np.zeros((2, 4)), [0, 4], r"\[0, 4\)"),
        (np.zeros((2, 4)), [0.5, 1], "integer"),
        (np.full((1, 2), np.nan), [0], "NaN"),
    ],
)
def test_topk_accuracy_rejects_bad_inputs(logits, targets, match):
    with pytest.raises(ValueError, match=match):
        topk_accuracy(logits, np.array(targets))


def test_topk_accuracy_rejects_bad_k():
    with pytest.raises(ValueError, match="positive integer"):
        topk_accuracy(np.zeros((1, 2)), np.array([0]), ks=(0,))


# --------------------------------------------------------------------------- balanced accuracy / confusion


def test_balanced_accuracy_hand_computed():
    targets = np.array([0, 0, 0, 1, 2, 2])
    preds = np.array([0, 1, 0, 1, 2, 0])
    # Recall of class 0: 2/3, class 1: 1/1, class 2: 1/2 -> mean (2/3 + 1 + 1/2) / 3 = 13/18.
    assert balanced_accuracy(preds, targets) == pytest.approx(13 / 18)
    # A predicted class absent from the targets (3) adds no term: class 0 recall 1/2, class 1 recall 1 -> 0.75.
    assert balanced_accuracy(np.array([0, 3, 1]), np.array([0, 0, 1])) == pytest.approx(0.75)


def test_balanced_accuracy_matches_sklearn():
    rng = np.random.default_rng(1)
    targets = rng.integers(0, 6, size=300)
    preds = np.where(rng.random(300) < 0.6, targets, rng.integers(0, 6, size=300))
    assert balanced_accuracy(preds, targets) == pytest.approx(skm.balanced_accuracy_score(targets, preds))
    # Imbalanced classes, where balanced accuracy differs from plain accuracy.
    targets = np.minimum(rng.geometric(0.4, size=300) - 1, 5)
    preds = np.where(rng.random(300) < 0.5, targets, 0)
    assert balanced_accuracy(preds, targets) == pytest.approx(skm.balanced_accuracy_score(targets, preds))
    assert balanced_accuracy(preds, targets) != pytest.approx(float((preds == targets).mean()))


def test_balanced_accuracy_ignores_predicted_classes_absent_from_targets_without_warning():
    rng = np.random.default_rng(11)
    targets = rng.integers(0, 4, size=200)
    preds = np.where(rng.random(200) < 0.5, targets, rng.integers(4, 7, size=200))  # classes 4-6 never true
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = skm.balanced_accuracy_score(targets, preds)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert balanced_accuracy(preds, targets) == pytest.approx(expected)


def test_balanced_accuracy_accepts_torch_tensors_and_rejects_bad_inputs():
    torch = pytest.importorskip("torch")
    assert balanced_accuracy(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1])) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="at least one sample"):
        balanced_accuracy(np.array([], dtype=int), np.array([], dtype=int))
    with pytest.raises(ValueError, match="integer"):
        balanced_accuracy(np.array([0.5]), np.array([0]))


def test_confusion_matrix_hand_computed():
    targets = np.array([0, 0, 1, 2, 2])
    preds = np.array([0, 1, 1, 2, 0])
    # Row = true class, column = prediction: true 0 -> predicted {0, 1}; true 1 -> {1}; true 2 -> {2, 0};
    # class 3 never occurs, so its row and column are zero.
    expected = np.array([[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(confusion_matrix(preds, targets, 4), expected)


def test_confusion_matrix_matches_sklearn():
    rng = np.random.default_rng(2)
    targets, preds = rng.integers(0, 7, size=(2, 250))
    out = confusion_matrix(preds, targets, 7)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, skm.confusion_matrix(targets, preds, labels=np.arange(7)))
    # Classes 5 and 6 never occur, neither as target nor as prediction: their rows and columns stay zero.
    targets, preds = np.minimum(targets, 4), np.minimum(preds, 4)
    out = confusion_matrix(preds, targets, 7)
    np.testing.assert_array_equal(out, skm.confusion_matrix(targets, preds, labels=np.arange(7)))
    assert out[5:].sum() == out[:, 5:].sum() == 0
    assert out.sum() == 250


def test_confusion_matrix_of_no_samples_is_zero():
    out = confusion_matrix(np.array([], dtype=int), np.array([], dtype=int), 3)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, np.zeros((3, 3)))


def test_confusion_matrix_rejects_bad_inputs():
    with pytest.raises(ValueError, match="predictions must lie"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="entries"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 3)


# --------------------------------------------------------------------------------------------------- AUROC


def test_binary_auroc_hand_computed():
    # Positives 0.35 and 0.8 against negatives 0.1 and 0.4: of the 4 (pos, neg) pairs only (0.35, 0.4) is
    # ordered wrongly -> 3/4.
    assert auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == pytest.approx(0.75)
    # With a tie: positives 0.5 and 0.9, negatives 0.5 and 0.2. Pairs: (0.5, 0.5) ties and counts 1/2, the
    # other three are right -> 3.5 / 4 = 0.875. (Ranks: 0.2 -> 1, 0.5 -> 2.5 twice, 0.9 -> 4;
    # U = 2.5 + 4 - 2*3/2 = 3.5.)
    assert auroc(np.array([0.5, 0.5, 0.2, 0.9]), np.array([1, 0, 0, 1])) == pytest.approx(0.875)


def test_multiclass_auroc_hand_computed():
    scores = np.array(
        [
            [0.7, 0.2, 0.1],
            [0.2, 0.5, 0.3],
            [0.3, 0.3, 0.4],
            [0.6, 0.1, 0.3],
        ]
    )
    targets = np.array([0, 1, 2, 2])
    # Class 0: its positive (0.7) beats 0.2, 0.3, 0.6 -> 1. Class 1: 0.5 beats 0.2, 0.3, 0.1 -> 1.
    # Class 2: positives 0.4, 0.3 vs negatives 0.1, 0.3: three wins and one tie -> 3.5/4 = 0.875.
    # Macro average: (1 + 1 + 0.875) / 3 = 0.958333...
    assert auroc(scores, targets) == pytest.approx(2.875 / 3)
    assert auroc(scores, targets) == pytest.approx(skm.roc_auc_score(targets, scores, multi_class="ovr"))
    # A fourth class that never occurs in the targets is skipped, not counted as 0 or NaN.
    with_absent = np.hstack([scores, np.full((4, 1), 0.05)])
    assert auroc(with_absent, targets) == pytest.approx(2.875 / 3)


def test_binary_auroc_matches_sklearn_with_and_without_ties():
    rng = np.random.default_rng(3)
    targets = rng.integers(0, 2, size=400)
    scores = rng.normal(size=400) + targets
    assert auroc(scores, targets) == pytest.approx(skm.roc_auc_score(targets, scores))
    tied = np.round(scores, 1)  # many ties
    assert auroc(tied, targets) == pytest.approx(skm.roc_auc_score(targets, tied))
    assert auroc(tied, targets.astype(bool)) == pytest.approx(skm.roc_auc_score(targets, tied))


def test_multiclass_auroc_matches_sklearn_ovr_macro():
    rng = np.random.default_rng(4)
    targets = rng.integers(0, 5, size=300)
    probs = _softmax(rng.normal(size=(300, 5)) + 1.5 * np.eye(5)[targets])
    expected = skm.roc_auc_score(targets, probs, multi_class="ovr", average="macro")
    assert auroc(probs, targets) == pytest.approx(expected)
    tied = _softmax(_tied(rng, (300, 5)) + np.eye(5)[targets])  # rows tie, so columns have many ties too
    expected = skm.roc_auc_score(targets, tied, multi_class="ovr", average="macro")
    assert auroc(tied, targets) == pytest.approx(expected)


def _ovr_reference(scores: np.ndarray, targets: np.ndarray) -> float:
    """sklearn's binary AUROC of every class present in ``targets`` against the rest, averaged."""
    return float(np.mean([skm.roc_auc_score(targets == c, scores[:, c]) for c in np.unique(targets)]))


def test_multiclass_auroc_on_logits_and_with_absent_classes():
    # sklearn's multi_class="ovr" wants probabilities and every class present; ours takes raw logits and skips
    # absent classes, and still equals sklearn's per-class binary AUROC.
    rng = np.random.default_rng(12)
    targets = rng.choice([0, 2, 3, 5], size=250)  # classes 1 and 4 of 6 never occur
    logits = _tied(rng, (250, 6)) + np.eye(6)[targets] - 3.0
    assert auroc(logits, targets) == pytest.approx(_ovr_reference(logits, targets))
    with pytest.raises(ValueError):
        skm.roc_auc_score(targets, logits, multi_class="ovr")


def test_auroc_rejects_one_class_and_bad_inputs():
    with pytest.raises(ValueError, match="only one class"):
        auroc(np.array([0.1, 0.2, 0.3]), np.array([1, 1, 1]))
    with pytest.raises(ValueError, match="only one class"):
        auroc(np.ones((3, 3)), np.array([2, 2, 2]))
    with pytest.raises(ValueError, match="0/1"):
        auroc(np.array([0.1, 0.2]), np.array([0, 2]))
    with pytest.raises(ValueError, match="entries"):
        auroc(np.array([0.1, 0.2]), np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="1-D or 2-D"):
        auroc(np.zeros((2, 2, 2)), np.array([0, 1]))


# ----------------------------------------------------------------------------------------------- bootstrap


def _auroc_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, 2, size=n)
    return rng.normal(size=n) + targets, targets


def test_auroc_with_ci_contains_point_estimate_and_narrows_with_more_data():
    scores, targets = _auroc_data(60, seed=5)
    small = auroc_with_ci(scores, targets, n_resamples=150)
    assert small["auroc"] == pytest.approx(skm.roc_auc_score(targets, scores))
    large = auroc_with_ci(*_auroc_data(1500, seed=5), n_resamples=150)
    for result in (small, large):
        assert set(result) == {"auroc", "ci_low", "ci_high"}
        assert result["ci_low"] < result["auroc"] < result["ci_high"]
    assert large["ci_high"] - large["ci_low"] < 0.5 * (small["ci_high"] - small["ci_low"])


def _mean_gap(scores: np.ndarray, targets: np.ndarray) -> float:
    """A cheap two-array metric (sklearn's AUROC costs milliseconds a call)."""
    return float(scores[targets == 1].mean() - scores[targets == 0].mean())


def test_bootstrap_ci_is_seeded_and_respects_confidence():
    scores, targets = _auroc_data(200, seed=6)
    first = bootstrap_ci(_mean_gap, scores, targets, n_resamples=300, seed=1)
    assert first == bootstrap_ci(_mean_gap, scores, targets, n_resamples=300, seed=1)
    assert first != bootstrap_ci(_mean_gap, scores, targets, n_resamples=300, seed=2)
    narrow = bootstrap_ci(_mean_gap, scores, targets, n_resamples=300, confidence=0.5, seed=1)
    assert first[0] < narrow[0] < narrow[1] < first[1]
    # A constant column has a degenerate interval.
    assert bootstrap_ci(np.mean, np.full(10, 3.0), n_resamples=20) == (3.0, 3.0)
    # auroc_with_ci is seeded too.
    assert auroc_with_ci(scores, targets, n_resamples=30, seed=3) == auroc_with_ci(
        scores, targets, n_resamples=30, seed=3
    )


def test_bootstrap_ci_resamples_rows_of_all_arrays_together():
    # a == b row by row: resampling rows jointly keeps every pair equal; independent resampling would not.
    a = np.arange(50)
    assert bootstrap_ci(lambda x, y: float((x == y).mean()), a, a.copy(), n_resamples=50) == (1.0, 1.0)
    # Rows of 2-D arrays are resampled whole: every row of x sums to 0.
    x = np.stack([a, -a], axis=1)
    assert bootstrap_ci(lambda m: float(np.abs(m.sum(axis=1)).max()), x, n_resamples=20) == (0.0, 0.0)


def test_bootstrap_ci_covers_the_true_mean_at_about_the_nominal_rate():
    # 90% intervals of the mean of 40 draws from N(0, 1), over 200 seeded data sets: about 180 should hold 0.
    # (The percentile bootstrap undercovers a little at this size; a broken one, e.g. one that ignores
    # ``confidence`` or uses the spread of single draws, lands far outside the bounds.)
    rng = np.random.default_rng(13)
    covered = 0
    for _ in range(200):
        low, high = bootstrap_ci(
            np.mean, rng.normal(size=40), n_resamples=200, confidence=0.9, seed=int(rng.integers(1 << 31))
        )
        covered += low <= 0.0 <= high
    assert 160 <= covered <= 192


def test_bootstrap_ci_skips_failing_resamples_and_raises_when_all_fail():
    # With 1 positive in 8, about a third of the resamples hold no positive and raise; the rest still count.
    scores = np.arange(8.0)
    targets = np.array([0, 0, 0, 0, 0, 0, 0, 1])
    low, high = bootstrap_ci(auroc, scores, targets, n_resamples=100)
    assert low == pytest.approx(1.0) and high == pytest.approx(1.0)
    with pytest.raises(ValueError, match="failed on all 50"):
        bootstrap_ci(auroc, scores, np.ones(8, dtype=int), n_resamples=50)


def test_bootstrap_ci_rejects_bad_inputs():
    with pytest.raises(ValueError, match="same length"):
        bootstrap_ci(auroc, np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(np.mean, np.zeros(3), confidence=1.0)
    with pytest.raises(ValueError, match="at least one array"):
        bootstrap_ci(np.mean)


# ----------------------------------------------------------------------------------------------- retrieval

# Query i matches gallery item i. q0: item 0 scores highest -> rank 1. q1: item 1 (0.3) is beaten by 0.8 and
# 0.6 -> rank 3. q2: item 2 (0.4) is beaten by 0.7 -> rank 2.
SIM = np.array([[0.9, 0.1, 0.5], [0.8, 0.3, 0.6], [0.2, 0.7, 0.4]])


def test_first_relevant_rank_and_rank_metrics_hand_computed():
    np.testing.assert_array_equal(first_relevant_rank(SIM), [1, 3, 2])
    np.testing.assert_array_equal(first_relevant_rank(SIM, np.eye(3, dtype=bool)), [1, 3, 2])
    # Ranks 1, 3, 2: R@1 = 1/3, R@2 = 2/3, R@5 = 1.
    assert recall_at_k(SIM, None, ks=(1, 2, 5)) == pytest.approx({1: 1 / 3, 2: 2 / 3, 5: 1.0})
    # MRR = (1 + 1/3 + 1/2) / 3 = 11/18; median of {1, 3, 2} = 2.
    assert mean_reciprocal_rank(SIM) == pytest.approx(11 / 18)
    assert median_rank(SIM) == 2.0
    # Top 2 of q0: items 0, 2 (1 relevant); q1: items 0, 2 (none); q2: items 1, 2 (1) -> (1/2 + 0 + 1/2)/3.
    # P@1 = R@1 = 1/3 with one relevant item each; P@3 is 1/3 for every query; P@10 is clamped to P@3.
    assert precision_at_k(SIM, None, ks=(1, 2, 3, 10)) == pytest.approx({1: 1 / 3, 2: 1 / 3, 3: 1 / 3, 10: 1 / 3})


def test_retrieval_metrics_hand_computed():
    # nDCG with one relevant item: ideal DCG = 1, DCG = 1 / log2(1 + rank) = 1, 1/2, 1/log2(3).
    ndcg = (1 + 0.5 + 1 / math.log2(3)) / 3
    out = retrieval_metrics(SIM, prefix="image_to_text_")
    assert out == pytest.approx(
        {
            "image_to_text_R@1": 1 / 3,
            "image_to_text_R@5": 1.0,
            "image_to_text_R@10": 1.0,
            "image_to_text_MRR": 11 / 18,
            "image_to_text_median_rank": 2.0,
            "image_to_text_nDCG@10": ndcg,
        }
    )
    assert retrieval_metrics(SIM, ks=(2, 1)) == pytest.approx(
        {"R@2": 2 / 3, "R@1": 1 / 3, "MRR": 11 / 18, "median_rank": 2.0, "nDCG@2": (1 + 0 + 1 / math.log2(3)) / 3}
    )


def test_retrieval_with_several_relevant_items_per_query():
    sim = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4]])
    relevant = np.array([[False, True, False, True], [True, True, False, False]])
    # q0 order: items 0, 1, 2, 3 -> first relevant (item 1) at rank 2; q1 order: 3, 2, 1, 0 -> rank 3.
    np.testing.assert_array_equal(first_relevant_rank(sim, relevant), [2, 3])
    assert recall_at_k(sim, relevant, ks=(1, 2, 3)) == pytest.approx({1: 0.0, 2: 0.5, 3: 1.0})
    assert mean_reciprocal_rank(sim, relevant) == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert median_rank(sim, relevant) == 2.5
    # q0 top 2 = {0, 1}: 1 relevant of 2; q1 top 2 = {3, 2}: none -> P@2 = 1/4. Top 4: 2 of 4 each -> 1/2.
    assert precision_at_k(sim, relevant, ks=(2, 4)) == pytest.approx({2: 0.25, 4: 0.5})
    # nDCG@4 of q0: DCG = 1/log2(3) + 1/log2(5), ideal = 1 + 1/log2(3); q1: DCG = 1/log2(4) + 1/log2(5).
    q0 = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    q1 = (1 / math.log2(4) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(sim, relevant, ks=(4,))[4] == pytest.approx((q0 + q1) / 2)
    assert ndcg_at_k(sim, relevant, ks=(4,))[4] == pytest.approx(skm.ndcg_score(relevant, sim, k=4))


def test_retrieval_ties_are_pessimistic():
    # All three items tie: the relevant one is ranked after both irrelevant ones.
    flat = np.full((1, 3), 0.5)
    relevant = np.array([[False, True, False]])
    np.testing.assert_array_equal(first_relevant_rank(flat, relevant), [3])
    assert recall_at_k(flat, relevant, ks=(1, 2, 3)) == {1: 0.0, 2: 0.0, 3: 1.0}
    assert precision_at_k(flat, relevant, ks=(1, 2)) == {1: 0.0, 2: 0.0}
    assert ndcg_at_k(flat, relevant, ks=(3,))[3] == pytest.approx(1 / math.log2(4))
    # Two relevant items tied at the top: the best of them is still rank 1.
    np.testing.assert_array_equal(first_relevant_rank([[1.0, 1.0, 0.0]], [[True, True, False]]), [1])


def test_ndcg_graded_hand_computed():
    sim = np.array([[0.9, 0.8, 0.7]])
    gains = np.array([[1.0, 3.0, 0.0]])
    # Ranked gains 1, 3, 0: DCG@3 = 1/log2(2) + 3/log2(3) + 0. Ideal order 3, 1, 0: 3 + 1/log2(3).
    # nDCG@1 = 1 / 3.
    expected = (1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3))
    assert ndcg_at_k(sim, gains, ks=(1, 3)) == pytest.approx({1: 1 / 3, 3: expected})


def test_ndcg_matches_sklearn_binary_and_graded():
    rng = np.random.default_rng(7)
    sim = rng.normal(size=(40, 30))
    graded = rng.integers(0, 4, size=(40, 30)).astype(float)
    graded[:, 0] = np.maximum(graded[:, 0], 1)  # every query has a relevant item (sklearn counts others as 0)
    binary = graded >= 2
    binary[:, 0] = True
    for gains in (graded, binary):
        ours = ndcg_at_k(sim, gains, ks=(1, 5, 10, 30))
        for k in (1, 5, 10, 30):
            assert ours[k] == pytest.approx(skm.ndcg_score(gains, sim, k=k))


def test_rank_metrics_match_sklearn_with_one_relevant_item():
    rng = np.random.default_rng(8)
    sim = rng.normal(size=(50, 50)) + 2.0 * np.eye(50)
    queries = np.arange(50)
    # With the identity relevance, R@k is top-k accuracy of "class i" for query i, and the label ranking
    # average precision of a single relevant label is 1 / its rank, i.e. MRR.
    ours = recall_at_k(sim, None, ks=(1, 5, 10))
    for k in (1, 5, 10):
        assert ours[k] == pytest.approx(skm.top_k_accuracy_score(queries, sim, k=k, labels=queries))
    assert mean_reciprocal_rank(sim) == pytest.approx(skm.label_ranking_average_precision_score(np.eye(50), sim))
    # Coverage error with one relevant label is its rank.
    assert first_relevant_rank(sim).mean() == pytest.approx(skm.coverage_error(np.eye(50), sim))


def _reference_retrieval(sim: np.ndarray, gains: np.ndarray, k: int) -> dict[str, float]:
    """Per-query loop over a full sort; only meaningful on tie-free rows."""
    first, prec = [], []
    for s, g in zip(sim, gains, strict=True):
        if not (g > 0).any():
            continue
        ranked = g[np.argsort(-s)] > 0
        first.append(int(np.argmax(ranked)) + 1)
        prec.append(ranked[:k].sum() / min(k, len(ranked)))
    first = np.array(first)
    return {
        "recall": float((first <= k).mean()),
        "precision": float(np.mean(prec)),
        "mrr": float((1.0 / first).mean()),
        "median": float(np.median(first)),
    }


def test_retrieval_with_several_relevant_items_matches_a_direct_computation_without_ties():
    rng = np.random.default_rng(14)
    sim = rng.normal(size=(60, 25))
    relevant = rng.random((60, 25)) < 0.1
    relevant[:5] = False  # five queries with nothing to find are skipped
    assert relevant[5:].sum(axis=1).max() > 1
    for k in (1, 3, 10, 40):
        ref = _reference_retrieval(sim, relevant, k)
        assert recall_at_k(sim, relevant, ks=(k,))[k] == pytest.approx(ref["recall"])
        assert precision_at_k(sim, relevant, ks=(k,))[k] == pytest.approx(ref["precision"])
    assert mean_reciprocal_rank(sim, relevant) == pytest.approx(ref["mrr"])
    assert median_rank(sim, relevant) == pytest.approx(ref["median"])
    keep = relevant.any(axis=1)
    assert ndcg_at_k(sim, relevant, ks=(10,))[10] == pytest.approx(skm.ndcg_score(relevant[keep], sim[keep], k=10))


def test_retrieval_ties_equal_sklearn_after_a_pessimistic_tie_break():
    # On tied similarities, every retrieval metric equals the tie-free computation (sklearn's ndcg_score, the
    # direct loop) on similarities where each relevant item is pushed just below the items it ties with, in
    # order of gain. sklearn's own tie handling (gains averaged over ties) is more generous.
    rng = np.random.default_rng(15)
    sim = _tied(rng, (80, 12))
    gains = rng.integers(0, 3, size=(80, 12)).astype(float)
    gains[:, 0] = np.maximum(gains[:, 0], 1)  # every query has a relevant item
    broken = sim - 1e-3 * gains
    for k in (1, 3, 12):
        ref = _reference_retrieval(broken, gains, k)
        assert recall_at_k(sim, gains, ks=(k,))[k] == pytest.approx(ref["recall"])
        assert precision_at_k(sim, gains, ks=(k,))[k] == pytest.approx(ref["precision"])
        assert ndcg_at_k(sim, gains, ks=(k,))[k] == pytest.approx(skm.ndcg_score(gains, broken, k=k))
        assert ndcg_at_k(sim, gains, ks=(k,))[k] < skm.ndcg_score(gains, sim, k=k)
    assert mean_reciprocal_rank(sim, gains) == pytest.approx(ref["mrr"])
    assert median_rank(sim, gains) == pytest.approx(ref["median"])


def test_pessimistic_rank_equals_sklearn_coverage_error_and_lrap_with_ties():
    # With one relevant item per query, sklearn's coverage_error and label_ranking_average_precision_score
    # also rank ties pessimistically ("maximal rank"), so they equal ours even on heavily tied similarities.
    rng = np.random.default_rng(16)
    sim = _tied(rng, (60, 60)) + np.eye(60)
    assert first_relevant_rank(sim).mean() == pytest.approx(skm.coverage_error(np.eye(60), sim))
    assert mean_reciprocal_rank(sim) == pytest.approx(skm.label_ranking_average_precision_score(np.eye(60), sim))
    # Whereas the optimistic rank (strictly higher scores only) would be better on these ties.
    optimistic = 1 + (sim > np.diag(sim)[:, None]).sum(axis=1)
    assert optimistic.mean() < first_relevant_rank(sim).mean()


def test_queries_without_relevant_items():
    relevant = np.eye(3, dtype=bool)
    relevant[1] = False  # q1 (rank 3 in SIM) has nothing to find: skipped, leaving ranks 1 and 2
    assert recall_at_k(SIM, relevant, ks=(1,)) == {1: 0.5}
    assert mean_reciprocal_rank(SIM, relevant) == pytest.approx(0.75)
    assert ndcg_at_k(SIM, relevant, ks=(3,))[3] == pytest.approx((1 + 1 / math.log2(3)) / 2)
    with pytest.raises(ValueError, match=r"queries \[1\]"):
        first_relevant_rank(SIM, relevant)
    with pytest.raises(ValueError, match="no query has a relevant"):
        retrieval_metrics(SIM, np.zeros((3, 3), dtype=bool))


def test_retrieval_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    out = retrieval_metrics(torch.tensor(SIM, dtype=torch.float32), torch.eye(3, dtype=torch.bool))
    assert out["MRR"] == pytest.approx(11 / 18)


@pytest.mark.parametrize(
    ("sim", "relevant", "match"),
    [
        (np.zeros(3), None, "2-D"),
        (np.zeros((2, 3)), None, "Q == G"),
        (np.zeros((2, 3)), np.zeros((3, 2), dtype=bool), "must match"),
        (np.zeros((2, 2)), -np.eye(2), "non-negative"),
        (np.array([[np.nan, 0.0], [0.0, 0.0]]), None, "NaN"),
        (np.zeros((0, 0)), None, "non-empty"),
    ],
)
def test_retrieval_rejects_bad_inputs(sim, relevant, match):
    for fn in (first_relevant_rank, mean_reciprocal_rank, median_rank, retrieval_metrics):
        with pytest.raises(ValueError, match=match):
            fn(sim, relevant)
    for fn in (recall_at_k, precision_at_k, ndcg_at_k):
        with pytest.raises(ValueError, match=match):
            fn(sim, relevant, (1,))
    with pytest.raises(ValueError, match="positive integer"):
        recall_at_k(SIM, None, ks=(1, -2))
