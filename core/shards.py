"""WebDataset shards for data that does not fit a folder: written from a manifest, streamed through a domain."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import webdataset as wds
from torch.utils.data import IterableDataset

from .data import CAPTION_COLUMN, Manifest
from .domain import Domain
from .errors import InputError


def write_shards(manifest: Manifest, pattern: str | Path, max_count: int = 1000) -> list[Path]:
    """Pack each row's file bytes (under its own suffix), caption and metadata into tar shards.

    ``pattern`` is a printf pattern such as ``out/train-%06d.tar``. Returns the shard paths.
    """
    pattern = str(pattern)
    Path(pattern).parent.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    meta_cols = [c for c in manifest.frame.columns if c not in ("path", CAPTION_COLUMN)]
    with wds.ShardWriter(pattern, maxcount=max_count, verbose=0) as sink:
        for row in range(len(manifest)):
            path = manifest.file(row)
            if not path.is_file():
                raise InputError(f"manifest {manifest.source} row {row + 1}: file not found", path)
            suffix = "".join(path.suffixes).lstrip(".").lower() or "bin"
            record = {meta: manifest.frame.at[row, meta] for meta in meta_cols}
            sample = {
                "__key__": f"{row:09d}",
                suffix: path.read_bytes(),
                "txt": str(manifest.frame.at[row, CAPTION_COLUMN]),
                "json": {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()},
            }
            sink.write(sample)
            if sink.fname not in written:
                written.append(sink.fname)
    return [Path(p) for p in written]


class ShardDataset(IterableDataset):
    """Streams samples from shards in order, splitting shards across DataLoader workers and torchrun ranks."""

    def __init__(self, urls: str | list[str], domain: Domain, transform: Callable[[Any], torch.Tensor]):
        self.urls = urls
        self.domain = domain
        self.transform = transform

    def __iter__(self) -> Iterator[dict[str, Any]]:
        pipeline = wds.WebDataset(
            self.urls, shardshuffle=False, nodesplitter=wds.split_by_node, workersplitter=wds.split_by_worker
        )
        for sample in pipeline:
            name, data = self._payload(sample)
            try:
                raw = self.domain.read_bytes(data, name)
            except Exception as err:
                raise InputError(f"shard {sample.get('__url__')}: sample {sample['__key__']}: {err}") from err
            yield {
                "input": self.transform(raw),
                "caption": sample["txt"].decode() if "txt" in sample else "",
                "index": int(sample["__key__"]),
            }

    def _payload(self, sample: dict[str, Any]) -> tuple[str, bytes]:
        for key, value in sample.items():
            if key.startswith("__") or key in ("txt", "json"):
                continue
            return f"{sample['__key__']}.{key}", value
        raise InputError(f"shard sample {sample['__key__']} holds no input file")
