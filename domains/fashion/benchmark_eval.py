"""Composed-retrieval benchmarks (FashionIQ's protocol, as CLIP4Cir reports it): per category, each (reference,
modification) query ranks that category's gallery (the reference left out), R@10 and R@50 per category and their
means. Queries go through the trained Combiner when the model has one, else the element-wise sum of embeddings."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from clipzoo.core.benchmark import Benchmark
from clipzoo.core.benchmark_eval import BenchmarkReport
from clipzoo.core.data import Manifest
from clipzoo.core.domain import get_domain
from clipzoo.core.evaluate import encode_manifest
from clipzoo.core.metrics import recall_at_k
from clipzoo.core.model import ClipModel
from clipzoo.core.zeroshot import encode_texts

from .combiner import get_combiner, sum_query
from .triplets import read_triplets, triplets_path_for

KS = (1, 5, 10, 50)
CATEGORY_COLUMN = "category"


@torch.no_grad()
def composed_benchmark(clip: ClipModel, benchmark: Benchmark, manifest: Manifest) -> BenchmarkReport:
    """``R@K/<category>``, ``mean_R@K`` and ``mean_R@10_50`` (the mean of R@10 and R@50, CLIP4Cir's headline)."""
    triplets = read_triplets(triplets_path_for(manifest.source), manifest)
    gallery = F.normalize(encode_manifest(clip, get_domain("fashion"), manifest).float(), dim=-1)
    unique = list(dict.fromkeys(triplets.modification))
    text = encode_texts(clip, unique)[torch.tensor([unique.index(t) for t in triplets.modification])].float()
    reference = gallery[torch.tensor(triplets.reference)]
    combiner = get_combiner(clip.model)
    if combiner is not None and combiner.is_trained:
        combiner.eval()
        query = F.normalize(combiner.mix(reference, text)[0], dim=-1)
    else:
        query = sum_query(reference, text)
    categories = (
        manifest.frame[CATEGORY_COLUMN].astype(str).to_numpy()
        if CATEGORY_COLUMN in manifest.frame.columns
        else np.array(["all"] * len(manifest))
    )
    metrics: dict[str, float] = {}
    per_k: dict[int, list[float]] = {k: [] for k in KS}
    for category in sorted(set(categories[triplets.reference])):
        rows = np.flatnonzero(categories[triplets.reference] == category)
        members = np.flatnonzero(categories == category)
        position = {row: i for i, row in enumerate(members)}
        sim = (query[rows] @ gallery[members].T).numpy().astype(np.float64)
        for q, t in enumerate(rows):
            sim[q, position[triplets.reference[t]]] = -3.0  # the reference itself ranks last
        relevant = np.zeros_like(sim, dtype=bool)
        relevant[np.arange(len(rows)), [position[triplets.target[t]] for t in rows]] = True
        recall = recall_at_k(sim, relevant, ks=KS)
        for k in KS:
            metrics[f"R@{k}/{category}"] = recall[k]
            per_k[k].append(recall[k])
    for k in KS:
        metrics[f"mean_R@{k}"] = float(np.mean(per_k[k]))
    metrics["mean_R@10_50"] = (metrics["mean_R@10"] + metrics["mean_R@50"]) / 2
    metrics["queries"] = float(len(triplets))
    return BenchmarkReport(metrics, recall_curve={k: metrics[f"mean_R@{k}"] for k in KS})
