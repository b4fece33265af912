"""The out-of-distribution section of ``scripts/bench/trust.py``: per demo model, how often its held-out embedding
statistics flag pictures it should know (its demo *training* inputs, which the statistics never saw) and pictures of
the other domains' demo sets (those its reader can read: a pose sequence is no picture)."""

from __future__ import annotations

from typing import Any

PER_SOURCE = 60  # inputs taken from each manifest


def _items(manifest: Any, limit: int = PER_SOURCE) -> list[Any]:
    from clipzoo.core.predict import InputItem

    return [InputItem.from_path(manifest.file(i)) for i in range(min(limit, len(manifest)))]


def _flag_rate(model: Any, items: list[Any]) -> tuple[float | None, int]:
    """The share of readable ``items`` beyond the model's threshold, and how many were readable."""
    from clipzoo.core.domain import get_domain
    from clipzoo.core.predict import Predictor

    if not items:
        return None, 0
    features, _ = Predictor(model.clip, get_domain(model.domain)).encode(items)
    if features is None:
        return None, 0
    flagged = model.clip.ood.distances(features) > model.clip.ood.threshold
    return float(flagged.float().mean()), len(flagged)


def _training_manifest(model: Any) -> Any | None:
    from clipzoo.core.data import Manifest

    return Manifest.read(model.train, require_caption=False) if model.train is not None else None


def ood_section(models: list[Any]) -> list[dict[str, Any]]:
    """One row per model with statistics: the false-alarm rate on unseen in-distribution inputs, and the detection
    rate on each other domain's held-out inputs."""
    rows = []
    for model in models:
        if model.clip.head is not None:
            continue  # an adapted line has its source's embeddings: its source's row says it
        stats = model.clip.ood
        row: dict[str, Any] = {"domain": model.domain, "model": model.ref}
        if stats is None:
            rows.append({**row, "threshold": "none: no held-out statistics"})
            continue
        train = _training_manifest(model)
        false_alarm, seen = _flag_rate(model, _items(train)) if train is not None else (None, 0)
        row.update({"threshold": stats.threshold, "held-out rows": stats.info["rows"],
                    f"false alarms ({seen} unseen in-domain)": false_alarm})  # fmt: skip
        for other in models:
            if other.domain == model.domain or other.clip.head is not None:
                continue
            rate, readable = _flag_rate(model, _items(other.heldout))
            row[f"{other.domain} flagged"] = "unreadable" if rate is None else f"{rate:.2f} of {readable}"
        rows.append(row)
    return rows
