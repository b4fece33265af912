"""`clipzoo embed`: Parquet embeddings through the registered model's predict path, locally and on Spark (local
mode, for real), resumable after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from clipzoo.core.data import Manifest
from clipzoo.core.shards import write_shards
from clipzoo.pipeline.predict import predict

from tests.cli.test_cli import clipzoo_inprocess

REPO = Path(__file__).resolve().parents[2]


def _read(out: Path) -> pd.DataFrame:
    return pd.concat([pq.read_table(p).to_pandas() for p in sorted(out.glob("*.parquet"))], ignore_index=True)


def _embeddings(frame: pd.DataFrame) -> np.ndarray:
    return np.stack([np.asarray(e, dtype=np.float32) for e in frame["embedding"]])


def test_embed_writes_one_parquet_per_part_equal_to_the_predict_path_and_skips_them_after(
    registered_image_model, image_demo, tmp_path, capsys
):
    out = tmp_path / "emb"
    args = ("embed", "clipzoo-image/1", "--data", str(image_demo.heldout), "--out", str(out), "--rows-per-file", "20")
    proc = clipzoo_inprocess(capsys, *args)
    assert proc.returncode == 0, proc.stderr
    rows = len(pd.read_csv(image_demo.heldout))
    parts = -(-rows // 20)
    assert sorted(p.name for p in out.glob("*.parquet")) == [f"part-{i:05d}.parquet" for i in range(parts)]
    frame = _read(out)
    assert frame["key"].tolist() == [str(i) for i in range(rows)] and frame["error"].isna().all()
    assert set(frame["model_name"]) == {"clipzoo-image"} and set(frame["model_version"]) == {"1"}
    assert frame["weights_sha256"].str.len().eq(64).all()
    manifest = Manifest.read(image_demo.heldout)
    answers = predict("clipzoo-image/1", pd.DataFrame({"path": [str(manifest.file(i)) for i in range(3)]}),
                      {"task": "embed"})  # fmt: skip
    np.testing.assert_allclose(_embeddings(frame)[:3], np.array([a["embedding"] for a in answers]), atol=1e-6)

    again = clipzoo_inprocess(capsys, *args)
    assert f"0 file(s) written (0 rows, 0 in error), {parts} already complete" in again.stdout

    other = clipzoo_inprocess(capsys, *args[:-2], "--rows-per-file", "7")
    assert other.returncode == 2 and "holds embeddings of another model or other rows" in other.stderr


def test_embed_on_spark_equals_the_local_job(registered_image_model, image_demo, tmp_path, capsys):
    pytest.importorskip("pyspark")
    shards = write_shards(Manifest.read(image_demo.heldout), tmp_path / "shards" / "s-%04d.tar", max_count=16)
    local, spark = tmp_path / "local", tmp_path / "spark"
    assert clipzoo_inprocess(capsys, "embed", "clipzoo-image/1", "--data", str(shards[0].parent),
                             "--out", str(local)).returncode == 0  # fmt: skip
    proc = clipzoo_inprocess(capsys, "embed", "clipzoo-image/1", "--data", str(shards[0].parent), "--out", str(spark),
                             "--engine", "spark", "--master", "local[2]")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in spark.glob("*.parquet")) == [f"{s.stem}.parquet" for s in shards]
    a, b = _read(local), _read(spark)
    assert a["key"].tolist() == b["key"].tolist() and len(a) == len(pd.read_csv(image_demo.heldout))
    np.testing.assert_allclose(_embeddings(a), _embeddings(b), atol=1e-5)


@pytest.mark.slow
def test_a_killed_embed_job_resumes_and_writes_each_file_once(registered_image_model, image_demo, tmp_path):
    out = tmp_path / "emb"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "clipzoo.cli.main", "embed", "clipzoo-image/1", "--data", str(image_demo.heldout),
           "--out", str(out), "--rows-per-file", "4"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not list(out.glob("*.parquet")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("*.parquet")}
    parts = -(-len(pd.read_csv(image_demo.heldout)) // 4)
    assert 1 <= len(before) < parts, "killed midway"

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"{len(before)} already complete" in done.stdout
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("*.parquet")}
    assert len(after) == parts and all(after[name] == stamp for name, stamp in before.items())
    assert not list(out.glob(".*.tmp"))
    assert _read(out)["key"].tolist() == [str(i) for i in range(len(pd.read_csv(image_demo.heldout)))]
