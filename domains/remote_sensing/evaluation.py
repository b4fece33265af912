"""Held-out metrics beyond core's: zero-shot land cover per sensor, class-prompt retrieval over one S1+S2 index,
SAR <-> optical retrieval through the shared text space (the two encoders never saw a pair), and, for a model with a
location encoder, retrieval and zero-shot with vs without the location term."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from clipzoo.core.metrics import balanced_accuracy, retrieval_metrics, topk_accuracy
from clipzoo.core.zeroshot import PromptPack, classifier_weights

from .location import location_encoder_of
from .location_eval import location_features, location_metrics

LABEL_COLUMN = "landcover"
SENSOR_COLUMN = "sensor"
KS = (1, 5, 10)


def sensor_metrics(
    clip: Any,
    pack: PromptPack,
    labels: list[str],
    sensors: list[str],
    features: torch.Tensor,
    lonlat: torch.Tensor | None = None,
) -> dict[str, float]:
    """Per-sensor zero-shot, text -> image and S1 <-> S2 retrieval; with ``lonlat [N, 2]`` (lon, lat) and a model
    holding a location encoder, location-aware retrieval too."""
    known = [lb in pack.classes for lb in labels]
    if not any(known):
        return {}
    keep = np.flatnonzero(known)
    labels = [labels[i] for i in keep]
    sensors = np.asarray([sensors[i] for i in keep])
    features = features[torch.as_tensor(keep)]
    lonlat = None if lonlat is None else torch.as_tensor(lonlat)[torch.as_tensor(keep)]
    weights = classifier_weights(clip, pack)
    targets = np.array([pack.class_names.index(lb) for lb in labels])
    logits = features @ weights.T
    out: dict[str, float] = {}
    for sensor in sorted(set(sensors)):
        rows = np.flatnonzero(sensors == sensor)
        preds = logits[rows].argmax(dim=1).numpy()
        out[f"{sensor}_{LABEL_COLUMN}_top1"] = topk_accuracy(logits[rows], targets[rows], ks=(1,))[1]
        out[f"{sensor}_{LABEL_COLUMN}_balanced_accuracy"] = balanced_accuracy(preds, targets[rows])
    # Text -> image: each class's prompt embedding queries one index holding both sensors.
    relevant = targets[None, :] == np.arange(len(pack.class_names))[:, None]
    present = relevant.any(axis=1)
    sim = (weights @ features.T).numpy()
    out.update(retrieval_metrics(sim[present], relevant[present], ks=KS, prefix=f"{LABEL_COLUMN}_text_to_image_"))
    # SAR <-> optical through text: a chip of one sensor retrieves chips of the other with the same land cover.
    s1, s2 = np.flatnonzero(sensors == "s1"), np.flatnonzero(sensors == "s2")
    if len(s1) and len(s2):
        same = targets[s1][:, None] == targets[s2][None, :]
        cross = (features[torch.as_tensor(s1)] @ features[torch.as_tensor(s2)].T).numpy()
        if same.any():
            out.update(retrieval_metrics(cross, same, ks=KS, prefix="s1_to_s2_"))
            out.update(retrieval_metrics(cross.T, same.T, ks=KS, prefix="s2_to_s1_"))
    encoder = location_encoder_of(clip.model)
    if encoder is not None and lonlat is not None:
        loc = location_features(encoder, lonlat)
        out.update(location_metrics(weights, targets, sensors, features, loc, lonlat, encoder.config.retrieval_weight))
    return out
