"""The adapt job: a registered model (trained or imported) adapted to a few labelled shots without training, and
registered as a new version of a model line through the same publish path as training and importing.

A label column that one of the domain's zero-shot tasks scores keeps that task's prompt pack (its curated class
prompts); a binary finding column (medical multi-label) adapts as a two-class head, present / absent, with the
finding's prompt pair; any other column's values are the classes, prompted with the domain's templates. Several
findings in one head and slide-level (top-K pooled) tasks do not adapt yet: adapt one finding at a time, on tiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from clipzoo.core.adapt import METHODS, AdaptedHead, fit_head
from clipzoo.core.data import Manifest
from clipzoo.core.domain import MULTILABEL, Domain, get_domain
from clipzoo.core.errors import InputError
from clipzoo.core.evaluate import encode_manifest
from clipzoo.core.metrics import auroc, balanced_accuracy, confusion_matrix, topk_accuracy
from clipzoo.core.model import ClipModel
from clipzoo.core.zeroshot import PromptPack, classifier_weights
from clipzoo.registry import plots
from clipzoo.registry.loading import registered_package
from clipzoo.registry.package import TEXT_DIR, load_package, sha256_file
from clipzoo.registry.publish import Published
from clipzoo.registry.tracking import experiment_for

from .register import register


@dataclass
class AdaptResult:
    head: AdaptedHead
    published: Published
    metrics: dict[str, float]
    source: str  # the adapted version, name/version


@dataclass(frozen=True)
class LabelSet:
    """What the shots' label column means: its classes, their prompts, and the class of each raw value."""

    column: str
    pack: PromptPack
    binary: bool = False  # a 0/1 finding column: class 0 is "present", class 1 "absent"

    def labels(self, manifest: Manifest) -> list[str]:
        values = manifest.column(self.column)
        if not self.binary:
            return [str(v) for v in values]
        present, absent = self.pack.class_names
        try:
            return [present if int(v) == 1 else absent for v in values]
        except (TypeError, ValueError) as err:
            raise InputError(f"column {self.column!r} of a finding holds 0/1, got {err}", manifest.source) from err


def label_set(domain: Domain, manifest: Manifest, column: str) -> LabelSet:
    """The classes of ``column`` in ``manifest`` and the prompts of each (see the module doc)."""
    values = [str(v) for v in manifest.column(column)]
    packs = domain.prompt_packs()
    task = next((t for t in domain.zero_shot_tasks() if t.label_column == column), None)
    if task is not None and task.prompt_pack in packs:
        pack = PromptPack.from_dict(task.prompt_pack, packs[task.prompt_pack])
        if task.kind == MULTILABEL:
            return LabelSet(column, pack, binary=True)
        unknown = sorted(set(values) - set(pack.classes))
        if unknown:
            raise InputError(f"column {column!r}: values {unknown} are not classes of {pack.name!r}", manifest.source)
        kept = {c: pack.classes[c] for c in pack.class_names if c in set(values)}
        return LabelSet(column, PromptPack(pack.name, pack.templates, kept))
    classes = sorted(set(values))
    return LabelSet(column, PromptPack.for_labels(classes, domain.label_templates(), name=column))


def adapt(
    ref: str,
    shots: str | Path,
    label_column: str,
    method: str,
    line: str | None = None,
    heldout: str | Path | None = None,
    seed: int = 0,
) -> AdaptResult:
    """Embed the shots with the registered model ``ref``, fit ``method`` in closed form, evaluate on ``heldout`` when
    given, and register the adapted model as ``clipzoo-<domain>-<line>`` (default line ``<column>-<method>``)."""
    if method not in METHODS:
        raise InputError(f"unknown adaptation method {method!r}; choose one of {', '.join(METHODS)}")
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
            if heldout_manifest is not None:
                metrics = _evaluate(clip, domain, heldout_manifest, labels)
                mlflow.log_metrics(metrics)
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
                primary_metric=_primary_metric(labels),
            )
    return AdaptResult(head, published, metrics, source)


def _primary_metric(labels: LabelSet) -> str:
    return f"adapted_{labels.column}_{'auroc' if labels.binary else 'top1'}"


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


def _evaluate(clip: ClipModel, domain: Domain, manifest: Manifest, labels: LabelSet) -> dict[str, float]:
    """The adapted head against the zero-shot classifier of the same classes on held-out rows (rows of classes the
    head does not know are left out); a confusion matrix of the adapted head is logged as a plot."""
    head = clip.head
    values = labels.labels(manifest)
    keep = [i for i, v in enumerate(values) if v in head.classes]
    if not keep:
        raise InputError(f"no held-out row has a class of the shots ({', '.join(head.classes)})", manifest.source)
    rows = Manifest(manifest.frame.iloc[keep].reset_index(drop=True), manifest.root, manifest.source)
    features = encode_manifest(clip, domain, rows)
    targets = np.array([head.classes.index(values[i]) for i in keep])
    column = labels.column
    out: dict[str, float] = {}
    for name, logits in (("adapted", head.logits(features)), ("zero_shot", head.zero_shot_logits(features))):
        if labels.binary:
            present = logits.softmax(-1)[:, 0].numpy()
            out[f"{name}_{column}_auroc"] = auroc(present, (targets == 0).astype(int))
        else:
            preds = logits.argmax(1).numpy()
            out[f"{name}_{column}_top1"] = topk_accuracy(logits, targets, ks=(1,))[1]
            out[f"{name}_{column}_balanced_accuracy"] = balanced_accuracy(preds, targets)
    if not labels.binary:
        matrix = confusion_matrix(head.logits(features).argmax(1).numpy(), targets, len(head.classes))
        mlflow.log_figure(plots.confusion_figure(matrix, head.classes, f"{head.describe()}: {column}"),
                          f"plots/confusion_adapted_{column}.png")  # fmt: skip
    return out
