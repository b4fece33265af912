"""Per-input warnings as data: what a reader noticed about one input, carried into that input's prediction row.

A domain reader calls ``note("irregular slice spacing ...")``; ``Predictor`` reads each input inside ``collecting()``
and puts the notes in the row's ``warnings`` list (the CLI prints them, ``--json`` and the server return them). Outside
``collecting()`` (training, evaluation) a note goes to the log. Notes are plain sentences, never Python warnings.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar

log = logging.getLogger("clipzoo.input")

_NOTES: ContextVar[list[str] | None] = ContextVar("clipzoo_input_notes", default=None)


def note(message: str) -> None:
    """Record a warning about the input being read (once per input; the log when nothing collects)."""
    notes = _NOTES.get()
    if notes is None:
        log.info("%s", message)
    elif message not in notes:
        notes.append(message)


@contextlib.contextmanager
def collecting() -> Iterator[list[str]]:
    """Collect the notes made while reading one input into the yielded list."""
    notes: list[str] = []
    token = _NOTES.set(notes)
    try:
        yield notes
    finally:
        _NOTES.reset(token)


_BY_INPUT: ContextVar[dict[str, list[str]] | None] = ContextVar("clipzoo_notes_by_input", default=None)


@contextlib.contextmanager
def gathering() -> Iterator[dict[str, list[str]]]:
    """Gather the notes of every input read inside (``reading``), by input name; nested calls share the outer dict."""
    outer = _BY_INPUT.get()
    if outer is not None:
        yield outer
        return
    by_input: dict[str, list[str]] = {}
    token = _BY_INPUT.set(by_input)
    try:
        yield by_input
    finally:
        _BY_INPUT.reset(token)


@contextlib.contextmanager
def reading(name: str) -> Iterator[list[str]]:
    """Read input ``name`` inside: its notes go to the enclosing ``gathering()`` under that name."""
    with collecting() as found:
        try:
            yield found
        finally:
            by_input = _BY_INPUT.get()
            if by_input is not None and found:
                merged = by_input.setdefault(name, [])
                merged.extend(n for n in found if n not in merged)
