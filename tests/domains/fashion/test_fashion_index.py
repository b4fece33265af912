"""The faiss product index: exact by default, approximate with measured recall, saved and loaded, bad input named."""

from __future__ import annotations

import numpy as np
import pytest
from clipzoo.core.errors import InputError
from clipzoo.domains.fashion.index import IndexParams, ProductIndex, recall_against


def _clustered(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, d))
    x = centres[rng.integers(0, 20, n)] + 0.3 * rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_flat_index_is_exact_cosine_search(tmp_path):
    x = _clustered(500)
    ids = [f"P{i}" for i in range(500)]
    index = ProductIndex.build(x * 3.0, ids)  # unnormalised input is normalised
    queries = _clustered(7, seed=1)
    hits = index.search(queries, k=5)
    expected = np.argsort(-(queries @ x.T), axis=1)[:, :5]
    assert [[pid for pid, _ in row] for row in hits] == [[ids[i] for i in row] for row in expected]
    assert hits[0][0][1] == pytest.approx(float((queries[0] @ x.T).max()), abs=1e-5)
    loaded = ProductIndex.load(index.save(tmp_path / "idx"))
    assert loaded.search(queries, k=5) == hits and loaded.params.kind == "flat"


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_indexes_recall_most_of_the_exact_top10(kind, tmp_path):
    x = _clustered(4000)
    ids = [str(i) for i in range(len(x))]
    queries = _clustered(50, seed=2)
    exact = ProductIndex.build(x, ids)
    approx = ProductIndex.build(x, ids, IndexParams(kind=kind, nprobe=8, ef_search=64))
    _, exact_rows = exact.search_rows(queries, 10)
    _, approx_rows = approx.search_rows(queries, 10)
    recall = recall_against(approx_rows, exact_rows)
    assert 0.8 < recall <= 1.0
    loaded = ProductIndex.load(approx.save(tmp_path / kind))
    assert np.array_equal(loaded.search_rows(queries, 10)[1], approx_rows), "search settings survive a reload"
    assert recall_against(exact_rows[:, ::-1], exact_rows) == 1.0
    assert recall_against(np.full_like(exact_rows, -1), exact_rows) == 0.0


def test_bad_catalogues_and_queries_are_refused(tmp_path):
    with pytest.raises(InputError, match="catalogue is empty"):
        ProductIndex.build(np.zeros((0, 8), np.float32), [])
    with pytest.raises(InputError, match="unique"):
        ProductIndex.build(np.eye(2, dtype=np.float32), ["a", "a"])
    with pytest.raises(InputError, match="unknown index kind"):
        ProductIndex.build(np.eye(2, dtype=np.float32), ["a", "b"], IndexParams(kind="lsh"))
    index = ProductIndex.build(np.eye(4, dtype=np.float32), list("abcd"))
    with pytest.raises(InputError, match="3-d but the catalogue index is 4-d"):
        index.search(np.ones((1, 3), np.float32))
    hits = index.search(np.eye(4, dtype=np.float32)[:1], k=50)[0]
    assert len(hits) == 4 and hits[0][0] == "a"
    with pytest.raises(InputError, match="not a product index folder"):
        ProductIndex.load(tmp_path)
