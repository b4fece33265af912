"""Parts of an embed job: the inputs cut into parts (one per shard, or N manifest rows), and one part embedded by
the registered model's pyfunc into one Parquet file, written atomically, with the fingerprint a rerun checks."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from clipzoo.core.data import Manifest
from clipzoo.core.errors import InputError
from clipzoo.core.shards import index_shard, is_shard_location, shard_paths

ROWS_PER_FILE = 1000
FINGERPRINT_KEY = b"clipzoo.embed"
_COLUMNS = ("part", "key", "path", "shard", "offset", "size", "name")


@dataclass(frozen=True)
class ModelIdentity:
    name: str
    version: str
    weights_sha256: str

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"


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
