"""A product index: L2-normalised embeddings in a faiss index with their product ids, saved as a folder.

``flat`` (``IndexFlatIP``) is exact and the default. For large catalogues, ``ivf`` (``IndexIVFFlat``, inner
product, ``nprobe`` lists searched) and ``hnsw`` (``IndexHNSWFlat``, ``ef_search``) are approximate; measure what
they lose with ``recall_against`` an exact index (``scripts/bench/fashion.py``). Their default search settings suit
clustered embeddings; on structureless data (200k random 256-d unit vectors) recall@10 >= 0.9 takes nprobe >= 3/4 of
nlist or efSearch > 1024, no faster than exact search. A request may raise them (``nprobe``, ``ef_search`` options).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from clipzoo.core.errors import InputError

KINDS = ("flat", "ivf", "hnsw")
INDEX_FILE = "index.faiss"
IDS_FILE = "ids.json"
META_FILE = "meta.json"


@dataclass
class IndexParams:
    kind: str = "flat"
    nlist: int | None = None  # ivf: number of lists; default 4 * sqrt(n), at most n / 39 (faiss' k-means minimum)
    nprobe: int = 16  # ivf: lists searched per query
    hnsw_m: int = 32  # hnsw: neighbours per node
    ef_construction: int = 80
    ef_search: int = 64
    extra: dict[str, Any] = field(default_factory=dict)  # what the catalogue was built from (model, manifest)


def _as_matrix(vectors: Any, what: str) -> np.ndarray:
    arr = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if arr.ndim != 2:
        raise InputError(f"{what} must be a 2-D array [n, dim], got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputError(f"{what} hold NaN or infinite values")
    return arr


def normalize(vectors: np.ndarray) -> np.ndarray:
    out = vectors.copy()
    faiss.normalize_L2(out)
    return out


class ProductIndex:
    """Product ids and a faiss index over their embeddings (inner product of unit vectors = cosine)."""

    def __init__(self, index: faiss.Index, ids: list[str], params: IndexParams):
        self.index, self.ids, self.params = index, ids, params

    @property
    def dim(self) -> int:
        return self.index.d

    def __len__(self) -> int:
        return self.index.ntotal

    @classmethod
    def build(cls, embeddings: Any, ids: list[str], params: IndexParams | None = None) -> ProductIndex:
        params = params or IndexParams()
        if params.kind not in KINDS:
            raise InputError(f"unknown index kind {params.kind!r}; choose one of {KINDS}")
        vectors = _as_matrix(embeddings, "catalogue embeddings")
        if len(vectors) == 0:
            raise InputError("the catalogue is empty: there are no products to index")
        if len(ids) != len(vectors):
            raise InputError(f"{len(ids)} product ids for {len(vectors)} embeddings")
        if len(set(ids)) != len(ids):
            raise InputError("product ids in a catalogue must be unique")
        vectors = normalize(vectors)
        n, d = vectors.shape
        if params.kind == "flat":
            index = faiss.IndexFlatIP(d)
        elif params.kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = params.ef_construction
        else:
            nlist = params.nlist or max(1, min(int(4 * math.sqrt(n)), n // 39))
            params.nlist = nlist
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(vectors)
        index.add(vectors)
        built = cls(index, [str(i) for i in ids], params)
        built.set_search_params()
        return built

    def set_search_params(self) -> None:
        if self.params.kind == "ivf":
            faiss.extract_index_ivf(self.index).nprobe = self.params.nprobe
        elif self.params.kind == "hnsw":
            self.index.hnsw.efSearch = self.params.ef_search

    def search_rows(self, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and row numbers ``[Q, k]`` (row -1 where an approximate index found fewer than k)."""
        q = _as_matrix(queries, "queries")
        if q.shape[1] != self.dim:
            raise InputError(f"query embeddings are {q.shape[1]}-d but the catalogue index is {self.dim}-d")
        if k < 1:
            raise InputError(f"k must be >= 1, got {k}")
        return self.index.search(normalize(q), min(k, len(self)))

    def search(self, queries: Any, k: int = 10) -> list[list[tuple[str, float]]]:
        """Top-k ``(product id, cosine)`` per query, best first."""
        scores, rows = self.search_rows(queries, k)
        return [
            [(self.ids[r], float(s)) for s, r in zip(srow, rrow, strict=True) if r >= 0]
            for srow, rrow in zip(scores, rows, strict=True)
        ]

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{INDEX_FILE}.tmp-{os.getpid()}"
        faiss.write_index(self.index, str(tmp))
        os.replace(tmp, folder / INDEX_FILE)
        (folder / IDS_FILE).write_text(json.dumps(self.ids))
        meta = {**asdict(self.params), "dim": self.dim, "count": len(self)}
        (folder / META_FILE).write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ProductIndex:
        folder = Path(folder)
        for name in (INDEX_FILE, IDS_FILE, META_FILE):
            if not (folder / name).is_file():
                raise InputError(f"not a product index folder (no {name})", folder)
        meta = json.loads((folder / META_FILE).read_text())
        params = IndexParams(**{k: v for k, v in meta.items() if k not in ("dim", "count")})
        try:
            index = faiss.read_index(str(folder / INDEX_FILE))
        except RuntimeError as err:
            raise InputError(f"cannot read the faiss index: {err}", folder / INDEX_FILE) from err
        ids = json.loads((folder / IDS_FILE).read_text())
        if len(ids) != index.ntotal:
            raise InputError(f"{len(ids)} ids for an index of {index.ntotal} vectors", folder)
        if index.ntotal == 0:
            raise InputError("the catalogue index is empty", folder)
        loaded = cls(index, ids, params)
        loaded.set_search_params()
        return loaded


def recall_against(approx_rows: np.ndarray, exact_rows: np.ndarray) -> float:
    """Mean fraction of the exact top-k found in the approximate top-k (recall@k of the approximate index)."""
    k = exact_rows.shape[1]
    hits = [len(set(a[a >= 0]) & set(e)) for a, e in zip(approx_rows, exact_rows, strict=True)]
    return float(np.mean(hits) / k)
