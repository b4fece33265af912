"""Errors a user can act on: they name the file or value at fault."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


class ClipzooError(Exception):
    """Base class of every error clipzoo reports to a user (CLI exit code 2, HTTP 400)."""


class InputError(ClipzooError):
    """An input file, payload or argument that cannot be used, with the file it concerns."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


class ModelNotFoundError(ClipzooError):
    """A model reference (name, alias, version or run) that the registry does not know."""


class ChecksumError(ClipzooError):
    """A checkpoint whose sha256 differs from the one recorded when it was registered."""


def exit_code_for_input_errors(run: Callable[[], int]) -> int:
    """Run a command-line entry point; a ``ClipzooError`` prints one line naming the problem and gives exit code 2."""
    try:
        return run()
    except ClipzooError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
