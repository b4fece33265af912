"""Captioned data: manifests (CSV, JSONL, Parquet) and WebDataset shards, read through a domain's reader.

A manifest has a ``path`` column (relative to the manifest's folder, or absolute), a ``caption`` column, and any
label or metadata columns. A row that cannot be read fails with its row number and file.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from .errors import ClipzooError, InputError

if TYPE_CHECKING:
    from .domain import Domain

PATH_COLUMN = "path"
CAPTION_COLUMN = "caption"


@dataclass
class Manifest:
    """A table of samples and the folder its relative paths are resolved against."""

    frame: pd.DataFrame
    root: Path
    source: Path

    @classmethod
    def read(cls, path: str | Path, require_caption: bool = True) -> Manifest:
        path = Path(path)
        if not path.is_file():
            raise InputError("manifest not found", path)
        readers = {
            ".csv": pd.read_csv,
            ".jsonl": lambda p: pd.read_json(p, lines=True),
            ".parquet": pd.read_parquet,
        }
        if path.suffix not in readers:
            raise InputError(f"unsupported manifest type {path.suffix!r}; use .csv, .jsonl or .parquet", path)
        try:
            frame = readers[path.suffix](path)
        except Exception as err:
            raise InputError(f"cannot parse manifest: {err}", path) from err
        required = [PATH_COLUMN] + ([CAPTION_COLUMN] if require_caption else [])
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise InputError(f"manifest lacks column(s) {missing}; it has {list(frame.columns)}", path)
        if frame.empty:
            raise InputError("manifest has no rows", path)
        return cls(frame=frame.reset_index(drop=True), root=path.parent, source=path)

    def __len__(self) -> int:
        return len(self.frame)

    def file(self, row: int) -> Path:
        p = Path(str(self.frame.at[row, PATH_COLUMN]))
        return p if p.is_absolute() else self.root / p

    def captions(self) -> list[str]:
        return [str(c) for c in self.frame[CAPTION_COLUMN]]

    def column(self, name: str) -> list[Any]:
        if name not in self.frame.columns:
            raise InputError(f"manifest has no column {name!r}", self.source)
        return self.frame[name].tolist()


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and ``random`` globally (model initialisation, dropout)."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch, numpy and ``random`` for a block, then restore the caller's generators untouched."""
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed % 2**32)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


class SeededSamples(Dataset):
    """Samples indexed by ``(index, seed)`` pairs from ``ResumableSampler`` (augmentation seeded per sample) or by a
    plain index. Subclasses provide ``load(index)`` and ``captions``."""

    captions: list[str] | None

    def load(self, index: int) -> torch.Tensor:
        raise NotImplementedError

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, Any]:
        index, seed = item if isinstance(item, tuple) else (item, None)
        if seed is None:
            tensor = self.load(index)
        else:
            with seeded(seed):
                tensor = self.load(index)
        caption = self.captions[index] if self.captions is not None else ""
        return {"input": tensor, "caption": caption, "index": index}


class ManifestDataset(SeededSamples):
    """Samples of a manifest read by a domain and transformed to model inputs."""

    def __init__(self, manifest: Manifest, domain: Domain, transform: Callable[[Any], torch.Tensor]):
        self.manifest = manifest
        self.domain = domain
        self.transform = transform
        self.captions = manifest.captions() if CAPTION_COLUMN in manifest.frame.columns else None

    def __len__(self) -> int:
        return len(self.manifest)

    def load(self, row: int) -> torch.Tensor:
        path = self.manifest.file(row)
        try:
            return self.transform(self.domain.read(path))
        except ClipzooError as err:
            raise InputError(f"manifest {self.manifest.source} row {row + 1}: {err}") from err
        except Exception as err:
            raise InputError(f"manifest {self.manifest.source} row {row + 1}: cannot read: {err}", path) from err


def collate_with(domain: Domain) -> Callable[[Sequence[dict[str, Any]]], dict[str, Any]]:
    """A collate function that batches inputs with the domain's collate and keeps captions as strings."""

    def collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return {
            "input": domain.collate([it["input"] for it in items]),
            "caption": [it["caption"] for it in items],
            "index": torch.tensor([it["index"] for it in items]),
        }

    return collate
