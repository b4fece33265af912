"""WebDataset shards for data that does not fit a folder: written from a manifest, trained on by random access, or
streamed through a domain.

Training reads shards by random access (``IndexedShards``): one scan of the tar headers records where each sample's
bytes lie, so shards train with the same resumable sampler, per-sample seeded augmentation and exact resume after a kill
as a manifest does, without unpacking anything. ``ShardDataset`` streams them in order (inference over huge sets).
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import webdataset as wds
from torch.utils.data import IterableDataset

from .data import CAPTION_COLUMN, Manifest, SeededSamples
from .domain import Domain
from .errors import ClipzooError, InputError

TEXT_KEYS = ("txt", "json")


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


def shard_paths(location: str | Path) -> list[Path]:
    """The ``.tar`` shards in a folder (sorted), or a single shard file."""
    location = Path(location)
    if location.is_dir():
        paths = sorted(location.glob("*.tar"))
        if not paths:
            raise InputError("folder holds no .tar shards", location)
        return paths
    if location.suffix == ".tar" and location.is_file():
        return [location]
    raise InputError("not a shard (.tar) or a folder of shards", location)


def is_shard_location(location: str | Path) -> bool:
    location = Path(location)
    return location.suffix == ".tar" or (location.is_dir() and any(location.glob("*.tar")))


@dataclass(frozen=True)
class ShardSample:
    """Where one sample's input file lies inside a shard, and its caption."""

    shard: Path
    name: str  # key + extension, so the domain knows the file type
    offset: int
    size: int
    caption: str


def _key_and_extension(member: str) -> tuple[str, str]:
    """WebDataset's split: the key is the name up to the first dot of the base name, the rest is the extension."""
    folder, _, base = member.rpartition("/")
    stem, _, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), ext


def index_shard(shard: Path) -> list[ShardSample]:
    """Scan a tar's headers (and its small caption members) into samples, in the order they were written."""
    samples: dict[str, dict[str, Any]] = {}
    try:
        with tarfile.open(shard, mode="r:") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                key, ext = _key_and_extension(member.name)
                entry = samples.setdefault(key, {})
                if ext == "txt":
                    entry["caption"] = tar.extractfile(member).read().decode()
                elif ext not in TEXT_KEYS and "input" not in entry:
                    entry["input"] = (f"{Path(key).name}.{ext}", member.offset_data, member.size)
    except tarfile.TarError as err:
        raise InputError(f"not a readable tar shard: {err}", shard) from err
    out = []
    for key, entry in samples.items():
        if "input" not in entry:
            raise InputError(f"sample {key!r} holds no input file", shard)
        name, offset, size = entry["input"]
        out.append(ShardSample(shard, name, offset, size, entry.get("caption", "")))
    return out


class IndexedShards(SeededSamples):
    """Map-style access to WebDataset shards, indexed like ``ManifestDataset`` by ``(index, seed)`` pairs."""

    def __init__(self, location: str | Path, domain: Domain, transform: Callable[[Any], torch.Tensor]):
        self.source = Path(location)
        self.shards = shard_paths(location)
        self.samples = [sample for shard in self.shards for sample in index_shard(shard)]
        if not self.samples:
            raise InputError("shards hold no samples", location)
        self.domain = domain
        self.transform = transform
        self.captions = [s.caption for s in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def digest(self) -> str:
        """A fingerprint of the shards' contents layout (names, sizes, positions) without reading the payloads."""
        h = hashlib.sha256()
        for s in self.samples:
            h.update(f"{s.shard.name}:{s.name}:{s.offset}:{s.size}:{s.caption}\n".encode())
        return h.hexdigest()

    def read_bytes(self, index: int) -> bytes:
        sample = self.samples[index]
        with open(sample.shard, "rb") as fh:
            fh.seek(sample.offset)
            return fh.read(sample.size)

    def load(self, index: int) -> torch.Tensor:
        sample = self.samples[index]
        try:
            return self.transform(self.domain.read_bytes(self.read_bytes(index), sample.name))
        except ClipzooError as err:
            raise InputError(f"shard {sample.shard} sample {sample.name}: {err}") from err
        except Exception as err:
            raise InputError(f"sample {sample.name}: cannot read: {err}", sample.shard) from err
