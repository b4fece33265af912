"""Log a trained model to MLflow from code, check it loads and predicts, register it, move ``champion`` if earned.

Nothing is half-registered: the version is created only after the logged model has been loaded back and has
answered a prediction, in one call that also writes its tags (weights sha256, primary metric, the artifact manifest);
the alias moves last (``champion.py``). A run that already registered a version gets that version back instead of a
second one, and the temporary package folder lives under ``CLIPZOO_HOME/tmp`` where the next command removes it
should this one be killed.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from clipzoo.core.errors import ClipzooError
from clipzoo.core.model import ClipModel
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from .catalog import DOMAIN_TAG, LINE_TAG, PRIMARY_DATA_TAG, PRIMARY_METRIC_TAG, PRIMARY_VALUE_TAG, SHA_TAG
from .champion import Score, held_out_score, settle_champion
from .manifest import manifest_tags
from .package import RUNTIME_PACKAGES, WEIGHTS, write_package
from .pyfunc import MODEL_DIR_ARTIFACT, SIGNATURE
from .runs import fail_pending_models, version_of_run
from .scratch import scratch
from .tracking import configure, registered_name

log = logging.getLogger(__name__)

PYFUNC_CODE = str(Path(__file__).with_name("pyfunc_model.py"))
# Test hook: when set, each registration stage is appended to this file as it begins (kill tests aim at them).
STAGES_ENV = "CLIPZOO_DEBUG_REGISTRATION_STAGES"


def _stage(name: str) -> None:
    path = os.environ.get(STAGES_ENV)
    if path:
        with open(path, "a") as fh:
            fh.write(name + "\n")


def pip_requirements(domain: str | None = None) -> list[str]:
    """Pinned packages a served model needs: the core's, plus those its domain reads its inputs with."""
    extra: tuple[str, ...] = ()
    if domain is not None:
        from clipzoo.core.domain import get_domain

        extra = get_domain(domain).runtime_packages
    return [f"{name}=={version(name)}" for name in dict.fromkeys((*RUNTIME_PACKAGES, *extra))]


@dataclass
class Published:
    name: str
    version: str
    model_uri: str
    champion: bool
    primary_metric: str
    primary_value: float | None  # None: registered without evaluation (an import without held-out data)
    champion_note: str | None = None  # why the gate did not compare, when it did not


def _log_and_check(
    clip: ClipModel, card: str, metadata: dict[str, Any], example: dict[str, Any], text_dir: str | Path | None = None
) -> tuple[str, dict]:
    """Log the pyfunc model, load the logged files back and smoke-test them; returns its URI and registry tags."""
    with scratch("package") as tmp:
        folder = tmp / "clipzoo_model"
        sums = write_package(clip, folder, card, metadata, text_dir=text_dir)
        with warnings.catch_warnings():
            # The smoke prediction below does what an input example would, on a real file of the domain.
            warnings.filterwarnings("ignore", message=".*input example was not provided.*")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=PYFUNC_CODE,
                artifacts={MODEL_DIR_ARTIFACT: str(folder)},
                signature=SIGNATURE,
                model_config={"local_files": False},  # served: data roots and limits; the CLI loads it with True
                pip_requirements=pip_requirements(clip.spec.domain),
                metadata={"clipzoo_domain": clip.spec.domain, "weights_sha256": sums[WEIGHTS]},
            )
    with scratch("logged") as tmp:
        local = mlflow.artifacts.download_artifacts(artifact_uri=info.model_uri, dst_path=str(tmp))
        tags = {SHA_TAG: sums[WEIGHTS], **manifest_tags(local)}
        loaded = mlflow.pyfunc.load_model(local, model_config={"local_files": True})
        answer = loaded.predict(pd.DataFrame(example["inputs"]), params=example.get("params"))
    if answer["error"].notna().any():
        raise ClipzooError(f"the logged model failed its smoke prediction: {answer['error'].tolist()}")
    return info.model_uri, tags


def _ensure_registered_model(client: MlflowClient, name: str, domain: str, line: str | None = None) -> None:
    try:
        client.get_registered_model(name)
    except mlflow.exceptions.MlflowException:
        what = f"the {line!r} line of " if line else ""
        tags = {DOMAIN_TAG: domain, LINE_TAG: line or ""}
        try:
            client.create_registered_model(name, tags=tags, description=f"{what}clipzoo {domain} CLIP models")
        except mlflow.exceptions.MlflowException:
            client.get_registered_model(name)  # created by a concurrent registration: fine


def register_version(
    client: MlflowClient,
    name: str,
    domain: str,
    model_uri: str,
    run_id: str,
    tags: dict[str, str],
    line: str | None = None,
) -> ModelVersion:
    """Create the version with all its tags in one call (a version never exists without them). A logged model's URI
    (``models:/m-…``) is passed with its model id too, as a tracking server requires."""
    _ensure_registered_model(client, name, domain, line)
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    return client.create_model_version(name, source=model_uri, run_id=run_id, tags=tags, model_id=model_id)


def publish(
    clip: ClipModel,
    card: str,
    metadata: dict[str, Any],
    primary_metric: str,
    metrics: dict[str, float],
    example: dict[str, Any],
    line: str | None = None,
    text_dir: str | Path | None = None,
    evaluated: bool = True,
    data_sha256: str | None = None,
) -> Published:
    """Inside an active MLflow run: log the pyfunc model, smoke-test it on ``example`` (a payload frame + params),
    register it as ``clipzoo-<domain>`` (``clipzoo-<domain>-<line>`` for a named line) and make it champion when
    ``primary_metric`` is at least the champion's. A run that already registered a version (a rerun after a kill)
    reuses it. ``evaluated=False`` (an imported checkpoint without held-out data) registers without a metric: such a
    version becomes champion only of a line without one. ``text_dir``: HF text config + tokenizer files packaged
    with the model (see ``write_package``); ``data_sha256``: the held-out manifest the metric is from (results on
    other data are not compared)."""
    client = configure()
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("publish() must run inside an MLflow run")
    value: float | None = None
    if primary_metric in metrics:
        value = float(metrics[primary_metric])
    elif evaluated:
        raise ClipzooError(f"evaluation did not produce the primary metric {primary_metric!r}")
    run_id = run.info.run_id
    name = registered_name(clip.spec.domain, line)
    mv = version_of_run(client, name, run_id)
    if mv is None:
        fail_pending_models(client, run_id)  # a log_model of this run cut short by a kill
        _stage("logging")
        model_uri, tags = _log_and_check(clip, card, metadata, example, text_dir)
        if value is not None:
            tags |= {PRIMARY_METRIC_TAG: primary_metric, PRIMARY_VALUE_TAG: repr(value)}
            if data_sha256:
                tags[PRIMARY_DATA_TAG] = data_sha256
        _stage("registering")
        mv = register_version(client, name, clip.spec.domain, model_uri, run_id, tags, line)
    else:
        log.info("run %s already registered %s version %s: reusing it", run_id, name, mv.version)
        recorded = held_out_score(dict(mv.tags))
        primary_metric, value = recorded.metric or primary_metric, recorded.value
        data_sha256 = recorded.data
    _stage("champion")
    decision = settle_champion(client, name, str(mv.version), Score(primary_metric, value, data_sha256))
    log.info("registered %s version %s (champion: %s)", name, mv.version, decision.champion)
    return Published(name, str(mv.version), f"models:/{name}/{mv.version}", decision.champion, primary_metric, value,
                     decision.note)  # fmt: skip
