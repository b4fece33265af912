"""Held-out slide-level zero-shot evaluation: every slide of a slides manifest classified by top-K pooling."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from clipzoo.core.errors import InputError
from clipzoo.core.metrics import balanced_accuracy
from clipzoo.core.zeroshot import PromptPack, classifier_weights

from .slide_zeroshot import classify_slide

SLIDE_PACK = "diagnosis"


def evaluate_slides(
    clip: Any, domain: Any, slides_csv: Path, ks: Sequence[int], k: int, pack_name: str = SLIDE_PACK
) -> dict[str, float]:
    """``slide_top{K}_accuracy`` per K, ``slide_balanced_accuracy`` at ``k`` and the mean tiles used per slide.

    The manifest has ``path`` and ``diagnosis`` columns, optionally ``mpp`` (tiling resolution, default 0.5) and
    ``tile_px`` (default 224)."""
    frame = pd.read_csv(slides_csv)
    missing = [c for c in ("path", "diagnosis") if c not in frame.columns]
    if missing:
        raise InputError(f"slides manifest lacks column(s) {missing}", slides_csv)
    pack = PromptPack.from_dict(pack_name, domain.prompt_packs()[pack_name])
    unknown = sorted(set(frame["diagnosis"].astype(str)) - set(pack.classes))
    if unknown:
        raise InputError(f"diagnoses {unknown} have no prompts in pack {pack_name!r}", slides_csv)
    weights = classifier_weights(clip, pack)
    transform = domain.transform(clip.spec, train=False)
    names = pack.class_names
    targets, preds, used = [], {kk: [] for kk in ks}, []
    for row in frame.itertuples():
        path = Path(row.path) if Path(row.path).is_absolute() else slides_csv.parent / row.path
        result = classify_slide(
            clip,
            path,
            pack,
            transform,
            mpp=float(getattr(row, "mpp", 0.5)),
            tile_px=int(getattr(row, "tile_px", 224)),
            ks=ks,
            k=k,
            weights=weights,
        )
        targets.append(names.index(str(row.diagnosis)))
        for kk in ks:
            preds[kk].append(names.index(result.label_per_k[kk]))
        used.append(result.tiles_used)
    targets_arr = np.array(targets)
    metrics = {f"slide_top{kk}_accuracy": float((np.array(p) == targets_arr).mean()) for kk, p in preds.items()}
    metrics["slide_balanced_accuracy"] = balanced_accuracy(np.array(preds[k]), targets_arr)
    metrics["slide_tiles_used_mean"] = float(np.mean(used))
    return metrics
