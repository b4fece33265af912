"""A real team registry for tests: ``scripts/team_registry.sh`` starting PostgreSQL (initdb in a temporary folder)
and ``mlflow server --serve-artifacts`` on free ports of 127.0.0.1, and a way to run a client that cannot see the
server's artifact folder."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.serving import free_port

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "team_registry.sh"


def postgres_bin() -> str | None:
    """The installed PostgreSQL server binaries (Debian's versioned folder), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return str(Path(found[-1]).parent)
    initdb = shutil.which("initdb")
    return str(Path(initdb).parent) if initdb else None


@dataclass(frozen=True)
class TeamRegistry:
    url: str  # what clients put in MLFLOW_TRACKING_URI
    folder: Path  # the server side: database cluster, artifact store, logs
    artifacts: Path


@contextlib.contextmanager
def team_registry() -> Iterator[TeamRegistry]:
    """Start a team registry with the script users run, yield it, stop it and remove its folder."""
    pg_bin = postgres_bin()
    if pg_bin is None:
        pytest.skip("PostgreSQL is not installed (.ci/run installs the Debian package)")
    # Under /tmp with a+rx: when the tests run as root, PostgreSQL runs as the `postgres` account and must reach it.
    folder = Path(tempfile.mkdtemp(prefix="clipzoo-team-"))
    folder.chmod(0o755)
    mlflow_port = free_port()
    env = {
        **os.environ,
        "PG_BIN": pg_bin,
        "PGPORT": str(free_port()),
        "MLFLOW_PORT": str(mlflow_port),
        "PYTHON": sys.executable,
        "PYTHONPATH": str(REPO),
    }
    env.pop("MLFLOW_TRACKING_URI", None)

    def script(action: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(SCRIPT), action, str(folder)], env=env, capture_output=True, text=True,
                              timeout=300)  # fmt: skip

    started = script("start")
    try:
        if started.returncode != 0:
            logs = "".join(p.read_text()[-3000:] for p in folder.rglob("*.log"))
            pytest.fail(f"team_registry.sh start failed:\n{started.stdout}{started.stderr}\n{logs}")
        assert f"export MLFLOW_TRACKING_URI=http://127.0.0.1:{mlflow_port}" in started.stdout
        yield TeamRegistry(f"http://127.0.0.1:{mlflow_port}", folder, folder / "artifacts")
    finally:
        stopped = script("stop")
        shutil.rmtree(folder, ignore_errors=True)
        assert stopped.returncode == 0, stopped.stderr


def can_hide_folders() -> bool:
    """Whether this process may give a child its own mount namespace (root, or user namespaces allowed)."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True)
    return probe.returncode == 0


def without(folder: Path) -> list[str]:
    """A command prefix that runs its command with ``folder`` covered by an empty tmpfs in a private mount
    namespace: the command, and everything it starts, sees an empty folder where the server keeps its artifacts."""
    return [
        "unshare", "-m", "--propagation", "private", "sh", "-c",
        'mount -t tmpfs tmpfs "$0" && [ -z "$(ls -A "$0")" ] && exec "$@"', str(folder),
    ]  # fmt: skip
