"""Per-request guards a caller (the model server) sets around a prediction: a deadline and a pixel budget.

They live in a context variable, so the predict path and domain readers check them without new parameters:
``check_deadline()`` between batches (tiles, slices, rows) stops a request whose caller has given up, and
``check_pixels()`` refuses an image from its header, before it is decoded. Outside ``guarded()`` nothing is limited.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from .errors import ClipzooError, InputError


class DeadlineExceeded(ClipzooError):
    """The request ran past its deadline; the work stopped between batches."""


@dataclass(frozen=True)
class Guards:
    deadline: float | None = None  # time.monotonic() after which work stops
    max_pixels: int | None = None  # largest width * height an image input may declare


_GUARDS: ContextVar[Guards | None] = ContextVar("clipzoo_guards", default=None)
_NONE = Guards()


@contextlib.contextmanager
def guarded(timeout_s: float | None = None, max_pixels: int | None = None) -> Iterator[Guards]:
    """Run the enclosed prediction with a deadline ``timeout_s`` from now and a pixel budget (None: no limit)."""
    guards = Guards(
        deadline=None if timeout_s is None else time.monotonic() + timeout_s,
        max_pixels=max_pixels,
    )
    token = _GUARDS.set(guards)
    try:
        yield guards
    finally:
        _GUARDS.reset(token)


def check_deadline() -> None:
    """Raise ``DeadlineExceeded`` when the current request's deadline has passed."""
    deadline = (_GUARDS.get() or _NONE).deadline
    if deadline is not None and time.monotonic() > deadline:
        raise DeadlineExceeded("the request ran past its time limit; its work was stopped")


def check_pixels(width: int, height: int, name: str | None = None) -> None:
    """Raise ``InputError`` when an image of ``width`` x ``height`` exceeds the current pixel budget."""
    limit = (_GUARDS.get() or _NONE).max_pixels
    if limit is not None and width * height > limit:
        raise InputError(f"image is {width}x{height} px, over the limit of {limit} pixels", name)
