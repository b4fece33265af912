"""The ASGI app ``clipzoo serve`` runs under uvicorn: MLflow's scoring server for a verified local model copy, behind
a request-body bound and short error bodies. The model folder and limits come from the environment."""

from __future__ import annotations

import os

from mlflow.pyfunc import scoring_server

from .asgi_guards import BodyLimit, ShortErrors
from .limits import ENV_MODEL_DIR, ServeLimits


def build_app() -> BodyLimit:
    model = scoring_server.load_model_with_mlflow_config(os.environ[ENV_MODEL_DIR])
    return BodyLimit(ShortErrors(scoring_server.init(model)), ServeLimits.from_env().max_body_bytes)


app = build_app()
