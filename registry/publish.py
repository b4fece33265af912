"""Log a trained model to MLflow from code, check it loads and predicts, register it, move ``champion`` if earned.

Nothing is half-registered: the version is created only after the logged model has been loaded back and has
answered a prediction, and a failure while tagging it deletes the version again.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from clipzoo.core.errors import ClipzooError
from clipzoo.core.model import ClipModel
from mlflow.tracking import MlflowClient

from .catalog import CHAMPION, DOMAIN_TAG, LINE_TAG, PRIMARY_METRIC_TAG, PRIMARY_VALUE_TAG, SHA_TAG
from .package import RUNTIME_PACKAGES, WEIGHTS, write_package
from .pyfunc import MODEL_DIR_ARTIFACT, SIGNATURE
from .tracking import configure, registered_name

log = logging.getLogger(__name__)

PYFUNC_CODE = str(Path(__file__).with_name("pyfunc_model.py"))


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


def _is_at_least_champion(client: MlflowClient, name: str, metric: str, value: float | None) -> bool:
    """A version with no evaluation (an import without held-out data) becomes champion only of a line that has
    none yet."""
    aliases = client.get_registered_model(name).aliases
    if CHAMPION not in aliases:
        return True
    if value is None:
        return False
    current = client.get_model_version(name, aliases[CHAMPION])
    if current.tags.get(PRIMARY_METRIC_TAG) != metric:
        return True
    return value >= float(current.tags.get(PRIMARY_VALUE_TAG, "-inf"))


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
) -> Published:
    """Inside an active MLflow run: log the pyfunc model, smoke-test it on ``example`` (a payload frame + params),
    register it as ``clipzoo-<domain>`` (``clipzoo-<domain>-<line>`` for a named line) and make it champion when
    ``primary_metric`` is at least the champion's. ``evaluated=False`` (an imported checkpoint without held-out
    data) registers without a metric: such a version becomes champion only of a line without one. ``text_dir``:
    HF text config + tokenizer files packaged with the model (see ``write_package``)."""
    client = configure()
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("publish() must run inside an MLflow run")
    name = registered_name(clip.spec.domain, line)
    value: float | None = None
    if primary_metric in metrics:
        value = float(metrics[primary_metric])
    elif evaluated:
        raise ClipzooError(f"evaluation did not produce the primary metric {primary_metric!r}")
    with tempfile.TemporaryDirectory(prefix="clipzoo-package-") as tmp:
        folder = Path(tmp) / "clipzoo_model"
        sums = write_package(clip, folder, card, metadata, text_dir=text_dir)
        with warnings.catch_warnings():
            # The smoke prediction below does what an input example would, on a real file of the domain.
            warnings.filterwarnings("ignore", message=".*input example was not provided.*")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=PYFUNC_CODE,
                artifacts={MODEL_DIR_ARTIFACT: str(folder)},
                signature=SIGNATURE,
                pip_requirements=pip_requirements(clip.spec.domain),
                metadata={"clipzoo_domain": clip.spec.domain, "weights_sha256": sums[WEIGHTS]},
            )
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    answer = loaded.predict(pd.DataFrame(example["inputs"]), params=example.get("params"))
    if answer["error"].notna().any():
        raise ClipzooError(f"the logged model failed its smoke prediction: {answer['error'].tolist()}")

    try:
        client.get_registered_model(name)
    except mlflow.exceptions.MlflowException:
        what = f"the {line!r} line of " if line else ""
        tags = {DOMAIN_TAG: clip.spec.domain, LINE_TAG: line or ""}
        client.create_registered_model(name, tags=tags, description=f"{what}clipzoo {clip.spec.domain} CLIP models")
    champion = _is_at_least_champion(client, name, primary_metric, value)
    mv = client.create_model_version(name, source=info.model_uri, run_id=run.info.run_id)
    try:
        client.set_model_version_tag(name, mv.version, SHA_TAG, sums[WEIGHTS])
        if value is not None:
            client.set_model_version_tag(name, mv.version, PRIMARY_METRIC_TAG, primary_metric)
            client.set_model_version_tag(name, mv.version, PRIMARY_VALUE_TAG, repr(value))
        if champion:
            client.set_registered_model_alias(name, CHAMPION, mv.version)
    except Exception:
        client.delete_model_version(name, mv.version)
        raise
    log.info("registered %s version %s (champion: %s)", name, mv.version, champion)
    return Published(name, str(mv.version), f"models:/{name}/{mv.version}", champion, primary_metric, value)
