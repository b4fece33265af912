"""clipzoo.core.metrics against hand-computed values on tiny examples and against scikit-learn on random data."""

from __future__ import annotations

import math

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
    np.testing.assert_array_equal(
        confusion_matrix(preds, targets, 7), skm.confusion_matrix(targets, preds, labels=np.arange(7))
    )


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
    small = auroc_with_ci(*_auroc_data(60, seed=5), n_resamples=300)
    large = auroc_with_ci(*_auroc_data(1500, seed=5), n_resamples=300)
    for result in (small, large):
        assert set(result) == {"auroc", "ci_low", "ci_high"}
        assert result["ci_low"] < result["auroc"] < result["ci_high"]
    assert large["ci_high"] - large["ci_low"] < 0.5 * (small["ci_high"] - small["ci_low"])


def test_bootstrap_ci_is_seeded_and_respects_confidence():
    scores, targets = _auroc_data(200, seed=6)
    first = bootstrap_ci(auroc, scores, targets, n_resamples=200, seed=1)
    assert first == bootstrap_ci(auroc, scores, targets, n_resamples=200, seed=1)
    narrow = bootstrap_ci(auroc, scores, targets, n_resamples=200, confidence=0.5, seed=1)
    assert first[0] <= narrow[0] <= narrow[1] <= first[1]
    # A constant column has a degenerate interval.
    assert bootstrap_ci(np.mean, np.full(10, 3.0), n_resamples=20) == (3.0, 3.0)


def test_bootstrap_ci_skips_failing_resamples_and_raises_when_all_fail():
    # With 1 positive in 8, about a third of the resamples hold no positive and raise; the rest still count.
    scores = np.arange(8.0)
    targets = np.array([0, 0, 0, 0, 0, 0, 0, 1])
    low, high = bootstrap_ci(auroc, scores, targets, n_resamples=100)
    assert low == high == 1.0
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
