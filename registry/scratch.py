"""Scratch folders under ``CLIPZOO_HOME/tmp``, named after the process that owns them.

A ``finally`` block does not run under SIGKILL, so every command first removes the folders of processes that are no
longer alive; a folder of a live process (a running server's verified model copy, say) is left alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .tracking import clipzoo_home


def scratch_root() -> Path:
    root = clipzoo_home() / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale() -> list[Path]:
    """Remove the scratch folders whose owning process has exited; returns what was removed."""
    removed = []
    for folder in scratch_root().iterdir():
        pid = folder.name.split("-", 2)[1] if folder.name.count("-") >= 2 else ""
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def new_scratch(kind: str) -> Path:
    """A fresh folder ``<kind>-<pid>-<random>`` under the scratch root (stale ones are cleaned first)."""
    clean_stale()
    return Path(tempfile.mkdtemp(prefix=f"{kind}-{os.getpid()}-", dir=scratch_root()))


@contextlib.contextmanager
def scratch(kind: str) -> Iterator[Path]:
    """A scratch folder removed on every exit path this process survives (and by the next command otherwise)."""
    folder = new_scratch(kind)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def scratch_of(path: Path) -> Path:
    """The scratch folder (directly under the scratch root) that holds ``path``."""
    root = scratch_root().resolve()
    path = path.resolve()
    return root / path.relative_to(root).parts[0]
