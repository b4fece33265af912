"""`clipzoo predict` cold start: wall time and peak RSS of fresh processes, as a user runs the command.

Cases: (a) an unknown model, (b) a missing input file, (c) one image with the small image demo model, which is first
trained and registered (`clipzoo train image --data demo --small`) into a temporary CLIPZOO_HOME / SQLite MLflow store.
Targets: (a) and (b) < 2 s; (c) <= 5 s on an idle 2-core machine. Each case runs ``--rounds`` times; the median wall
time and the largest peak RSS are printed. Evidence of what is imported: ``python -X importtime -m clipzoo.cli.main``.

Usage: python scripts/bench/cold_start.py [--rounds 3] [--home DIR (reuse a home with the model registered)]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLIPZOO = str(Path(sys.executable).with_name("clipzoo"))


def run(args: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one fresh `clipzoo` process."""
    start = time.perf_counter()
    proc = subprocess.Popen([CLIPZOO, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    return wall, usage.ru_maxrss / 1024, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--home", help="a CLIPZOO_HOME to reuse (the demo model is trained there if absent)")
    opts = parser.parse_args()
    home = Path(opts.home or tempfile.mkdtemp(prefix="clipzoo-cold-start-"))
    env = {
        **os.environ,
        "CLIPZOO_HOME": str(home),
        "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    image = next((home / "demo").rglob("*.png"), None) if (home / "demo").is_dir() else None
    if image is None or run(["models", "show", "clipzoo-image", "--card"], env)[2] != 0:
        print(f"training and registering the small image demo model in {home} ...", flush=True)
        demo = home / "demo"
        # in a child process: this one stays small, since a child's peak RSS starts from its parent's at fork
        write = (
            "from clipzoo.core.domain import get_domain; "
            f"get_domain('image').write_demo_data({str(demo)!r}, small=True)"
        )
        subprocess.run([sys.executable, "-c", write], env=env, check=True)
        subprocess.run(
            [CLIPZOO, "train", "image", "--data", str(demo / "train.csv"), "--heldout", str(demo / "heldout.csv"),
             "--small", "--epochs", "1"],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        image = next(demo.rglob("*.png"))
    cases = {
        "unknown model": ["predict", "no-such-model", str(image), "--labels", "circle"],
        "missing file": ["predict", "clipzoo-image", str(home / "missing.png"), "--labels", "circle"],
        "one image": ["predict", "clipzoo-image", str(image), "--labels", "circle", "square", "star"],
    }
    expected = {"unknown model": 2, "missing file": 2, "one image": 0}
    print(f"cores: {os.cpu_count()}  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, args in cases.items():
        walls, peaks = [], []
        for _ in range(opts.rounds):
            wall, peak, code = run(args, env)
            if code != expected[name]:
                print(f"  {name}: exit code {code}, expected {expected[name]}", file=sys.stderr)
                return 1
            walls.append(wall)
            peaks.append(peak)
        spread = f"{min(walls):.2f}-{max(walls):.2f}"
        print(f"{name:14s} wall {statistics.median(walls):5.2f} s (range {spread})  peak RSS {max(peaks):6.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
