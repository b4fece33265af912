"""The embed job: a registered model's embeddings of a manifest or of WebDataset shards, as Parquet.

The input is cut into parts: one per shard, or ``rows_per_file`` rows of a manifest. Each part becomes one Parquet
file (``key``, ``path``, ``embedding``, ``error``, the model's name, version and weights sha256), written to a
temporary name and renamed into place, so a file that exists is complete. A rerun skips the parts already written
for the same model and rows (a killed job resumes; each output is written once) and refuses a folder holding another
model's or other rows' embeddings.

Inputs a domain stores features of, one file each (``task``: whole slides, ``Domain.feature_tasks``), are written
by the domain instead: one HDF5 file per slide in the TRIDENT/CLAM layout, skipped when up to date.

Every part goes through the registered model's own predict path (its pyfunc, as the server answers): in this process
(``engine="local"``), or as a Spark job (``engine="spark"``: ``mapInPandas`` over the same pyfunc, each Python worker
loading the verified model once and writing the files of the parts it holds).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from clipzoo.core.data import Manifest
from clipzoo.core.errors import InputError
from clipzoo.core.progress import Progress
from clipzoo.registry.catalog import SHA_TAG
from clipzoo.registry.loading import load_pyfunc_version

from .embed_parts import ROWS_PER_FILE, ModelIdentity, pending_parts, plan_parts, write_part

ENGINES = ("local", "spark")


@dataclass
class EmbedResult:
    written: list[str]
    skipped: list[str]
    rows: int
    errors: int
    seconds: float
    model: ModelIdentity


def embed(
    ref: str,
    data: str | Path,
    out: str | Path,
    engine: str = "local",
    rows_per_file: int = ROWS_PER_FILE,
    key_column: str | None = None,
    master: str | None = None,
) -> EmbedResult:
    """``clipzoo embed``: every input of ``data`` through the registered model ``ref`` into Parquet files in ``out``."""
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    started = time.perf_counter()
    plan = plan_parts(data, rows_per_file, key_column)
    pyfunc, mv = load_pyfunc_version(ref)
    model = ModelIdentity(mv.name, str(mv.version), mv.tags.get(SHA_TAG, ""))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".*.parquet.*.tmp"):  # a write cut short by a kill: never renamed into place
        stale.unlink(missing_ok=True)
    todo, done = pending_parts(out, model, plan)
    pending = plan[plan["part"].isin(todo)]
    if engine == "spark" and todo:
        from .embed_spark import embed_on_spark

        counts = embed_on_spark(model, pending, out, master)
    else:
        counts = [write_part(pyfunc, model, part, rows, out) for part, rows in _parts(pending)]
    return EmbedResult(todo, done, sum(c[0] for c in counts), sum(c[1] for c in counts),
                       time.perf_counter() - started, model)  # fmt: skip


def _parts(plan: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    groups = list(plan.groupby("part", sort=True))
    for part, rows in Progress(groups, total=len(groups), desc="embed"):
        yield str(part), rows


@dataclass
class FeatureResult:
    written: list[Path]
    skipped: list[Path]
    errors: list[str]
    seconds: float


def embed_features(ref: str, data: str | Path, out: str | Path, task: str, options: dict[str, Any]) -> FeatureResult:
    """``clipzoo embed --task TASK``: one features file per input of the manifest ``data``, by the model's domain."""
    from clipzoo.core.domain import get_domain
    from clipzoo.core.errors import ClipzooError
    from clipzoo.registry.loading import registered_package
    from clipzoo.registry.package import load_package

    started = time.perf_counter()
    manifest = Manifest.read(data, require_caption=False)
    with registered_package(ref) as (mv, package):
        clip = load_package(package)
    domain = get_domain(clip.spec.domain)
    writers = domain.feature_tasks()
    if task not in writers:
        raise InputError(f"domain {domain.name!r} stores no {task!r} features; it stores: {sorted(writers) or 'none'}")
    result = FeatureResult([], [], [], 0.0)
    for i in Progress(range(len(manifest)), total=len(manifest), desc=f"embed {task}"):
        try:
            path, written = writers[task](clip, manifest.file(i), Path(out), options, f"{mv.name}/{mv.version}")
        except ClipzooError as err:
            result.errors.append(str(err))
            continue
        (result.written if written else result.skipped).append(path)
    result.seconds = time.perf_counter() - started
    return result
