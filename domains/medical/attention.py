"""Which slices mattered: the slice-pooling attention of a volume, returned with predictions and plotted.

``recording`` captures the pooling weights of every volume the tower encodes; ``predict_with_attention`` is the
domain's ``attention`` prediction task (``clipzoo predict MODEL scan --task attention --labels ...``, or
``"task": "attention"`` in a served request): the usual ranked labels plus ``slice_attention`` (one weight per
encoded slice) and ``slice_position`` (each slice's relative height, 0 = most inferior). A 2D image gets ``None``,
or ``[1.0]`` when it shares a batch with volumes (it is then a one-slice volume).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from clipzoo.core.predict import Prediction, Predictor, PredictRequest

from .tower import SliceTower


@dataclass
class SliceAttention:
    """One volume's pooling weights (summing to 1) and slice positions; ``thumbnails`` ``[S, H, W]`` if kept."""

    weights: np.ndarray
    position: np.ndarray
    thumbnails: np.ndarray | None = None
    label: str = "slice attention"  # what a specialist calls the scan: its SeriesDescription, else its file name

    @property
    def top_slice(self) -> int:
        return int(np.argmax(self.weights))


@contextlib.contextmanager
def recording(visual: Any) -> Iterator[list[SliceAttention]]:
    """Within the block, every input ``visual`` (a ``SliceTower``) encodes appends to the yielded list, in encoding
    order: its ``SliceAttention`` for a volume, ``None`` for a 2D image."""
    found: list[SliceAttention | None] = []
    if not isinstance(visual, SliceTower):
        yield found
        return
    visual.record = []
    try:
        yield found
    finally:
        found.extend(None if r is None else SliceAttention(r[0].numpy(), r[1].numpy()) for r in visual.record)
        visual.record = None


@torch.no_grad()
def volume_attention(clip: Any, domain: Any, path: str | Path) -> SliceAttention:
    """The attention of one scan file (evaluation transform), with lung-window thumbnails of its slices."""
    raw = domain.read(path)
    sample = domain.transform(clip.spec, train=False)(raw)
    clip.model.eval()
    with recording(clip.model.visual) as found:
        clip.model.encode_image(domain.collate([sample]), normalize=True)
    att = found[0] if found else None
    if att is None:
        raise ValueError(f"{path}: a 2D image has no slice attention")
    if isinstance(sample, dict):
        att.thumbnails = sample["volume"][:, 0].float().numpy()
    meta = getattr(raw, "meta", {})
    att.label = str(meta.get("series_description") or "") or Path(str(path)).name
    return att


def attention_figure(att: SliceAttention, title: str | None = None) -> Any:
    """A matplotlib figure: the attention weight per slice index, with the slices' thumbnails underneath; titled
    ``title``, by default the scan's series description (its file name when it has none)."""
    title = title or f"slice attention: {att.label}"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(att.weights)
    thumbs = att.thumbnails if att.thumbnails is not None and len(att.thumbnails) == n else None
    rows = 2 if thumbs is not None else 1
    fig = plt.figure(figsize=(max(6.0, 0.7 * n), 4.5 if thumbs is not None else 3.0))
    grid = fig.add_gridspec(rows, n, height_ratios=[3, 1] if thumbs is not None else [1])
    ax = fig.add_subplot(grid[0, :])
    colours = ["tab:red" if i == att.top_slice else "tab:blue" for i in range(n)]
    ax.bar(np.arange(n), att.weights, color=colours)
    ax.axhline(1.0 / n, color="grey", lw=0.8, ls=":", label="uniform")
    ax.set(xlabel="slice index (inferior -> superior)", ylabel="attention weight", title=title, xlim=(-0.5, n - 0.5))
    ax.legend(loc="upper right")
    if thumbs is not None:
        for i in range(n):
            tax = fig.add_subplot(grid[1, i])
            tax.imshow(thumbs[i], cmap="gray")
            tax.set_axis_off()
    fig.tight_layout()
    return fig


def predict_with_attention(predictor: Predictor, request: PredictRequest) -> list[Prediction]:
    """The ``attention`` task: classify (labels given) or embed, plus each volume's slice attention."""
    task = "classify" if request.labels else "embed"
    visual = predictor.clip.model.visual
    with recording(visual) as found:
        preds = predictor.predict(
            request.items,
            labels=request.labels,
            task=task,
            top_k=request.top_k,
            templates=request.templates,
            return_embeddings=request.return_embeddings,
        )
    recorded = iter(found)  # one entry per readable item, in order
    for pred in preds:
        if pred.error is not None:
            continue
        att = next(recorded, None)
        pred.extra["slice_attention"] = None if att is None else [round(float(w), 6) for w in att.weights]
        pred.extra["slice_position"] = None if att is None else [round(float(p), 4) for p in att.position]
    return preds


def attention_figures(clip: Any, domain: Any, manifest: Any, cases: int) -> dict[str, Any]:
    """Slice-attention figures of the first ``cases`` held-out volumes (nodule cases first), by file stem."""
    frame = manifest.frame
    order = frame.sort_values("nodule", ascending=False, kind="stable").index if "nodule" in frame else frame.index
    figures = {}
    for row in list(order)[:cases]:
        att = volume_attention(clip, domain, manifest.file(row))
        name = Path(str(frame.loc[row, "path"])).name.split(".")[0]
        caption = str(frame.loc[row, "caption"])
        title = f"{att.label}: {caption if len(caption) <= 60 else caption[:57] + '...'}"
        figures[f"slice_attention_{name}"] = attention_figure(att, title)
    return figures
