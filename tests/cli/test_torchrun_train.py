"""The README's torchrun command, 2 ranks on a fresh CLIPZOO_HOME: both ranks start at once on an empty store, train,
and rank 0 registers the model."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import REPO, write_spec
from tests.helpers.torchrun import TORCHRUN_2


@pytest.mark.slow
def test_torchrun_on_a_fresh_home_trains_and_registers(tiny_spec, image_demo, tmp_path):
    home = tmp_path / "fresh-home"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env |= {
        "CLIPZOO_HOME": str(home), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }  # fmt: skip
    command = [
        *TORCHRUN_2, "--no-python", "clipzoo", "train", "image", "--data", str(image_demo.train),
        "--heldout", str(image_demo.heldout), "--config", str(write_spec(tiny_spec, tmp_path)),
        "--epochs", "1", "--batch-size", "16", "--warmup-steps", "2",
    ]  # fmt: skip
    proc = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"registered clipzoo-image version 1; shape_top1 = [0-9.]+ -> champion", proc.stdout)
    uri = f"sqlite:///{home / 'mlflow.db'}"
    versions = MlflowClient(tracking_uri=uri, registry_uri=uri).search_model_versions("name='clipzoo-image'")
    assert [int(v.version) for v in versions] == [1]
