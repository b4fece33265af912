"""Held-out metrics beyond core's: attribute-query product search and composed retrieval (Combiner vs sum)."""

from __future__ import annotations

import numpy as np
import torch
from clipzoo.core.data import Manifest
from clipzoo.core.metrics import retrieval_metrics
from clipzoo.core.model import ClipModel
from clipzoo.core.zeroshot import encode_texts

from .composed import composed_metrics
from .triplets import read_triplets, triplets_path_for

QUERY_COLUMNS = ("colour", "pattern", "category")  # in the order a shopper types them: "red striped dress"


def attribute_queries(manifest: Manifest) -> tuple[list[str], np.ndarray]:
    """One search query per distinct attribute combination of the manifest, and which rows match it."""
    columns = [c for c in QUERY_COLUMNS if c in manifest.frame.columns]
    if not columns:
        return [], np.zeros((0, len(manifest)), dtype=bool)
    values = manifest.frame[columns].astype(str)
    keys = [tuple(row) for row in values.itertuples(index=False)]
    unique = list(dict.fromkeys(keys))
    position = {key: i for i, key in enumerate(unique)}
    relevant = np.zeros((len(unique), len(keys)), dtype=bool)
    relevant[[position[k] for k in keys], np.arange(len(keys))] = True
    return [" ".join(key) for key in unique], relevant


@torch.no_grad()
def text_to_product_metrics(clip: ClipModel, manifest: Manifest, features: torch.Tensor) -> dict[str, float]:
    """``text_to_product_R@1/R@10/MRR``: attribute queries ("black checked bag") ranking every product; all
    products with those attributes are relevant (FashionCLIP's text-to-product retrieval on a catalogue)."""
    queries, relevant = attribute_queries(manifest)
    if not queries:
        return {}
    sim = encode_texts(clip, queries) @ features.float().T
    out = retrieval_metrics(sim, relevant, ks=(1, 10), prefix="text_to_product_")
    out["text_to_product_queries"] = float(len(queries))
    return out


def fashion_metrics(clip: ClipModel, manifest: Manifest, features: torch.Tensor) -> dict[str, float]:
    """Product search, and composed retrieval when ``<manifest>.triplets.csv`` lies beside the manifest."""
    out = text_to_product_metrics(clip, manifest, features)
    triplet_file = triplets_path_for(manifest.source)
    if triplet_file.is_file():
        out.update(composed_metrics(clip, features, read_triplets(triplet_file, manifest)))
    return out
