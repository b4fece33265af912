"""Inter-process locks beside the local clipzoo store: kernel file locks (``fcntl`` via ``filelock``), released by the
kernel when their holder dies, SIGKILL included, so a killed command never leaves a stale lock behind."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock


def lock_folder(uri: str, home: Path) -> Path | None:
    """Where the locks of a local store live: beside a SQLite database, else under ``home/locks``; ``None`` for a
    remote store (a tracking server), which file locks cannot serialise."""
    if uri.startswith("sqlite:///"):
        folder = Path(uri[len("sqlite:///") :]).parent
    elif uri.startswith("file:") or "://" not in uri:
        folder = home / "locks"
    else:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def file_lock(folder: Path, name: str, timeout_s: float = 600) -> Iterator[None]:
    """Hold the lock ``folder/.<name>.lock`` (waiting at most ``timeout_s``)."""
    path = folder / f".{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock"
    with FileLock(str(path), timeout=timeout_s, thread_local=False):
        yield
