"""Registering trained models: artifacts, checksums, models-from-code, champion policy, nothing half-registered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from clipzoo.core.errors import ChecksumError, ClipzooError
from clipzoo.registry.catalog import CHAMPION, PRIMARY_VALUE_TAG, SHA_TAG, resolve
from clipzoo.registry.loading import load_clip
from clipzoo.registry.package import WEIGHTS, load_package, sha256_file
from clipzoo.registry.publish import publish
from clipzoo.registry.tracking import configure
from mlflow.tracking import MlflowClient


def _model_folder(uri: str) -> Path:
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    return local / "artifacts" / "clipzoo_model"


def test_registered_version_carries_weights_spec_card_and_checksum(registered_image_model):
    pub = registered_image_model.published
    client = configure()
    mv = client.get_model_version(pub.name, pub.version)
    assert pub.name == "clipzoo-image"
    folder = _model_folder(pub.model_uri)
    assert {"weights.safetensors", "spec.json", "model_card.md", "checksums.json", "metadata.json"} <= {
        p.name for p in folder.iterdir()
    }
    assert mv.tags[SHA_TAG] == sha256_file(folder / WEIGHTS)
    card = (folder / "model_card.md").read_text()
    assert "shape_top1" in card and "open_clip_torch" in card and "Limitations" in card
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["versions"]["torch"].startswith("2.14.1")
    assert json.loads((folder / "spec.json").read_text())["name"] == "tiny"


def test_model_is_logged_from_code_with_signature_and_requirements(registered_image_model):
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=registered_image_model.published.model_uri))
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    pyfunc = mlmodel["flavors"]["python_function"]
    assert pyfunc.get("model_code_path", "").endswith("pyfunc_model.py")
    assert not list(local.rglob("*.pkl")), "models-from-code must pickle nothing"
    params = {p["name"] for p in json.loads(mlmodel["signature"]["params"])}
    assert params == {"labels", "templates", "task", "top_k", "return_embeddings", "catalogue", "options"}
    reqs = (local / "requirements.txt").read_text()
    assert "torch==2.14.1" in reqs and "open_clip_torch==3.3.0" in reqs


def test_run_has_params_metrics_and_plots(registered_image_model):
    client = MlflowClient()
    run = client.get_run(registered_image_model.run_id)
    assert run.data.params["train.epochs"] == "2"
    assert "heldout_shape_top1" in run.data.metrics and "epoch_loss" in run.data.metrics
    assert len(client.get_metric_history(run.info.run_id, "epoch_loss")) == 2
    plots = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "plots")}
    assert {"loss_curve.png", "confusion_shape.png", "confusion_colour.png"} <= plots


def test_tampered_weights_are_refused(registered_image_model, tmp_path):
    folder = shutil.copytree(_model_folder(registered_image_model.published.model_uri), tmp_path / "m")
    assert load_package(folder).spec.name == "tiny"
    data = bytearray((folder / WEIGHTS).read_bytes())
    data[-1] ^= 0xFF
    (folder / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=r"weights\.safetensors"):
        load_package(folder)


def _versions(client, name):
    return sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))


def test_champion_moves_only_when_the_new_version_is_at_least_as_good(registered_image_model, image_demo):
    client = configure()
    clip = load_clip("clipzoo-image@champion")
    name = registered_image_model.published.name
    champion = client.get_registered_model(name).aliases[CHAMPION]
    best = float(client.get_model_version(name, champion).tags[PRIMARY_VALUE_TAG])
    example = {
        "inputs": {"path": [str(Path(image_demo.heldout).parent / "images" / _first_image(image_demo))]},
        "params": {"labels": ["circle", "square"]},
    }

    same_data = sha256_file(image_demo.heldout)
    with mlflow.start_run():
        worse = publish(clip, "card", {}, "shape_top1", {"shape_top1": best - 0.1}, example, data_sha256=same_data)
    assert not worse.champion and worse.champion_note is None
    assert str(client.get_registered_model(name).aliases[CHAMPION]) == str(champion)

    with mlflow.start_run():  # better, but on other held-out data: not compared, and said so
        elsewhere = publish(clip, "card", {}, "shape_top1", {"shape_top1": best + 0.1}, example, data_sha256="0" * 64)
    assert not elsewhere.champion and "measured on other data" in elsewhere.champion_note
    assert str(client.get_registered_model(name).aliases[CHAMPION]) == str(champion)

    with mlflow.start_run():
        equal = publish(clip, "card", {}, "shape_top1", {"shape_top1": best}, example, data_sha256=same_data)
    assert equal.champion
    assert str(client.get_registered_model(name).aliases[CHAMPION]) == equal.version
    assert resolve(name).version == equal.version  # a bare name means its champion


def test_a_model_that_fails_its_smoke_prediction_is_not_registered(registered_image_model, tmp_path):
    client = configure()
    name = registered_image_model.published.name
    before = _versions(client, name)
    clip = load_clip(name)
    broken = {"inputs": {"path": [str(tmp_path / "missing.png")]}, "params": {"labels": ["circle"]}}
    with mlflow.start_run(), pytest.raises((ClipzooError, mlflow.exceptions.MlflowException)):
        publish(clip, "card", {}, "shape_top1", {"shape_top1": 1.0}, broken)
    assert _versions(client, name) == before


def _first_image(image_demo) -> str:
    return Path(pd.read_csv(image_demo.heldout)["path"][0]).name
