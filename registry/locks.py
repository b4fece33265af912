"""Inter-process locks. Beside a local clipzoo store: kernel file locks (``fcntl`` via ``filelock``), released by the
kernel when their holder dies, SIGKILL included, so a killed command never leaves a stale lock behind. On a tracking
server: a registered model of a reserved name, which the registry's database lets only one client create."""

from __future__ import annotations

import contextlib
import logging
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path

from clipzoo.core.errors import ClipzooError
from filelock import FileLock
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from .store_index import REGISTRY_LOCK_PREFIX

log = logging.getLogger(__name__)

_EXPIRES_TAG = "clipzoo.lock_expires"


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


def _safe(name: str) -> str:
    """A lock name usable as a file name and a registered model name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


@contextlib.contextmanager
def file_lock(folder: Path, name: str, timeout_s: float = 600) -> Iterator[None]:
    """Hold the lock ``folder/.<name>.lock`` (waiting at most ``timeout_s``)."""
    path = folder / f".{_safe(name)}.lock"
    with FileLock(str(path), timeout=timeout_s, thread_local=False):
        yield


def _break_if_stale(client: MlflowClient, lock: str) -> None:
    """Remove a lock whose lease ran out: its holder was killed before releasing it."""
    try:
        expires = float(client.get_registered_model(lock).tags.get(_EXPIRES_TAG, "inf"))
    except MlflowException:
        return  # released meanwhile
    if expires < time.time():
        log.warning("taking over the lock %s: its holder's lease ran out", lock)
        with contextlib.suppress(MlflowException):
            client.delete_registered_model(lock)


@contextlib.contextmanager
def registry_lock(client: MlflowClient, name: str, timeout_s: float = 600, lease_s: float = 120) -> Iterator[None]:
    """Hold the lock ``name`` shared by every client of one tracking server. The registry refuses a second registered
    model of one name (a unique key in its database, checked inside a transaction), so creating
    ``clipzoo.lock.<name>`` takes the lock and deleting it releases it. A holder killed in between leaves it behind
    for ``lease_s`` seconds; then the next command takes it over. Hold it only for short work (an alias decision)."""
    lock = REGISTRY_LOCK_PREFIX + _safe(name)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.create_registered_model(
                lock, tags={_EXPIRES_TAG: repr(time.time() + lease_s)}, description="a held clipzoo lock"
            )
            break
        except MlflowException as err:
            if err.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            if time.monotonic() > deadline:
                raise ClipzooError(f"waited {timeout_s:.0f} s for the registry lock {lock!r}") from err
            _break_if_stale(client, lock)
            time.sleep(0.1 + 0.3 * random.random())
    try:
        yield
    finally:
        with contextlib.suppress(MlflowException):
            client.delete_registered_model(lock)
