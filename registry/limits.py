"""What a served model accepts: the server-side folders it may read, and the size of what a request may ask for.

``clipzoo serve`` passes these to the server process as ``CLIPZOO_SERVE_*`` environment variables; the pyfunc reads
them when it loads. The CLI's own predictions (``clipzoo predict`` on local files) use ``LOCAL``: no root, no limits.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from clipzoo.core.errors import InputError

ENV_MODEL_DIR = "CLIPZOO_SERVE_MODEL_DIR"  # the verified model copy the server loads
ENV_ROOTS = "CLIPZOO_SERVE_DATA_ROOTS"
ENV_MAX_BODY = "CLIPZOO_SERVE_MAX_BODY_BYTES"
ENV_MAX_ROWS = "CLIPZOO_SERVE_MAX_ROWS"
ENV_MAX_PIXELS = "CLIPZOO_SERVE_MAX_PIXELS"
ENV_MAX_LABELS = "CLIPZOO_SERVE_MAX_LABELS"
ENV_TIMEOUT = "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT"  # MLflow's scoring server answers 504 after it, too

MAX_NAME_CHARS = 255
MAX_PATH_CHARS = 4096
MAX_TEXT_CHARS = 10_000


@dataclass(frozen=True)
class ServeLimits:
    """Limits of one server. ``data_roots`` empty: ``path`` inputs are refused (only base64 ``data`` and ``text``)."""

    data_roots: tuple[str, ...] = ()
    local_files: bool = False  # True: any path this process can read (the CLI on the user's own files)
    max_body_bytes: int = 32 * 1024 * 1024
    max_rows: int = 64
    max_pixels: int | None = 40_000_000
    max_labels: int = 256
    timeout_s: int = 60

    def with_roots(self, roots: Sequence[str | Path]) -> ServeLimits:
        """These limits with ``roots`` as data roots, each resolved (symlinks, ``..``); a root must be a folder."""
        resolved = []
        for root in roots:
            path = Path(root).expanduser()
            if not path.is_dir():
                raise InputError("--data-root must be an existing folder", root)
            resolved.append(os.path.realpath(path))
        return replace(self, data_roots=tuple(resolved))

    def to_env(self) -> dict[str, str]:
        return {
            ENV_ROOTS: os.pathsep.join(self.data_roots),
            ENV_MAX_BODY: str(self.max_body_bytes),
            ENV_MAX_ROWS: str(self.max_rows),
            ENV_MAX_PIXELS: str(self.max_pixels or 0),
            ENV_MAX_LABELS: str(self.max_labels),
            ENV_TIMEOUT: str(self.timeout_s),
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServeLimits:
        """The limits a server was started with (defaults for what is unset)."""
        env = os.environ if env is None else env
        base = cls()

        def number(key: str, default: int) -> int:
            raw = env.get(key, "")
            return int(raw) if raw.strip() else default

        roots = tuple(r for r in env.get(ENV_ROOTS, "").split(os.pathsep) if r)
        return cls(
            data_roots=tuple(os.path.realpath(r) for r in roots),
            max_body_bytes=number(ENV_MAX_BODY, base.max_body_bytes),
            max_rows=number(ENV_MAX_ROWS, base.max_rows),
            max_pixels=number(ENV_MAX_PIXELS, base.max_pixels or 0) or None,
            max_labels=number(ENV_MAX_LABELS, base.max_labels),
            timeout_s=number(ENV_TIMEOUT, base.timeout_s),
        )

    def readable_path(self, raw: str, what: str) -> str:
        """The resolved path of a server-side path (``what`` names it: "input 3: 'path'", "'catalogue'"), or
        ``InputError``. A refusal reads the same whether the file exists or not, and never repeats the path."""
        if len(raw) > MAX_PATH_CHARS:
            raise InputError(f"{what} is longer than {MAX_PATH_CHARS} characters")
        if self.local_files:
            return raw
        if not self.data_roots:
            raise InputError(
                f"{what}: this server reads no server-side files (started without --data-root); "
                "send the file as base64 'data'"
            )
        resolved = os.path.realpath(raw)
        if any(resolved == root or resolved.startswith(root.rstrip(os.sep) + os.sep) for root in self.data_roots):
            return resolved
        raise InputError(f"{what} is not under a data root of this server; refused")


LOCAL = ServeLimits(local_files=True, max_rows=1 << 62, max_pixels=None, max_labels=1 << 62, timeout_s=0)
