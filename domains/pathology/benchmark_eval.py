"""Slide-level benchmarks (MI-Zero / CONCH on TCGA): every slide of the manifest classified zero-shot by top-K
pooling of its tile scores with the benchmark's published classes and templates; accuracy and balanced accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from clipzoo.core.benchmark import Benchmark
from clipzoo.core.benchmark_eval import BenchmarkReport, benchmark_pack
from clipzoo.core.data import Manifest
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.core.metrics import balanced_accuracy, confusion_matrix
from clipzoo.core.model import ClipModel
from clipzoo.core.progress import Progress
from clipzoo.core.zeroshot import classifier_weights

from .slide_options import DEFAULT_MPP
from .slide_zeroshot import DEFAULT_K, classify_slide

TILE_PX = 224


def slide_benchmark(clip: ClipModel, benchmark: Benchmark, manifest: Manifest) -> BenchmarkReport:
    """``top1`` (accuracy) and ``balanced_accuracy`` of the slides' labels at the slide task's default top-K pooling,
    tiled at each row's ``mpp`` (default 0.5 um/px); per-class accuracy and the confusion matrix."""
    pack = benchmark_pack(benchmark, manifest)
    names = pack.class_names
    labels = [str(v) for v in manifest.column(benchmark.label_column)]
    unknown = sorted(set(labels) - set(names))
    if unknown:
        raise InputError(f"slide labels {unknown} are not classes of {benchmark.name!r}", manifest.source)
    weights = classifier_weights(clip, pack)
    transform = get_domain("pathology").transform(clip.spec, train=False)
    frame = manifest.frame
    preds = []
    for i in Progress(range(len(manifest)), total=len(manifest), desc=f"{benchmark.name} slides"):
        mpp = float(frame["mpp"].iloc[i]) if "mpp" in frame.columns and not np.isnan(frame["mpp"].iloc[i]) else None
        result = classify_slide(clip, Path(manifest.file(i)), pack, transform, mpp=mpp or DEFAULT_MPP,
                                tile_px=TILE_PX, k=DEFAULT_K, weights=weights)  # fmt: skip
        preds.append(names.index(result.labels[0]))
    targets = np.array([names.index(lb) for lb in labels])
    predicted = np.array(preds)
    metrics = {"top1": float((predicted == targets).mean()), "balanced_accuracy": balanced_accuracy(predicted, targets)}
    per_class = {c: float((predicted[targets == j] == j).mean()) for j, c in enumerate(names) if (targets == j).any()}
    return BenchmarkReport(metrics, (confusion_matrix(predicted, targets, len(names)), names), per_class)
