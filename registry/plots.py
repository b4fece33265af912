"""Figures logged to MLflow: what people would rather see than read."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from clipzoo.core.calibration import Reliability
from matplotlib.figure import Figure


def loss_curve(step_losses: Sequence[float], steps_per_epoch: int | None = None) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = np.arange(1, len(step_losses) + 1)
    ax.plot(steps, step_losses, lw=1, alpha=0.5, label="step")
    if len(step_losses) >= 10:
        window = max(5, len(step_losses) // 20)
        smooth = np.convolve(step_losses, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1 :], smooth, lw=2, label=f"mean of {window}")
    if steps_per_epoch:
        for x in range(steps_per_epoch, len(step_losses) + 1, steps_per_epoch):
            ax.axvline(x, color="grey", lw=0.5, ls=":")
    ax.set(xlabel="optimizer step", ylabel="contrastive loss", title="training loss")
    ax.legend()
    fig.tight_layout()
    return fig


def confusion_figure(matrix: np.ndarray, class_names: Sequence[str], title: str) -> Figure:
    size = max(4.0, 0.55 * len(class_names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    norm = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(
                j,
                i,
                int(matrix[i, j]),
                ha="center",
                va="center",
                color="white" if norm[i, j] > 0.5 else "black",
            )
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    return fig


def per_class_figure(values: dict[str, float], what: str, title: str) -> Figure:
    """One horizontal bar per class (accuracy or AUROC), worst at the top."""
    names = sorted(values, key=values.get)
    fig, ax = plt.subplots(figsize=(6, max(2.5, 0.35 * len(names) + 1.2)))
    ax.barh(names, [values[n] for n in names], color="tab:blue")
    for i, name in enumerate(names):
        ax.text(values[name], i, f" {values[name]:.3f}", va="center")
    ax.set(xlim=(0, 1.1), xlabel=what, title=title)
    fig.tight_layout()
    return fig


def recall_curve_figure(recall: dict[int, float], title: str) -> Figure:
    """Recall@K against K (log scale): the retrieval curve."""
    ks = sorted(recall)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(ks, [recall[k] for k in ks], marker="o")
    ax.set_xscale("log")
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set(ylim=(0, 1.02), xlabel="K", ylabel="recall@K", title=title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def reliability_figure(before: Reliability, after: Reliability, title: str, temperature: float) -> Figure:
    """Reliability diagrams side by side: accuracy against mean top score per confidence bin, before (T = 1) and
    after temperature scaling; a calibrated classifier's bars follow the diagonal. Each bar is labelled with its
    rows."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
    for ax, data, name in ((axes[0], before, "before (T = 1)"), (axes[1], after, f"after (T = {temperature:.3g})")):
        width = data.edges[1] - data.edges[0]
        filled = data.counts > 0
        centres = data.edges[:-1] + width / 2
        ax.bar(centres[filled], data.accuracy[filled], width=width * 0.95, color="tab:blue", label="accuracy")
        ax.bar(centres[filled], (data.confidence - data.accuracy)[filled], bottom=data.accuracy[filled],
               width=width * 0.95, color="tab:red", alpha=0.3, label="gap to confidence")  # fmt: skip
        for x, y, n in zip(centres[filled], data.accuracy[filled], data.counts[filled], strict=True):
            ax.text(x, min(y, 0.93) + 0.02, str(int(n)), ha="center", fontsize=7)
        ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1)
        ax.set(xlim=(0, 1), ylim=(0, 1.05), xlabel="top score (confidence)", title=f"{name}: ECE {data.ece:.3f}")
    axes[0].set_ylabel("accuracy")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
