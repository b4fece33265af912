"""`clipzoo import` and one `clipzoo predict` of real-sized checkpoints: wall time and peak RSS against the file.

Writes random-weight replicas of two published checkpoints in their exact Hub layouts into a temporary Hugging Face
cache (HF_HOME) and clipzoo home (CLIPZOO_HOME, SQLite MLflow store):

- QuiltNet-B-32 (``hf-hub:wisdomik/QuiltNet-B-32``, the pathology zoo's ``quiltnet-b-32``): an open_clip hf-hub repo,
  ``open_clip_config.json`` + ``open_clip_pytorch_model.bin`` (``torch.save`` of open_clip ViT-B-32's state dict, fp32,
  ~578 MB), imported by its zoo name;
- RemoteCLIP ViT-L/14 (``chendelong/RemoteCLIP``): the bare state dict ``RemoteCLIP-ViT-L-14.pt`` (~1.7 GB), imported
  as a user does, ``clipzoo import ViT-L-14 RemoteCLIP-ViT-L-14.pt --domain remote_sensing --name remoteclip``.

Each is imported through the real CLI in a fresh process, then predicted on one picture (``clipzoo predict``). Every
process is waited for with ``os.wait4``, so each peak RSS is its own (this process stays small: a child's peak RSS
starts from its parent's at fork). The baseline is ``python -c "import torch, open_clip"``.
Targets: import peak RSS <= baseline + 2 x the checkpoint file; predict of the ViT-B/32 <= 1.5 GB.

Usage: python scripts/bench/import_scale.py [--only quiltnet remoteclip] [--work DIR (kept)] [--threads N]
Needs ~4x the checkpoints' size free in the work folder's file system (--work, else the system's temp folder).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CLIPZOO = str(Path(sys.executable).with_name("clipzoo"))
MB = 1024 * 1024
PREDICT_TARGET_MB = 1536  # 1.5 GB, for the ViT-B/32


@dataclass(frozen=True)
class Replica:
    key: str
    repo: str  # the Hub repo it is published in
    arch: str  # the open_clip architecture of its weights
    file: str  # the weights file, as the repo ships it
    domain: str
    import_args: tuple[str, ...]  # after `clipzoo import`; {file} is the weights file's path in the HF cache
    model: str  # the registered name `clipzoo predict` takes
    labels: tuple[str, ...]
    predict_target_mb: float | None = None


REPLICAS = {
    "quiltnet": Replica(
        key="quiltnet",
        repo="wisdomik/QuiltNet-B-32",
        arch="ViT-B-32",
        file="open_clip_pytorch_model.bin",
        domain="pathology",
        import_args=("quiltnet-b-32", "--domain", "pathology"),
        model="clipzoo-pathology-quiltnet-b-32",
        labels=("adipose tissue", "tumour epithelium", "lymphocytes"),
        predict_target_mb=PREDICT_TARGET_MB,
    ),
    "remoteclip": Replica(
        key="remoteclip",
        repo="chendelong/RemoteCLIP",
        arch="ViT-L-14",
        file="RemoteCLIP-ViT-L-14.pt",
        domain="remote_sensing",
        import_args=("ViT-L-14", "{file}", "--domain", "remote_sensing", "--name", "remoteclip"),
        model="clipzoo-remote_sensing-remoteclip",
        labels=("forest", "river", "residential area"),
    ),
}
# QuiltNet-B-32's open_clip_config.json: ViT-B-32 with OpenAI's normalisation (open_clip's defaults otherwise)
OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]


def snapshot(cache: Path, repo: str) -> Path:
    """A repo's snapshot folder in huggingface_hub's cache layout (refs/main -> snapshots/<commit>)."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    revision = hashlib.sha1(repo.encode()).hexdigest()
    snap = folder / "snapshots" / revision
    snap.mkdir(parents=True, exist_ok=True)
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(revision)
    (folder / "blobs").mkdir(exist_ok=True)
    return snap


def _as_blob(snap: Path, name: str, write: Callable[[Path], object]) -> Path:
    """Write a file as the HF cache holds it: the content in ``blobs/<hash>``, a relative link in the snapshot."""
    blobs = snap.parents[1] / "blobs"
    tmp = blobs / f"{name}.incomplete"
    write(tmp)
    digest = hashlib.sha256()
    with open(tmp, "rb") as fh:
        while block := fh.read(1 << 24):
            digest.update(block)
    blob = blobs / digest.hexdigest()
    tmp.replace(blob)
    link = snap / name
    link.unlink(missing_ok=True)
    link.symlink_to(os.path.relpath(blob, snap))
    return link


def write_replica(key: str, cache: Path) -> None:
    """(In a child process) the replica's files in the HF cache, with random weights."""
    import open_clip
    import torch

    replica = REPLICAS[key]
    torch.manual_seed(0)
    model = open_clip.create_model(replica.arch)  # random weights, fp32, as the published files are
    state = model.state_dict()
    snap = snapshot(cache, replica.repo)
    _as_blob(snap, replica.file, lambda path: torch.save(state, path))
    if key == "quiltnet":
        config = {
            "model_cfg": open_clip.get_model_config(replica.arch),
            "preprocess_cfg": {"mean": OPENAI_MEAN, "std": OPENAI_STD},
        }
        _as_blob(snap, "open_clip_config.json", lambda path: path.write_text(json.dumps(config, indent=2)))


def write_picture(path: Path) -> None:
    """(In a child process) a 512 x 384 RGB PNG of noise."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (384, 512, 3), dtype=np.uint8)).save(path)


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one fresh process; its output is shown when it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.stdout.close()
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code != 0:
        sys.stderr.write(out.decode(errors="replace"))
        raise SystemExit(f"{' '.join(cmd[:4])} ... exited with {code}")
    return wall, usage.ru_maxrss / 1024


def verdict(value: float, target: float) -> str:
    return f"{'PASS' if value <= target else 'FAIL'} (target <= {target:.0f} MB)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(REPLICAS), default=sorted(REPLICAS, reverse=True))
    parser.add_argument("--work", help="a folder to work in (kept; replicas already there are reused)")
    parser.add_argument("--threads", type=int, help="torch threads of the children (OMP_NUM_THREADS)")
    parser.add_argument("--write-replica", nargs=2, metavar=("KEY", "CACHE"), help=argparse.SUPPRESS)
    parser.add_argument("--write-picture", metavar="PATH", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.write_replica:
        write_replica(opts.write_replica[0], Path(opts.write_replica[1]))
        return 0
    if opts.write_picture:
        write_picture(Path(opts.write_picture))
        return 0

    work = Path(opts.work or tempfile.mkdtemp(prefix="clipzoo-import-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    home, hf_home = work / "home", work / "hf"
    free = shutil.disk_usage(work).free / 1e9
    env = {
        **os.environ,
        "CLIPZOO_HOME": str(home),
        "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
        "HF_HOME": str(hf_home),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    env.pop("HF_HUB_CACHE", None)
    if opts.threads:
        env["OMP_NUM_THREADS"] = str(opts.threads)
    cache = hf_home / "hub"
    print(f"work folder {work} ({free:.1f} GB free); cores: {os.cpu_count()}; "
          f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip

    picture = work / "picture.png"
    if not picture.is_file():
        run([sys.executable, __file__, "--write-picture", str(picture)], env)
    base_wall, base_rss = run([sys.executable, "-c", "import torch, open_clip"], env)
    print(f"baseline `import torch, open_clip`: {base_wall:.2f} s, peak RSS {base_rss:.0f} MB")

    rows = []
    failed = False
    for key in opts.only:
        replica = REPLICAS[key]
        weights = snapshot(cache, replica.repo) / replica.file
        if not weights.is_file():
            wall, _ = run([sys.executable, __file__, "--write-replica", key, str(cache)], env)
            print(f"{key}: wrote the replica {weights.name} in {wall:.0f} s")
        size = weights.stat().st_size / MB
        args = [a.replace("{file}", str(weights)) for a in replica.import_args]
        imp_wall, imp_rss = run([CLIPZOO, "import", *args], env)
        pred_wall, pred_rss = run([CLIPZOO, "predict", replica.model, str(picture), "--labels", *replica.labels], env)
        import_target = base_rss + 2 * size
        ok = imp_rss <= import_target and (replica.predict_target_mb is None or pred_rss <= replica.predict_target_mb)
        failed |= not ok
        rows.append((replica, size, imp_wall, imp_rss, pred_wall, pred_rss, import_target))

    print()
    for replica, size, imp_wall, imp_rss, pred_wall, pred_rss, import_target in rows:
        print(f"{replica.repo}/{replica.file} ({replica.arch}): {size:.0f} MB")
        print(f"  import   wall {imp_wall:6.1f} s  peak RSS {imp_rss:6.0f} MB = baseline + "
              f"{(imp_rss - base_rss) / size:.2f} x file  {verdict(imp_rss, import_target)}")  # fmt: skip
        target = replica.predict_target_mb
        print(f"  predict  wall {pred_wall:6.1f} s  peak RSS {pred_rss:6.0f} MB = baseline + "
              f"{(pred_rss - base_rss) / size:.2f} x file  "
              f"{verdict(pred_rss, target) if target else '(no target)'}")  # fmt: skip
    if not opts.work:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
