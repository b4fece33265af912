"""What a version's held-out rows say about how far its scores can be trusted, recorded with the version:

- the temperature of its zero-shot classifier (``clipzoo.core.calibration``), fitted on the domain's primary
  classification task (its first classification ``ZeroShotTask`` whose column the held-out manifest has), in
  ``spec.extra["calibration"]``;
- an operating point per finding (a multilabel task: P(present) from its present/absent prompt pair) at a target
  sensitivity (``clipzoo.core.operating_points``), in ``spec.extra["operating_points"]``, each with the prompts and
  the temperature its scores were computed with, so the threshold always meets the score it was chosen on;
- for an adapted model, its head's temperature and, for a present/absent head, its operating point, in the head's
  info.

Predictions read them back (``clipzoo.core.predict``); ``evaluate_trust`` measures them on other rows (``clipzoo
eval``). A version adapted without held-out rows keeps its source's zero-shot calibration (the same weights).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .adapt.head import CALIBRATION as HEAD_CALIBRATION
from .adapt.head import OPERATING_POINT, AdaptedHead
from .adapt.heldout import head_label_set
from .calibration import MIN_ROWS, Calibration, Reliability, calibrate, expected_calibration_error, temperature_of
from .data import Manifest
from .domain import CLASSIFICATION, MULTILABEL, Domain, ZeroShotTask
from .model import ClipModel
from .operating_points import DEFAULT_SENSITIVITY, OperatingPoint, sensitivity, specificity
from .zeroshot import PromptPack, class_logits, class_probabilities, classifier_weights, is_sigmoid

CALIBRATION = "calibration"  # spec.extra: the zero-shot classifier's Calibration
OPERATING_POINTS = "operating_points"  # spec.extra: finding -> its OperatingPoint, prompts and temperature


@dataclass
class TrustFit:
    """What was fitted on one held-out manifest (and already recorded in the spec and the head), with the
    reliability data before and after each calibration, and why anything was not fitted."""

    calibration: Calibration | None = None
    reliability: tuple[Reliability, Reliability] | None = None
    operating_points: dict[str, OperatingPoint] = field(default_factory=dict)
    head_calibration: Calibration | None = None
    head_reliability: tuple[Reliability, Reliability] | None = None
    head_operating_point: OperatingPoint | None = None
    head_column: str | None = None
    notes: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        """The numbers, flat (``ece_before``, ``adapted_ece_after``, ``<finding>_op_specificity``...)."""
        out: dict[str, float] = {}
        for prefix, cal in (("", self.calibration), ("adapted_", self.head_calibration)):
            if cal is not None:
                out |= {f"{prefix}ece_before": cal.ece_before, f"{prefix}ece_after": cal.ece_after,
                        f"{prefix}temperature": cal.temperature}  # fmt: skip
        points = dict(self.operating_points)
        if self.head_operating_point is not None:
            points[f"adapted_{self.head_column}"] = self.head_operating_point
        for name, op in points.items():
            out |= {f"{name}_op_threshold": op.threshold, f"{name}_op_sensitivity": op.sensitivity,
                    f"{name}_op_specificity": op.specificity}  # fmt: skip
        return out


def primary_task(domain: Domain, manifest: Manifest) -> ZeroShotTask | None:
    """The domain's first classification task whose column ``manifest`` has (None: no such task)."""
    columns = manifest.frame.columns
    return next((t for t in domain.zero_shot_tasks() if t.kind == CLASSIFICATION and t.label_column in columns), None)


def _pack(domain: Domain, task: ZeroShotTask) -> PromptPack:
    return PromptPack.from_dict(task.prompt_pack, domain.prompt_packs()[task.prompt_pack])


def finding_pack(record: dict[str, Any]) -> PromptPack:
    """The present/absent prompt pack an operating point was chosen with (its classes stored as a list: the order,
    present first, survives a JSON file written with sorted keys)."""
    prompts = record["prompts"]
    classes = {name: tuple(synonyms) for name, synonyms in prompts["classes"]}
    return PromptPack(record["prompt_pack"], tuple(prompts["templates"]), classes)


def finding_scores(clip: ClipModel, features: torch.Tensor, record: dict[str, Any],
                   weights: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """P(present) ``[N]`` of an operating point's finding, computed as when its threshold was chosen (``weights``:
    its pack's class embeddings, when already encoded)."""
    weights = classifier_weights(clip, finding_pack(record)) if weights is None else weights
    return class_probabilities(features, weights, clip, record.get("temperature"))[:, 0]


def _classification_rows(
    domain: Domain, task: ZeroShotTask, manifest: Manifest
) -> tuple[PromptPack, list[int], list[int]]:
    """The task's pack, the rows labelled with one of its classes and each one's class index."""
    pack = _pack(domain, task)
    values = [str(v) for v in manifest.column(task.label_column)]
    keep = [i for i, v in enumerate(values) if v in pack.classes]
    return pack, keep, [pack.class_names.index(values[i]) for i in keep]


def fit_trust(
    clip: ClipModel,
    domain: Domain,
    manifest: Manifest,
    features: torch.Tensor,
    sensitivity: float = DEFAULT_SENSITIVITY,
) -> TrustFit:
    """Fit everything the held-out ``manifest`` (its rows' L2-normalised embeddings: ``features``) allows, record it
    in ``clip.spec`` and ``clip.head``, and return it."""
    if len(features) != len(manifest):
        raise ValueError(f"{len(features)} embeddings for {len(manifest)} held-out rows")
    fit = TrustFit()
    _fit_zero_shot(clip, domain, manifest, features, fit)
    _fit_findings(clip, domain, manifest, features, sensitivity, fit)
    if clip.head is not None:
        _fit_head(clip.head, domain, manifest, features, sensitivity, fit)
    return fit


def _fit_zero_shot(clip: ClipModel, domain: Domain, manifest: Manifest, features: torch.Tensor, fit: TrustFit) -> None:
    kept = " (the source version's kept)" if clip.spec.extra.get(CALIBRATION) else ""
    if is_sigmoid(clip):
        fit.notes.append("zero-shot scores not calibrated: a SigLIP model scores each class by its own sigmoid")
        return
    task = primary_task(domain, manifest)
    if task is None:
        fit.notes.append(f"zero-shot scores not calibrated{kept}: no classification task of the domain has its "
                         "column in the held-out manifest")  # fmt: skip
        return
    pack, keep, targets = _classification_rows(domain, task, manifest)
    if len(keep) < MIN_ROWS:
        fit.notes.append(f"zero-shot scores not calibrated{kept}: {len(keep)} held-out rows of task {task.name!r}")
        return
    logits = class_logits(features[keep], classifier_weights(clip, pack), clip)
    calibration, before, after = calibrate(logits, torch.tensor(targets), task.name)
    clip.spec = clip.spec.replace(extra={**clip.spec.extra, CALIBRATION: calibration.to_dict()})
    fit.calibration, fit.reliability = calibration, (before, after)


def _fit_findings(clip: ClipModel, domain: Domain, manifest: Manifest, features: torch.Tensor, target: float,
                  fit: TrustFit) -> None:  # fmt: skip
    temperature = None if is_sigmoid(clip) else temperature_of(clip.spec.extra.get(CALIBRATION))
    points: dict[str, Any] = {}
    for task in domain.zero_shot_tasks():
        if task.kind != MULTILABEL or task.label_column not in manifest.frame.columns:
            continue
        labels = np.asarray(manifest.column(task.label_column), dtype=np.int64)
        if len(np.unique(labels)) < 2:
            fit.notes.append(f"no operating point for {task.name!r}: its held-out rows hold one class only")
            continue
        pack = _pack(domain, task)
        prompts = {"templates": list(pack.templates), "classes": [[k, list(v)] for k, v in pack.classes.items()]}
        record = {"label_column": task.label_column, "prompt_pack": task.prompt_pack, "prompts": prompts,
                  "temperature": temperature}  # fmt: skip
        op = OperatingPoint.at_sensitivity(finding_scores(clip, features, record).numpy(), labels, target)
        points[task.name] = {**op.to_dict(), **record}
        fit.operating_points[task.name] = op
    if points:
        known = clip.spec.extra.get(OPERATING_POINTS) or {}
        clip.spec = clip.spec.replace(extra={**clip.spec.extra, OPERATING_POINTS: {**known, **points}})


def _fit_head(head: AdaptedHead, domain: Domain, manifest: Manifest, features: torch.Tensor, target: float,
              fit: TrustFit) -> None:  # fmt: skip
    labels = head_label_set(domain, head)
    fit.head_column = labels.column
    if labels.column not in manifest.frame.columns:
        fit.notes.append(f"the adapted head is not calibrated: no column {labels.column!r} in the held-out manifest")
        return
    values = labels.labels(manifest)
    keep = [i for i, v in enumerate(values) if v in head.classes]
    if len(keep) < MIN_ROWS:
        fit.notes.append(f"the adapted head is not calibrated: {len(keep)} held-out rows of its classes")
        return
    targets = torch.tensor([head.classes.index(values[i]) for i in keep])
    calibration, before, after = calibrate(head.logits(features[keep]), targets, f"adapted_{labels.column}")
    head.info[HEAD_CALIBRATION] = calibration.to_dict()
    fit.head_calibration, fit.head_reliability = calibration, (before, after)
    if not labels.binary:
        return
    present = (targets == 0).numpy().astype(np.int64)  # a present/absent head: class 0 is "present"
    if len(np.unique(present)) < 2:
        fit.notes.append(f"no operating point for the adapted head: its held-out rows of {labels.column!r} hold one "
                         "class only")  # fmt: skip
        return
    scores = head.probabilities(features[keep])[:, 0].numpy()
    op = OperatingPoint.at_sensitivity(scores, present, target)
    head.info[OPERATING_POINT] = {**op.to_dict(), "label_column": labels.column, "temperature": head.temperature}
    fit.head_operating_point = op


def row_findings(
    clip: ClipModel, features: torch.Tensor, classifier: Callable[[PromptPack], torch.Tensor], head_scored: bool
) -> list[dict[str, dict[str, Any]]] | None:
    """Per row of ``features``, each finding with an operating point: its P(present) (``score``), whether that is
    at or above the finding's threshold (``positive``) and the threshold; a present/absent head's finding when the
    head scored the row (``head_scored``), in place of the zero-shot one. None when the version has none.
    ``classifier``: a pack's class embeddings (cached by the caller)."""
    found: dict[str, tuple[torch.Tensor, float]] = {}
    for name, record in (clip.spec.extra.get(OPERATING_POINTS) or {}).items():
        found[name] = (finding_scores(clip, features, record, classifier(finding_pack(record))), record["threshold"])
    point = clip.head.info.get(OPERATING_POINT) if clip.head is not None and head_scored else None
    if point is not None:
        found[point["label_column"]] = (clip.head.probabilities(features)[:, 0], point["threshold"])
    if not found:
        return None
    return [
        {name: {"score": round(float(scores[i]), 6), "positive": bool(scores[i] >= threshold),
                "threshold": round(float(threshold), 6)} for name, (scores, threshold) in found.items()}
        for i in range(len(features))
    ]  # fmt: skip


def trust_record(clip: ClipModel) -> dict[str, Any]:
    """What the version records, for its card: its calibration, operating points and its head's."""
    head = clip.head
    adapted = None
    if head is not None:
        adapted = {
            "describe": head.describe(),
            "column": head.info.get("label_column"),
            "calibration": head.info.get(HEAD_CALIBRATION),
            "operating_point": head.info.get(OPERATING_POINT),
        }
    return {
        "calibration": clip.spec.extra.get(CALIBRATION),
        "operating_points": clip.spec.extra.get(OPERATING_POINTS) or {},
        "head": adapted,
    }


def evaluate_trust(clip: ClipModel, domain: Domain, manifest: Manifest, features: torch.Tensor) -> dict[str, float]:
    """The version's recorded calibration and operating points measured on other rows: ECE of the scores as
    predictions give them (``<task>_ece``) and untempered (``<task>_ece_uncalibrated``), sensitivity and
    specificity at each recorded threshold (``<finding>_op_sensitivity``, ``_op_specificity``); the head's as
    ``adapted_<column>_*``. Empty for a version that records none."""
    out: dict[str, float] = {}
    record = clip.spec.extra.get(CALIBRATION)
    task = next((t for t in domain.zero_shot_tasks() if record and t.name == record.get("task")), None)
    if task is not None and task.label_column in manifest.frame.columns and not is_sigmoid(clip):
        pack, keep, targets = _classification_rows(domain, task, manifest)
        if keep:
            logits = class_logits(features[keep], classifier_weights(clip, pack), clip)
            out |= _eces(logits, targets, temperature_of(record), task.name)
    for name, point in (clip.spec.extra.get(OPERATING_POINTS) or {}).items():
        if point.get("label_column") in manifest.frame.columns:
            labels = np.asarray(manifest.column(point["label_column"]), dtype=np.int64)
            out |= _at_threshold(finding_scores(clip, features, point).numpy(), labels, point["threshold"], name)
    if clip.head is not None and clip.head.temperature is not None:
        out |= _evaluate_head(clip.head, domain, manifest, features)
    return out


def _eces(logits: torch.Tensor, targets: list[int], temperature: float | None, name: str) -> dict[str, float]:
    y = torch.tensor(targets)
    return {f"{name}_ece": expected_calibration_error((logits / (temperature or 1.0)).softmax(-1), y),
            f"{name}_ece_uncalibrated": expected_calibration_error(logits.softmax(-1), y)}  # fmt: skip


def _at_threshold(scores: np.ndarray, labels: np.ndarray, threshold: float, name: str) -> dict[str, float]:
    out = {}
    if (labels == 1).any():
        out[f"{name}_op_sensitivity"] = sensitivity(scores, labels, threshold)
    if (labels == 0).any():
        out[f"{name}_op_specificity"] = specificity(scores, labels, threshold)
    return out


def _evaluate_head(head: AdaptedHead, domain: Domain, manifest: Manifest, features: torch.Tensor) -> dict[str, float]:
    labels = head_label_set(domain, head)
    if labels.column not in manifest.frame.columns:
        return {}
    values = labels.labels(manifest)
    keep = [i for i, v in enumerate(values) if v in head.classes]
    if not keep:
        return {}
    targets = [head.classes.index(values[i]) for i in keep]
    name = f"adapted_{labels.column}"
    out = _eces(head.logits(features[keep]), targets, head.temperature, name)
    point = head.info.get(OPERATING_POINT)
    if point is not None:
        scores = head.probabilities(features[keep])[:, 0].numpy()
        out |= _at_threshold(scores, (np.array(targets) == 0).astype(np.int64), point["threshold"], name)
    return out
