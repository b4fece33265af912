"""The evaluate job: a model's zero-shot metrics on a held-out manifest, logged with their figures to MLflow."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
from clipzoo.core.data import Manifest
from clipzoo.core.domain import Domain, get_domain
from clipzoo.core.evaluate import EvalReport
from clipzoo.core.evaluate import evaluate as evaluate_zero_shot
from clipzoo.core.model import ClipModel
from clipzoo.registry import plots
from clipzoo.registry.loading import load_clip

from .data import DEMO, demo_data


def mlflow_metric_name(name: str) -> str:
    """MLflow refuses '@' in metric names: ``R@10`` is logged as ``R_at_10``."""
    return name.replace("@", "_at_")


def evaluate(clip: ClipModel, domain: Domain, manifest: Manifest, log: bool = True) -> EvalReport:
    """Every zero-shot task of the domain on ``manifest``; with ``log``, the metrics (as ``heldout_*``), confusion
    matrices and the domain's figures go into the active MLflow run."""
    report = evaluate_zero_shot(clip, domain, manifest)
    if log and mlflow.active_run() is not None:
        finite = {k: v for k, v in report.metrics.items() if np.isfinite(v)}
        mlflow.log_metrics({mlflow_metric_name(f"heldout_{k}"): v for k, v in finite.items()})
        for task, (matrix, names) in report.confusion.items():
            figure = plots.confusion_figure(matrix, names, f"zero-shot {task}")
            mlflow.log_figure(figure, f"plots/confusion_{task}.png")
        for name, figure in domain.evaluation_figures(clip, manifest).items():
            mlflow.log_figure(figure, f"plots/{name}.png")
    return report


def evaluate_registered(ref: str, data: str | Path) -> tuple[Domain, EvalReport]:
    """``clipzoo eval``: a registered model on a held-out manifest (``demo``: its domain's demo held-out set)."""
    clip = load_clip(ref)
    domain = get_domain(clip.spec.domain)
    manifest = Manifest.read(demo_data(domain).heldout if str(data) == DEMO else data)
    return domain, evaluate(clip, domain, manifest, log=False)
