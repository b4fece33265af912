"""Composed image retrieval: train the Combiner on triplets with CLIP frozen (stage 2), and evaluate it.

Evaluation follows FashionIQ: each triplet's query (reference image + modification text) ranks every product of the
manifest; the target is the one relevant item, the reference itself is left out (as CIRR does), and R@10/R@50 are
reported for the Combiner and for the element-wise-sum baseline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from clipzoo.core.metrics import retrieval_metrics
from clipzoo.core.model import ClipModel
from clipzoo.core.zeroshot import encode_texts

from .combiner import get_combiner, sum_query
from .triplets import Triplets

log = logging.getLogger(__name__)

KS = (1, 10, 50)
CIR_LOGIT_SCALE = 100.0  # CLIP4Cir's fixed temperature


@dataclass
class CombinerConfig:
    epochs: int = 40
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-2
    seed: int = 0


def _query_features(clip: ClipModel, features: torch.Tensor, triplets: Triplets) -> tuple[torch.Tensor, torch.Tensor]:
    reference = features[torch.tensor(triplets.reference)]
    unique = list(dict.fromkeys(triplets.modification))  # edits repeat a lot: encode each wording once
    position = {t: i for i, t in enumerate(unique)}
    text = encode_texts(clip, unique)[torch.tensor([position[t] for t in triplets.modification])]
    return reference.float(), text.float()


def _ranks_metrics(query: torch.Tensor, gallery: torch.Tensor, triplets: Triplets, prefix: str) -> dict[str, float]:
    sim = (query @ gallery.T).numpy().astype(np.float64)
    rows = np.arange(len(triplets))
    sim[rows, triplets.reference] = -3.0  # cosine similarities lie in [-1, 1]: the reference ranks last
    relevant = np.zeros_like(sim, dtype=bool)
    relevant[rows, triplets.target] = True
    metrics = retrieval_metrics(sim, relevant, ks=KS, prefix=prefix)
    return {k: v for k, v in metrics.items() if "nDCG" not in k}


@torch.no_grad()
def composed_metrics(clip: ClipModel, features: torch.Tensor, triplets: Triplets) -> dict[str, float]:
    """``composed_sum_R@k`` always; ``composed_combiner_R@k`` and the mean lambda once the Combiner is trained."""
    gallery = F.normalize(features.float(), dim=-1)
    reference, text = _query_features(clip, gallery, triplets)
    out = _ranks_metrics(sum_query(reference, text), gallery, triplets, "composed_sum_")
    combiner = get_combiner(clip.model)
    if combiner is not None and combiner.is_trained:
        combiner.eval()
        combined, lam = combiner.mix(reference, text)
        out.update(_ranks_metrics(F.normalize(combined, dim=-1), gallery, triplets, "composed_combiner_"))
        out["composed_combiner_mean_lambda"] = float(lam.mean())
    out["composed_queries"] = float(len(triplets))
    return out


def train_combiner(
    clip: ClipModel, features: torch.Tensor, triplets: Triplets, config: CombinerConfig | None = None
) -> list[float]:
    """Stage 2: fit the model's Combiner on cached, frozen CLIP features; returns the per-epoch mean loss.

    The loss is cross-entropy of each composed query against every product of the training manifest (a superset
    of CLIP4Cir's in-batch targets, affordable because features are cached).
    """
    config = config or CombinerConfig()
    combiner = get_combiner(clip.model)
    if combiner is None:
        raise ValueError("this model has no Combiner: train it with vision_tower='fashion'")
    gallery = F.normalize(features.float(), dim=-1)
    reference, text = _query_features(clip, gallery, triplets)
    target = torch.tensor(triplets.target)
    generator = torch.Generator().manual_seed(config.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        combiner.requires_grad_(True)
        combiner.train()
        optimizer = torch.optim.AdamW(combiner.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        steps = config.epochs * max(1, -(-len(target) // config.batch_size))
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=steps)
        losses = []
        for _ in range(config.epochs):
            order = torch.randperm(len(target), generator=generator)
            epoch = []
            for start in range(0, len(order), config.batch_size):
                idx = order[start : start + config.batch_size]
                query = combiner(reference[idx], text[idx])
                loss = F.cross_entropy(CIR_LOGIT_SCALE * query @ gallery.T, target[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                epoch.append(loss.item())
            losses.append(sum(epoch) / len(epoch))
        combiner.requires_grad_(False)
        combiner.eval()
        combiner.trained.fill_(1)
    log.info("combiner trained: loss %.4f -> %.4f", losses[0], losses[-1])
    return losses
