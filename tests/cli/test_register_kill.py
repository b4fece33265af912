"""`clipzoo train` killed with SIGKILL at several moments of its registration, then run again: no version ever lacks
its tags, the champion never points at such a version, the killed run is marked FAILED when the command is rerun,
and the rerun ends with exactly one version for the run and no temporary package folder left."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clipzoo.registry.catalog import CHAMPION, PRIMARY_METRIC_TAG, PRIMARY_VALUE_TAG, SHA_TAG
from clipzoo.registry.manifest import MANIFEST_SHA_TAG, MANIFEST_TAG
from clipzoo.registry.publish import STAGES_ENV
from clipzoo.registry.runs import INTERRUPTED_TAG
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from tests.conftest import REPO, write_spec

NAME = "clipzoo-image"
REQUIRED_TAGS = {SHA_TAG, PRIMARY_METRIC_TAG, PRIMARY_VALUE_TAG, MANIFEST_TAG, MANIFEST_SHA_TAG}


def _versions(client: MlflowClient):
    try:
        return client.search_model_versions(f"name='{NAME}'")
    except MlflowException:  # no registered model yet
        return []


def _check_invariants(client: MlflowClient) -> None:
    versions = _versions(client)
    for mv in versions:
        assert set(mv.tags) >= REQUIRED_TAGS, f"version {mv.version} lacks {REQUIRED_TAGS - set(mv.tags)}"
    if versions:
        aliases = client.get_registered_model(NAME).aliases
        if CHAMPION in aliases:
            assert set(client.get_model_version(NAME, aliases[CHAMPION]).tags) >= REQUIRED_TAGS


@pytest.mark.slow
def test_kills_during_registration_never_leave_a_half_registered_version(tiny_spec, image_demo, tmp_path):
    home = tmp_path / "home"
    stages = tmp_path / "stages.txt"
    env = {
        **os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "CLIPZOO_HOME": str(home),
        "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}", STAGES_ENV: str(stages),
    }  # fmt: skip
    command = [
        sys.executable, "-m", "clipzoo.cli.main", "train", "image", "--data", str(image_demo.train),
        "--heldout", str(image_demo.heldout), "--config", str(write_spec(tiny_spec, tmp_path)), "--epochs", "1",
        "--batch-size", "16", "--warmup-steps", "2", "--checkpoint-every", "2", "--output-dir", str(tmp_path / "out"),
    ]  # fmt: skip
    rng = random.Random(12)
    # (stage to wait for, extra seconds before the kill): right at each stage, and at random moments inside them
    plan = [("logging", 0.0), ("registering", 0.0), ("champion", 0.0), ("logging", rng.uniform(0.2, 2.0))]
    killed_at = []
    for stage, delay in plan:
        stages.unlink(missing_ok=True)
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        while proc.poll() is None and time.time() < deadline:
            if stages.is_file() and stage in stages.read_text().split():
                break
            time.sleep(0.02)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed_at.append(stage)
        proc.wait(timeout=60)
        client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"], registry_uri=env["MLFLOW_TRACKING_URI"])
        _check_invariants(client)
    assert len(killed_at) >= 3, f"the kills must land inside registration: {killed_at}"

    stages.unlink(missing_ok=True)
    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr[-3000:]
    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"], registry_uri=env["MLFLOW_TRACKING_URI"])
    _check_invariants(client)
    run_id = (tmp_path / "out" / "mlflow_run_id.txt").read_text().strip()
    mine = [mv for mv in _versions(client) if mv.run_id == run_id]
    assert len(mine) == 1, [mv.version for mv in mine]
    assert str(client.get_registered_model(NAME).aliases[CHAMPION]) == str(mine[0].version)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags.get(INTERRUPTED_TAG) == "true"
    models = client.search_logged_models([run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'")
    assert not [m for m in models if str(m.status).endswith("PENDING")]
    assert not [p for p in Path(home / "tmp").iterdir() if p.name.startswith("package-")]
