"""The calibrate job, part of every registration with held-out data (train, import, adapt): the version's
temperatures and operating points fitted on the held-out rows (``clipzoo.core.trust``) and recorded in its spec and
head, so they travel in the registered package; the numbers and a reliability diagram go into the active MLflow run
(``heldout_ece_before``, ``heldout_ece_after``, ``heldout_<finding>_op_*``; ``plots/reliability.png``)."""

from __future__ import annotations

import logging

import mlflow
import numpy as np
import torch
from clipzoo.core.data import Manifest
from clipzoo.core.domain import Domain
from clipzoo.core.errors import InputError
from clipzoo.core.evaluate import encode_manifest
from clipzoo.core.model import ClipModel
from clipzoo.core.operating_points import DEFAULT_SENSITIVITY
from clipzoo.core.trust import TrustFit, fit_trust
from clipzoo.registry import plots

log = logging.getLogger(__name__)


def check_sensitivity(value: float) -> float:
    """The target sensitivity of operating points, refused outside (0, 1]."""
    if not 0.0 < value <= 1.0:
        raise InputError(f"--sensitivity must lie in (0, 1], got {value}")
    return float(value)


def calibrate_version(
    clip: ClipModel,
    domain: Domain,
    heldout: Manifest,
    features: torch.Tensor | None = None,
    sensitivity: float = DEFAULT_SENSITIVITY,
) -> TrustFit:
    """Fit and record what ``heldout`` allows (its rows' embeddings ``features``, encoded here when not given) and
    log it to the active MLflow run."""
    features = encode_manifest(clip, domain, heldout) if features is None else features
    fit = fit_trust(clip, domain, heldout, features, check_sensitivity(sensitivity))
    for note in fit.notes:
        log.info("%s", note)
    if mlflow.active_run() is None:
        return fit
    mlflow.log_metrics({f"heldout_{k}": v for k, v in fit.metrics().items() if np.isfinite(v)})
    figures = [("reliability", fit.calibration, fit.reliability, "zero-shot"),
               ("reliability_adapted", fit.head_calibration, fit.head_reliability, "adapted head")]  # fmt: skip
    for name, calibration, data, what in figures:
        if calibration is not None and data is not None:
            title = f"{what}: {calibration.task}, {calibration.rows} held-out rows"
            mlflow.log_figure(plots.reliability_figure(*data, title, calibration.temperature), f"plots/{name}.png")
    return fit
