"""Location-aware zero-shot retrieval and classification with the GeoCLOSP location encoder.

The location encoder ``g`` was trained to land where the images taken at a place land. Two uses: a query ``t`` about
content scores a chip at ``p`` with image embedding ``v`` as ``t.v + w * t.g(p)`` (``t.g`` says how likely the
content is at that place: a geographic prior), and a query about content at a place ``q`` scores it as
``t.v + w * g(q).g(p)`` (location similarity); ``w`` is ``retrieval_weight``. ``within_radius`` filters a gallery by
great-circle distance to a query location instead.
"""

from __future__ import annotations

import numpy as np
import torch
from clipzoo.core.metrics import balanced_accuracy, retrieval_metrics, topk_accuracy

from .location import LocationEncoder, check_lonlat

EARTH_RADIUS_KM = 6371.0088
KS = (1, 5, 10)


@torch.no_grad()
def location_features(encoder: LocationEncoder, lonlat: torch.Tensor) -> torch.Tensor:
    """L2-normalised location embeddings ``[N, D]`` of ``lonlat[N, 2] = (lon, lat)`` degrees."""
    encoder.eval()
    device = encoder.proj.weight.device
    return encoder(torch.as_tensor(lonlat, dtype=torch.float64).to(device)).float().cpu()


def location_aware_scores(
    queries: torch.Tensor, image_features: torch.Tensor, location_feats: torch.Tensor, weight: float
) -> torch.Tensor:
    """``[Q, N]`` scores ``q.v + weight * q.g``; ``weight = 0`` is plain text -> image similarity."""
    return queries @ image_features.T + weight * (queries @ location_feats.T)


def haversine_km(a: torch.Tensor, b: torch.Tensor | tuple[float, float]) -> torch.Tensor:
    """Great-circle distances in km between ``(lon, lat)`` degrees ``a [..., 2]`` and ``b [..., 2]`` (broadcast)."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    check_lonlat(a)
    check_lonlat(b)
    lon1, lat1, lon2, lat2 = (torch.deg2rad(t) for t in (a[..., 0], a[..., 1], b[..., 0], b[..., 1]))
    h = torch.sin((lat2 - lat1) / 2) ** 2 + torch.cos(lat1) * torch.cos(lat2) * torch.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * torch.asin(torch.sqrt(h.clamp(0, 1)))


def within_radius(lonlat: torch.Tensor, centre: tuple[float, float], radius_km: float) -> torch.Tensor:
    """Boolean mask of the rows within ``radius_km`` of ``centre = (lon, lat)``."""
    return haversine_km(lonlat, centre) <= radius_km


def located_query_metrics(
    class_weights: torch.Tensor,
    targets: np.ndarray,
    features: torch.Tensor,
    location_feats: torch.Tensor,
    lonlat: torch.Tensor,
    weight: float,
    radius_km: float,
    prefix: str,
) -> dict[str, float]:
    """Queries 'this class, here': chip ``i`` asks, with its class prompt and its own location, for the other chips
    of its class within ``radius_km``. Scored by text alone (``text_only``), text + ``weight`` x location-embedding
    similarity (``with_location``), and text inside a hard radius filter (``radius_filter``, the geometric bound)."""
    distance = haversine_km(lonlat[:, None], lonlat[None, :])
    n = len(targets)
    relevant = (targets[:, None] == targets[None, :]) & (distance.numpy() <= radius_km) & ~np.eye(n, dtype=bool)
    queries = np.flatnonzero(relevant.any(axis=1))
    if len(queries) == 0:
        return {}
    text = (class_weights[torch.as_tensor(targets)] @ features.T).numpy()
    near = (location_feats @ location_feats.T).numpy()
    variants = {
        "text_only": text,
        "with_location": text + weight * near,
        "radius_filter": np.where(distance.numpy() <= radius_km, text, text - 1e3),
    }
    out: dict[str, float] = {f"{prefix}_geo_queries": float(len(queries))}
    for tag, scores in variants.items():
        scores = np.where(np.eye(n, dtype=bool), scores - 1e6, scores)[queries]  # a chip never retrieves itself
        out.update(retrieval_metrics(scores, relevant[queries], ks=KS, prefix=f"{prefix}_geo_{tag}_"))
    return out


def location_metrics(
    class_weights: torch.Tensor,
    targets: np.ndarray,
    sensors: np.ndarray,
    features: torch.Tensor,
    location_feats: torch.Tensor,
    lonlat: torch.Tensor,
    weight: float,
    radius_km: float = 100.0,
    prefix: str = "landcover",
) -> dict[str, float]:
    """Located text -> image queries over one S1+S2 index (``located_query_metrics``), and zero-shot top-1 per
    sensor without (``*_text_only``) and with (``*_with_location``) the location prior ``t.g``."""
    out = located_query_metrics(class_weights, targets, features, location_feats, lonlat, weight, radius_km, prefix)
    for tag, w in (("text_only", 0.0), ("with_location", weight)):
        logits = location_aware_scores(class_weights, features, location_feats, w).T
        for sensor in sorted(set(sensors)):
            rows = np.flatnonzero(sensors == sensor)
            out[f"{sensor}_{prefix}_top1_{tag}"] = topk_accuracy(logits[rows], targets[rows], ks=(1,))[1]
            preds = logits[rows].argmax(dim=1).numpy()
            out[f"{sensor}_{prefix}_balanced_accuracy_{tag}"] = balanced_accuracy(preds, targets[rows])
    return out
