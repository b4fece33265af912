"""`clipzoo train` killed with SIGKILL mid-run and started again ends with the weights of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch
from clipzoo.core.checkpoint import load_checkpoint_file

from tests.conftest import REPO, write_spec


@pytest.mark.slow
def test_sigkill_and_resume_match_an_uninterrupted_run(tiny_spec, image_demo, tmp_path):
    spec_path = write_spec(tiny_spec, tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}

    def command(out):
        return [
            sys.executable, "-m", "clipzoo.cli.main", "train", "image", "--data", str(image_demo.train),
            "--config", str(spec_path), "--epochs", "3", "--batch-size", "16", "--warmup-steps", "2",
            "--checkpoint-every", "2", "--output-dir", str(out), "--no-register",
        ]  # fmt: skip

    total_steps = 3 * (len(pd.read_csv(image_demo.train)) // 16)
    full = subprocess.run(command(tmp_path / "full"), env=env, capture_output=True, text=True, timeout=600)
    assert full.returncode == 0, full.stderr[-3000:]

    checkpoint = tmp_path / "cut" / "last.pt"
    proc = subprocess.Popen(command(tmp_path / "cut"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not checkpoint.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    killed_at = load_checkpoint_file(checkpoint)["state"]["global_step"]
    assert 0 < killed_at < total_steps, "the run must be killed part-way for this test to mean anything"

    resumed = subprocess.run(command(tmp_path / "cut"), env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = load_checkpoint_file(tmp_path / "full" / "last.pt")
    b = load_checkpoint_file(checkpoint)
    assert a["state"]["global_step"] == b["state"]["global_step"] == total_steps
    assert a["state"]["step_losses"] == b["state"]["step_losses"]
    for name, value in a["model"].items():
        assert torch.equal(b["model"][name], value), name
