"""The adapt job: a registered model (trained or imported) adapted to a few labelled shots without training, and
registered as a new version of a model line through the same publish path as training and importing.

A label column that one of the domain's zero-shot tasks scores keeps that task's prompt pack (its curated class
prompts); a binary finding column (medical multi-label) adapts as a two-class head, present / absent, with the
finding's prompt pair; any other column's values are the classes, prompted with the domain's templates. Several
findings in one head and slide-level (top-K pooled) tasks do not adapt yet: adapt one finding at a time, on tiles.
How a column is read and how the head is scored on held-out rows live in ``clipzoo.core.adapt.heldout``, shared with
``clipzoo eval``: the same held-out file gives the same ``adapted_<column>_*`` numbers through both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from clipzoo.core.adapt import METHODS, AdaptedHead, fit_head
from clipzoo.core.adapt.heldout import label_set, score_head
from clipzoo.core.data import Manifest
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.core.evaluate import encode_manifest
from clipzoo.core.model import ClipModel
from clipzoo.core.operating_points import DEFAULT_SENSITIVITY
from clipzoo.core.zeroshot import classifier_weights
from clipzoo.registry import plots
from clipzoo.registry.loading import registered_package
from clipzoo.registry.package import TEXT_DIR, load_package, sha256_file
from clipzoo.registry.publish import Published
from clipzoo.registry.tracking import experiment_for

from .calibrate import check_sensitivity
from .register import register


@dataclass
class AdaptResult:
    head: AdaptedHead
    published: Published
    metrics: dict[str, float]
    source: str  # the adapted version, name/version
    clip: ClipModel | None = None  # the adapted model as registered (its spec and head record its calibration)


def adapt(
    ref: str,
    shots: str | Path,
    label_column: str,
    method: str,
    line: str | None = None,
    heldout: str | Path | None = None,
    seed: int = 0,
    sensitivity: float = DEFAULT_SENSITIVITY,
) -> AdaptResult:
    """Embed the shots with the registered model ``ref``, fit ``method`` in closed form, evaluate on ``heldout`` when
    given, and register the adapted model as ``clipzoo-<domain>-<line>`` (default line ``<column>-<method>``); with
    ``heldout``, its head and zero-shot classifier are calibrated there and a present/absent head gets its operating
    point at ``sensitivity``."""
    if method not in METHODS:
        raise InputError(f"unknown adaptation method {method!r}; choose one of {', '.join(METHODS)}")
    check_sensitivity(sensitivity)
    shots_manifest = Manifest.read(shots, require_caption=False)
    heldout_manifest = Manifest.read(heldout, require_caption=False) if heldout else None
    with registered_package(ref) as (mv, package):
        clip = load_package(package)
        domain = get_domain(clip.spec.domain)
        labels = label_set(domain, shots_manifest, label_column)
        head = fit_head(
            encode_manifest(clip, domain, shots_manifest),
            labels.labels(shots_manifest),
            labels.pack.class_names,
            classifier_weights(clip, labels.pack),
            float(clip.model.logit_scale.exp()),
            method,
            seed=seed,
        )
        source = f"{mv.name}/{mv.version}"
        head.info.update(
            {
                "label_column": label_column,
                "binary": labels.binary,
                "prompt_pack": labels.pack.name,
                "shots_manifest": str(shots_manifest.source),
                "shots_manifest_sha256": sha256_file(shots_manifest.source),
                "adapted_from": source,
                "adapted_from_weights_sha256": mv.tags.get("clipzoo.weights_sha256"),
            }
        )
        clip.head = head
        line = line or f"{label_column.replace('_', '-').lower()}-{method}"
        text_dir = package / TEXT_DIR if (package / TEXT_DIR).is_dir() else None
        experiment_for(domain.name)
        with mlflow.start_run(run_name=f"adapt-{domain.name}-{line}"):
            mlflow.log_params(_params(head, source))
            metrics: dict[str, float] = {}
            features = None
            if heldout_manifest is not None:
                features = encode_manifest(clip, domain, heldout_manifest)
                scores = score_head(head, features, labels, heldout_manifest)
                metrics = scores.metrics
                mlflow.log_metrics(metrics)
                if scores.confusion is not None:
                    matrix, classes = scores.confusion
                    mlflow.log_figure(plots.confusion_figure(matrix, classes, f"{head.describe()}: {label_column}"),
                                      f"plots/confusion_adapted_{label_column}.png")  # fmt: skip
            published = register(
                clip,
                domain,
                _card_data(head, shots_manifest, heldout_manifest),
                heldout_manifest,
                metrics,
                {"adaptation": head.info, "method": method, "classes": head.classes, "metrics": metrics},
                line=line,
                text_dir=text_dir,
                example={"inputs": {"path": [str(shots_manifest.file(0))]}, "params": {}},
                primary_metric=labels.primary_metric,
                features=features,
                sensitivity=sensitivity,
            )
    return AdaptResult(head, published, metrics, source, clip)


def _params(head: AdaptedHead, source: str) -> dict[str, Any]:
    info = head.info
    return {
        "adapt.method": head.method,
        "adapt.source": source,
        "adapt.label_column": info["label_column"],
        "adapt.classes": ",".join(head.classes)[:500],
        "adapt.shots": info["shots"],
        "adapt.shots_manifest_sha256": info["shots_manifest_sha256"],
        "adapt.setting": str(info["setting"]),
        "adapt.relative_blend": info["relative_blend"],
        "adapt.alpha": head.alpha,
        "adapt.seed": info["seed"],
    }


def _card_data(head: AdaptedHead, shots: Manifest, heldout: Manifest | None) -> dict[str, Any]:
    info = head.info
    data = {
        "training": f"none: the weights of {info['adapted_from']} unchanged; a few-shot head fitted in closed form",
        "method": f"{head.method}, setting {info['setting'] or 'none'}; blend with zero-shot alpha={head.alpha:.4g} "
        f"(relative {info['relative_blend']}), chosen by {info['selection']}",
        "shots manifest": f"{shots.source} ({len(shots)} rows, sha256 {info['shots_manifest_sha256']})",
        "label column": f"{info['label_column']} (prompts: {info['prompt_pack']})",
        "classes": ", ".join(head.classes),
        "shots per class": info["shots_per_class"],
    }
    if heldout is not None:
        data["held-out manifest"] = f"{heldout.source} ({len(heldout)} rows)"
    return data
