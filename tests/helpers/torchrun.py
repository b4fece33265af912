"""Run a helper script alone and under torchrun (2 CPU processes), failing the test with its output if it fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TORCHRUN_2 = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]


def run_ok(cmd: list[str], cwd: Path | None = None) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def run_alone_and_on_two_ranks(script: Path, *args: str, cwd: Path | None = None) -> None:
    """``python script args`` then ``torchrun --nproc-per-node 2 script args``."""
    run_ok([sys.executable, str(script), *args], cwd)
    run_ok([*TORCHRUN_2, str(script), *args], cwd)
