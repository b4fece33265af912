"""The embed job on Spark: ``mapInPandas`` over the registered model's pyfunc, on the master the user's session
names (an active ``SparkSession``, ``--master``, or ``SPARK_MASTER``; ``local[*]`` by default).

Each Python worker loads the verified model once (from the registry the driver uses: a team registry's tracking
server, or this machine's store in local mode) and writes the Parquet file of every part it holds, atomically, with
the same writer as the local engine; the driver collects one status row per part.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd

from .embed_parts import ModelIdentity, write_part

_RESULT_SCHEMA = "part string, rows long, errors long"
_LOADED: dict[str, object] = {}  # per Python worker: the model, loaded once


def spark_session(master: str | None = None):
    """The active session, or a new one on ``master`` whose Python workers run this interpreter."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:
        from clipzoo.core.errors import InputError

        raise InputError("the spark engine needs pyspark: pip install 'clipzoo[spark]'") from err
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("clipzoo-embed").master(master or os.environ.get("SPARK_MASTER", "local[*]"))
    return (
        builder.config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.python.worker.reuse", "true")
        .getOrCreate()
    )


def _worker(model: ModelIdentity, out: str, threads: int):
    def run(batches):
        import torch
        from clipzoo.registry.loading import load_pyfunc

        if model.ref not in _LOADED:
            _LOADED[model.ref] = load_pyfunc(model.ref)
        batches = [b for b in batches if len(b)]
        torch.set_num_threads(threads)
        if not batches:  # hash partitioning can leave a Spark partition empty
            return
        rows = pd.concat(batches, ignore_index=True)
        for part, part_rows in rows.groupby("part", sort=True):
            count, errors = write_part(_LOADED[model.ref], model, str(part), part_rows, Path(out))
            yield pd.DataFrame({"part": [str(part)], "rows": [count], "errors": [errors]})

    return run


def embed_on_spark(model: ModelIdentity, plan: pd.DataFrame, out: Path, master: str | None) -> list[tuple[int, int]]:
    """Write every part of ``plan`` from Spark tasks; returns (rows, errors) per part."""
    spark = spark_session(master)
    parts = int(plan["part"].nunique())
    parallelism = max(1, spark.sparkContext.defaultParallelism)
    threads = max(1, (os.cpu_count() or 1) // parallelism)
    frame = spark.createDataFrame(plan.astype({"offset": "float64", "size": "float64"}))
    result = (
        frame.repartition(min(parts, parallelism * 4), "part")
        .mapInPandas(_worker(model, str(out.resolve()), threads), _RESULT_SCHEMA)
        .toPandas()
    )
    return list(zip(result["rows"].astype(int), result["errors"].astype(int), strict=True))
