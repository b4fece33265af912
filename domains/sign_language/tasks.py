"""Held-out sign-language metrics beyond core's: gloss-level pose<->text retrieval and few-shot kNN recognition."""

from __future__ import annotations

from collections.abc import Sequence

import faiss
import numpy as np
import torch
from clipzoo.core.metrics import median_rank, precision_at_k, recall_at_k
from clipzoo.core.model import ClipModel
from clipzoo.core.zeroshot import PromptPack, encode_texts

KS = (1, 5, 10)
SHOTS = (1, 5, 10)


def gloss_retrieval(
    clip: ClipModel, features: torch.Tensor, captions: Sequence[str], glosses: Sequence[str]
) -> dict[str, float]:
    """Pose -> text and text -> pose over the held-out captions, a caption relevant to every clip of its gloss
    (several clips share a text, so text -> pose P@k is meaningful; synonyms of a sign all count)."""
    texts = list(dict.fromkeys(captions))
    text_gloss = {c: g for c, g in zip(captions, glosses, strict=True)}
    text_emb = encode_texts(clip, texts)
    sim = (features.float() @ text_emb.T).numpy()
    relevant = np.asarray(glosses)[:, None] == np.asarray([text_gloss[t] for t in texts])[None, :]
    out: dict[str, float] = {}
    for prefix, s, rel in (("pose_to_text_", sim, relevant), ("text_to_pose_", sim.T, relevant.T)):
        out.update({f"{prefix}R@{k}": v for k, v in recall_at_k(s, rel, KS).items()})
        out.update({f"{prefix}P@{k}": v for k, v in precision_at_k(s, rel, KS).items()})
        out[f"{prefix}median_rank"] = median_rank(s, rel)
    return out


def sign_prompt_pack(glosses: Sequence[str], texts: Sequence[str], base: dict) -> PromptPack:
    """Zero-shot classes for the held-out glosses: each gloss's meanings from ``base`` (the ``sign`` pack) when it
    knows the gloss, else the held-out texts of that gloss; ``base``'s templates ("the sign for {}"...)."""
    known = base["classes"]
    classes: dict[str, list[str]] = {}
    for gloss, text in zip(glosses, texts, strict=True):
        synonyms = classes.setdefault(gloss, list(known.get(gloss, [])))
        if gloss not in known and text not in synonyms:
            synonyms.append(text)
    return PromptPack.from_dict("sign", {"templates": base["templates"], "classes": classes})


def knn_predict(support: np.ndarray, support_labels: np.ndarray, queries: np.ndarray, k: int = 1) -> np.ndarray:
    """Majority label of the ``k`` nearest support embeddings by inner product (cosine on normalised rows), faiss."""
    index = faiss.IndexFlatIP(support.shape[1])
    index.add(np.ascontiguousarray(support, dtype=np.float32))
    _, nearest = index.search(np.ascontiguousarray(queries, dtype=np.float32), min(k, len(support)))
    votes = support_labels[nearest]
    return np.array([np.bincount(row).argmax() for row in votes])


def few_shot_accuracy(
    features: torch.Tensor,
    labels: Sequence[str],
    shots: Sequence[int] = SHOTS,
    episodes: int = 20,
    seed: int = 0,
) -> dict[str, float]:
    """Isolated sign recognition by 1-nearest-neighbour over ``n`` support clips per class, averaged over random
    episodes; the other clips are the queries. Classes with fewer than ``n + 1`` clips sit out an ``n``-shot
    episode; a shot count that leaves fewer than two classes is not reported."""
    emb = features.float().numpy()
    names, y = np.unique(np.asarray(labels), return_inverse=True)
    rng = np.random.default_rng(seed)
    out: dict[str, float] = {}
    for n in shots:
        classes = [c for c in range(len(names)) if (y == c).sum() > n]
        if len(classes) < 2:
            continue
        accs = []
        for _ in range(episodes):
            support = np.concatenate([rng.choice(np.flatnonzero(y == c), n, replace=False) for c in classes])
            queries = np.setdiff1d(np.flatnonzero(np.isin(y, classes)), support)
            pred = knn_predict(emb[support], y[support], emb[queries], k=1)
            accs.append(float((pred == y[queries]).mean()))
        out[f"fewshot_{n}shot_top1"] = float(np.mean(accs))
    return out
