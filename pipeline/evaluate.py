"""The evaluate job: a model's zero-shot metrics on a held-out manifest (an adapted model's head on the rows of its
classes beside them), logged with their figures to MLflow."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
from clipzoo.core.adapt.heldout import ADAPTED, ZERO_SHOT
from clipzoo.core.data import Manifest
from clipzoo.core.domain import Domain, get_domain
from clipzoo.core.evaluate import EvalReport
from clipzoo.core.evaluate import evaluate as evaluate_zero_shot
from clipzoo.core.model import ClipModel
from clipzoo.registry import plots
from clipzoo.registry.loading import load_clip

from .data import DEMO, demo_data

SCORED_BY_TAG = "clipzoo.scored_by"  # a run's tag: "adapted" (an adapted head gave numbers) or "zero-shot"
SCORING_NOTE_TAG = "clipzoo.scoring_note"  # an adapted model's run: how its head was (not) used


def mlflow_metric_name(name: str) -> str:
    """MLflow refuses '@' in metric names: ``R@10`` is logged as ``R_at_10``."""
    return name.replace("@", "_at_")


def evaluate(clip: ClipModel, domain: Domain, manifest: Manifest, log: bool = True) -> EvalReport:
    """Every zero-shot task of the domain on ``manifest`` (and an adapted model's head); with ``log``, the metrics
    (as ``heldout_*``), confusion matrices, what the head scored (tags ``clipzoo.scored_by``, ``clipzoo.scoring_note``)
    and the domain's figures go into the active MLflow run."""
    report = evaluate_zero_shot(clip, domain, manifest)
    if log and mlflow.active_run() is not None:
        finite = {k: v for k, v in report.metrics.items() if np.isfinite(v)}
        mlflow.log_metrics({mlflow_metric_name(f"heldout_{k}"): v for k, v in finite.items()})
        for task, (matrix, names) in report.confusion.items():
            title = task.replace("_", " ", 1) if task.startswith("adapted_") else f"zero-shot {task}"
            mlflow.log_figure(plots.confusion_figure(matrix, names, title), f"plots/confusion_{task}.png")
        if report.notes:
            adapted = any(k.startswith("adapted_") for k in report.metrics)
            mlflow.set_tags({SCORED_BY_TAG: ADAPTED if adapted else ZERO_SHOT,
                             SCORING_NOTE_TAG: "; ".join(report.notes)[:5000]})  # fmt: skip
        for name, figure in domain.evaluation_figures(clip, manifest).items():
            mlflow.log_figure(figure, f"plots/{name}.png")
    return report


def evaluate_registered(ref: str, data: str | Path) -> tuple[Domain, EvalReport]:
    """``clipzoo eval``: a registered model on a held-out manifest (``demo``: its domain's demo held-out set); an
    adapted version's head scores the rows of its classes (``adapted_<column>_*``, as ``clipzoo adapt --heldout``
    reported them) and ``report.notes`` says so."""
    clip = load_clip(ref)
    domain = get_domain(clip.spec.domain)
    manifest = Manifest.read(demo_data(domain).heldout if str(data) == DEMO else data)
    return domain, evaluate(clip, domain, manifest, log=False)
