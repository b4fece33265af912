"""A persistent cache of read scans: the oriented volume and its affine, keyed by the files' identity.

Reading a DICOM series (one file per slice, header scan, sort, decode) costs far more than loading one array back, so
the second epoch reads from here. The key covers the path, size and modification time of the file (or of every file
of a DICOM folder), so an edited scan is read again. Entries are written atomically and loaded with
``torch.load(weights_only=True)``. Location: ``$CLIPZOO_MEDICAL_CACHE``, else ``$CLIPZOO_HOME/cache/medical``
(``~/.clipzoo``); ``CLIPZOO_MEDICAL_CACHE=off`` turns it off.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import torch
from monai.data import MetaTensor

CACHE_VERSION = 4  # 2: localizers and other stacks left out of series; nested study folders; 3: warnings kept;
# 4: the display window (VOI, MONOCHROME1, picture depth) kept
_META_KEYS = (
    "modality",
    "frame",
    "series_uid",
    "sorted_by",
    "irregular_spacing",
    "source",
    "warnings",
    "series_description",
    "body_part",
    "voi",
    "voi_lut_ignored",
    "inverted_sum",
    "picture_depth",
)


def default_cache_dir() -> Path | None:
    env = os.environ.get("CLIPZOO_MEDICAL_CACHE")
    if env and env.lower() in ("off", "0", "false", "none"):
        return None
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("CLIPZOO_HOME", Path.home() / ".clipzoo")).expanduser() / "cache" / "medical"


def file_identity(path: Path) -> str:
    """sha256 of the path and the size and mtime of the file, or of each file of a folder."""
    path = path.resolve()
    h = hashlib.sha256(f"v{CACHE_VERSION}:{path}".encode())
    entries = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in entries:
        st = p.stat()
        h.update(f"|{p.relative_to(path) if path.is_dir() else p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


class ScanCache:
    """``cache.get(path, read)``: the cached scan of ``path``, or ``read(path)`` stored for next time."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.hits = 0
        self.misses = 0

    def _entry(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.pt"

    def get(self, path: str | Path, read: Callable[[Path], MetaTensor]) -> MetaTensor:
        path = Path(path)
        if not path.exists():
            return read(path)  # the reader names the missing file
        entry = self._entry(file_identity(path))
        if entry.is_file():
            try:
                data = torch.load(entry, map_location="cpu", weights_only=True)
                self.hits += 1
                img = MetaTensor(data["array"].float(), affine=data["affine"])
                img.meta.update(data["meta"])
                return img
            except Exception:  # a damaged entry is rebuilt
                entry.unlink(missing_ok=True)
        self.misses += 1
        img = read(path)
        self._store(entry, img)
        return img

    def _store(self, entry: Path, img: MetaTensor) -> None:
        array = img.as_tensor()
        if torch.equal(array, array.round()) and array.abs().max() < 32767:
            array = array.to(torch.int16)  # HU volumes are integral: half the bytes
        meta = {k: img.meta[k] for k in _META_KEYS if k in img.meta}
        meta = {k: _stored(k, v) for k, v in meta.items()}
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_suffix(f".tmp{os.getpid()}")
        torch.save({"array": array.contiguous(), "affine": img.affine.clone(), "meta": meta}, tmp)
        os.replace(tmp, entry)


def _stored(key: str, value: object) -> bool | str | list[str]:
    """A metadata value as ``torch.load(weights_only=True)`` reads it back: a flag, a text, or a list of texts."""
    if key in ("irregular_spacing", "voi_lut_ignored"):
        return bool(value)
    if key in ("warnings", "voi"):
        return [str(v) for v in value]  # type: ignore[attr-defined]
    return str(value)
