"""A team registry: PostgreSQL behind `mlflow server --serve-artifacts`, started by scripts/team_registry.sh, used
by clipzoo commands as a team would, from machines that cannot see the server's disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import requests
from clipzoo.registry.catalog import CHAMPION, PRIMARY_VALUE_TAG, SHA_TAG
from clipzoo.registry.package import WEIGHTS
from clipzoo.registry.store_index import is_registry_lock
from mlflow.tracking import MlflowClient

from tests.conftest import REPO, write_spec
from tests.helpers.hub import write_open_clip_repo
from tests.helpers.serving import served
from tests.helpers.team_registry import can_hide_folders, team_registry, without

NAME = "clipzoo-image"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def team():
    with team_registry() as registry:
        yield registry


@pytest.fixture(scope="module")
def hide(team) -> list[str]:
    """The prefix that runs a client without the server's artifact folder (none where namespaces are not allowed:
    the client still reaches artifacts only by URI, which the tests check)."""
    return without(team.artifacts) if can_hide_folders() else []


def client_env(team, home: Path) -> dict[str, str]:
    """A team member's shell: their own clipzoo folder, the team's tracking server."""
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "CLIPZOO_HOME": str(home),
            "MLFLOW_TRACKING_URI": team.url}  # fmt: skip


def clipzoo(prefix: list[str], env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    cmd = [*prefix, sys.executable, "-m", "clipzoo.cli.main", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def test_two_trainings_register_into_the_team_registry_at_once(team, hide, tiny_spec, image_demo, tmp_path):
    config = write_spec(tiny_spec, tmp_path)
    procs = []
    for seed in (1, 2):
        cmd = [
            *hide, sys.executable, "-m", "clipzoo.cli.main", "train", "image", "--data", str(image_demo.train),
            "--heldout", str(image_demo.heldout), "--config", str(config), "--epochs", "1", "--batch-size", "16",
            "--warmup-steps", "2", "--seed", str(seed), "--output-dir", str(tmp_path / f"out{seed}"),
        ]  # fmt: skip
        env = client_env(team, tmp_path / f"home{seed}")
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for proc in procs:
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]

    client = MlflowClient(tracking_uri=team.url, registry_uri=team.url)
    versions = client.search_model_versions(f"name='{NAME}'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    for mv in versions:  # complete: checksum and metric written with the version, the files on the server
        assert mv.status == "READY" and len(mv.tags[SHA_TAG]) == 64 and PRIMARY_VALUE_TAG in mv.tags
        assert mv.source.startswith("models:/m-")
        logged = client.get_logged_model(mv.source.removeprefix("models:/"))
        assert logged.artifact_location.startswith("mlflow-artifacts:")
    best = max(versions, key=lambda v: (float(v.tags[PRIMARY_VALUE_TAG]), -int(v.version)))
    champion = client.get_registered_model(NAME).aliases[CHAMPION]
    assert float(client.get_model_version(NAME, champion).tags[PRIMARY_VALUE_TAG]) == float(
        best.tags[PRIMARY_VALUE_TAG]
    )
    assert not [m.name for m in client.search_registered_models() if is_registry_lock(m.name)]
    assert len(list(team.artifacts.rglob(WEIGHTS))) == 2  # the checkpoints live on the server's side only


def test_every_command_works_against_the_team_registry(team, hide, image_demo, tmp_path, monkeypatch):
    """predict, eval, models, import and serve from a client that cannot see the server's artifact folder."""
    env = client_env(team, tmp_path / "home")
    heldout = pd.read_csv(image_demo.heldout)
    image = str(Path(image_demo.heldout).parent / heldout["path"][0])

    predicted = clipzoo(hide, env, "predict", NAME, image, "--labels", "circle", "star", "--json")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    row = json.loads(predicted.stdout.splitlines()[0])
    assert set(row["labels"]) == {"circle", "star"} and row["input"] == image

    evaluated = clipzoo(hide, env, "eval", NAME, "--data", str(image_demo.heldout))
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert "shape_top1" in evaluated.stdout

    cache = tmp_path / "hub"
    cache.mkdir()
    write_open_clip_repo(cache, "clipzoo-test/team-import", seed=3)
    imported = clipzoo(hide, {**env, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}, "import",
                       "hf-hub:clipzoo-test/team-import", "--domain", "image", "--name", "team")  # fmt: skip
    assert imported.returncode == 0, imported.stderr[-3000:]

    listed = clipzoo(hide, env, "models", "list")
    assert listed.returncode == 0 and "clipzoo-image-team" in listed.stdout and "clipzoo.lock" not in listed.stdout
    shown = clipzoo(hide, env, "models", "show", NAME, "--json")
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert json.loads(shown.stdout)["name"] == NAME

    with served(NAME, "serve-team.log", "--data-root", str(Path(image).parent), prefix=hide, env=env) as url:
        reply = requests.post(
            f"{url}/invocations",
            json={"inputs": {"path": [image]}, "params": {"labels": ["circle", "star"]}},
            timeout=120,
        )
    assert reply.status_code == 200, reply.text
    assert set(reply.json()["predictions"][0]["labels"]) == {"circle", "star"}
