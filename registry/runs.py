"""Recovering after a command was killed: its run left RUNNING, a logged model left PENDING, a version it registered.

``recover_run`` is called when a training command resumes a run id it finds in its output folder; a run still
RUNNING there was killed (one output folder serves one command at a time), so it is marked FAILED, as are its
unfinished logged models, before the command resumes it.
"""

from __future__ import annotations

import logging

from mlflow.entities import LoggedModelStatus, RunStatus
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from .tracking import configure

log = logging.getLogger(__name__)

INTERRUPTED_TAG = "clipzoo.interrupted"


def fail_pending_models(client: MlflowClient, run_id: str) -> int:
    """Mark the run's logged models still PENDING (a ``log_model`` cut short) as FAILED; returns how many."""
    run = client.get_run(run_id)
    pending = client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'"
    )
    failed = 0
    for model in pending:
        if model.status == LoggedModelStatus.PENDING:
            client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
            failed += 1
    return failed


def recover_run(run_id: str | None, client: MlflowClient | None = None) -> bool:
    """Mark a run left RUNNING by a killed command FAILED (and its pending logged models); returns whether it was."""
    if not run_id:
        return False
    client = client or configure()
    try:
        run = client.get_run(run_id)
    except MlflowException:
        return False
    if run.info.status != RunStatus.to_string(RunStatus.RUNNING):
        return False
    fail_pending_models(client, run_id)
    client.set_tag(run_id, INTERRUPTED_TAG, "true")
    client.set_terminated(run_id, status="FAILED")
    log.warning("run %s was left RUNNING by a killed command: marked FAILED, now resumed", run_id)
    return True


def version_of_run(client: MlflowClient, name: str, run_id: str) -> ModelVersion | None:
    """The version of ``name`` a run already registered (the oldest, should there be several), or None."""
    try:
        found = client.search_model_versions(f"name='{name}' and run_id='{run_id}'")
    except MlflowException:
        return None
    return min(found, key=lambda v: int(v.version)) if found else None
