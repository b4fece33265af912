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

import base64
import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from clipzoo.core.data import Manifest
from clipzoo.core.errors import InputError
from clipzoo.core.progress import Progress
from clipzoo.core.shards import index_shard, is_shard_location, shard_paths
from clipzoo.registry.catalog import SHA_TAG
from clipzoo.registry.loading import load_pyfunc_version

ROWS_PER_FILE = 1000
FINGERPRINT_KEY = b"clipzoo.embed"
ENGINES = ("local", "spark")
_COLUMNS = ("part", "key", "path", "shard", "offset", "size", "name")


@dataclass(frozen=True)
class ModelIdentity:
    name: str
    version: str
    weights_sha256: str

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"


@dataclass
class EmbedResult:
    written: list[str]
    skipped: list[str]
    rows: int
    errors: int
    seconds: float
    model: ModelIdentity


def plan_parts(data: str | Path, rows_per_file: int = ROWS_PER_FILE, key_column: str | None = None) -> pd.DataFrame:
    """One row per input: its part (output file stem), key, and where its bytes are (a file, or a shard member)."""
    if rows_per_file < 1:
        raise InputError(f"rows per file must be >= 1, got {rows_per_file}")
    if is_shard_location(data):
        rows = [
            (shard.stem, f"{shard.stem}/{Path(s.name).stem}", f"{shard}#{s.name}", str(shard), s.offset, s.size, s.name)
            for shard in shard_paths(data)
            for s in index_shard(shard)
        ]
        return pd.DataFrame(rows, columns=list(_COLUMNS))
    manifest = Manifest.read(data, require_caption=False)
    keys = manifest.column(key_column) if key_column else list(range(len(manifest)))
    if len({str(k) for k in keys}) != len(keys):
        raise InputError(f"keys are not unique{f' in column {key_column!r}' if key_column else ''}", manifest.source)
    rows = [
        (f"part-{i // rows_per_file:05d}", str(key), str(manifest.file(i).resolve()), None, None, None, None)
        for i, key in enumerate(keys)
    ]
    return pd.DataFrame(rows, columns=list(_COLUMNS))


def part_fingerprint(model: ModelIdentity, rows: pd.DataFrame) -> str:
    """What a part's file must have been written from: the model's weights and the part's rows."""
    digest = hashlib.sha256(model.weights_sha256.encode())
    for key, path in zip(rows["key"], rows["path"], strict=True):
        digest.update(f"{key}\0{path}\n".encode())
    return digest.hexdigest()


def _existing_fingerprint(path: Path) -> str | None:
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
    except Exception:  # a foreign or unreadable file: not ours
        return "unreadable"
    raw = metadata.get(FINGERPRINT_KEY)
    return json.loads(raw)["fingerprint"] if raw else None


def pending_parts(out: Path, model: ModelIdentity, plan: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(parts to write, parts already complete); a file of another model or rows is refused, naming it."""
    todo, done = [], []
    for part, rows in plan.groupby("part", sort=True):
        path = out / f"{part}.parquet"
        if not path.exists():
            todo.append(str(part))
            continue
        if _existing_fingerprint(path) != part_fingerprint(model, rows):
            raise InputError("holds embeddings of another model or other rows: choose another --out", path)
        done.append(str(part))
    return todo, done


def _payload(rows: pd.DataFrame) -> pd.DataFrame:
    """The pyfunc's input: a file's path, or a shard member's bytes (base64) with its name."""
    if rows["shard"].isna().all():
        return pd.DataFrame({"path": rows["path"].tolist()})
    data, names = [], []
    for shard, offset, size, name in zip(rows["shard"], rows["offset"], rows["size"], rows["name"], strict=True):
        with open(shard, "rb") as fh:
            fh.seek(int(offset))
            data.append(base64.b64encode(fh.read(int(size))).decode())
        names.append(name)
    return pd.DataFrame({"data": data, "name": names})


def _floats(value: Any) -> list[float] | None:
    """An embedding cell as floats; None for a row in error (None or NaN)."""
    return [float(v) for v in value] if isinstance(value, (list, tuple)) or hasattr(value, "shape") else None


def write_part(pyfunc: Any, model: ModelIdentity, part: str, rows: pd.DataFrame, out: Path) -> tuple[int, int]:
    """Embed one part's rows and write ``out/<part>.parquet`` atomically; returns (rows, rows in error)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = rows.reset_index(drop=True)
    try:
        answer = pyfunc.predict(_payload(rows), params={"task": "embed"})
        embeddings, errors = answer["embedding"].tolist(), answer["error"].tolist()
    except Exception as err:  # every input of the part unreadable: each row records why
        embeddings, errors = [None] * len(rows), [str(getattr(err, "message", err))] * len(rows)
    table = pa.table(
        {
            "key": pa.array(rows["key"].astype(str)),
            "path": pa.array(rows["path"].astype(str)),
            "embedding": pa.array([_floats(e) for e in embeddings], type=pa.list_(pa.float32())),
            "error": pa.array([None if e is None or e != e else str(e) for e in errors], type=pa.string()),
            "model_name": pa.array([model.name] * len(rows)),
            "model_version": pa.array([model.version] * len(rows)),
            "weights_sha256": pa.array([model.weights_sha256] * len(rows)),
        }
    )
    meta = {"fingerprint": part_fingerprint(model, rows), "model": model.ref, "rows": len(rows)}
    table = table.replace_schema_metadata({FINGERPRINT_KEY: json.dumps(meta).encode()})
    target = out / f"{part}.parquet"
    tmp = out / f".{part}.parquet.{os.getpid()}.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, target)
    return len(rows), len(rows) - table.column("error").null_count


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
