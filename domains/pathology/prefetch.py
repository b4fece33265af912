"""Overlap reading with computing: the next item of an iterator is produced in a background thread while the caller
works on the current one (slide tiles are decoded and resized there while the model encodes the previous batch;
zlib/JPEG decoding, OpenSlide and OpenCV release the GIL). At most two items are alive at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetched(items: Iterable[T]) -> Iterator[T]:
    """Yield the items of ``items`` in order, each produced by one background thread while the previous one is used;
    an exception raised producing an item is raised here, when that item is due."""
    iterator = iter(items)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="clipzoo-prefetch") as pool:
        future = pool.submit(next, iterator, _DONE)
        while (item := future.result()) is not _DONE:
            future = pool.submit(next, iterator, _DONE)
            yield item  # type: ignore[misc]
