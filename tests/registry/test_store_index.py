"""The quick read of a local store's model names (no MLflow import) says "not registered" exactly when MLflow's
client would, with the same message, and otherwise leaves the answer to MLflow."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from clipzoo.core.errors import ModelNotFoundError
from clipzoo.registry.catalog import resolve
from clipzoo.registry.store_index import unregistered_locally

from tests.conftest import REPO


def test_agrees_with_mlflow_on_every_reference_form(registered_image_model):
    version = registered_image_model.published.version
    for ref in ("clipzoo-image", "image", f"clipzoo-image/{version}", "image@champion", "clipzoo-image@nope"):
        assert unregistered_locally(ref) is None, ref  # exists (a missing alias or version is MLflow's to say)
    for ref in ("runs:/0123/model", "models:/x/1", "0123456789abcdef0123456789abcdef"):
        assert unregistered_locally(ref) is None, ref  # not a name: MLflow answers
    for ref in ("no-such-model", "nope@champion", "nope/3"):
        quick = unregistered_locally(ref)
        with pytest.raises(ModelNotFoundError) as err:
            resolve(ref)
        assert quick is not None and quick == str(err.value), ref


def test_answers_without_importing_mlflow(registered_image_model):
    code = (
        "import sys; from clipzoo.registry.store_index import unregistered_locally; "
        "print(unregistered_locally('no-such-model')); print('mlflow' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    message, imported = out.strip().splitlines()
    assert message.startswith("no registered model 'no-such-model'; registered models: ") and "clipzoo-image" in message
    assert imported == "False"
