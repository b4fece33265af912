"""Progress for long work: a tqdm bar in a terminal, plain log lines otherwise (CI, log files, servers)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
log = logging.getLogger("clipzoo")


class Progress:
    """``for x in Progress(items, total, "train")``; ``set(loss=...)`` shows running values."""

    def __init__(self, iterable: Iterable[T], total: int | None, desc: str, lines: int = 10):
        self.iterable = iterable
        self.total = total
        self.desc = desc
        self.values: dict[str, float] = {}
        self.tty = sys.stderr.isatty()
        self.every = max(1, (total or 0) // lines) if total else 50
        self._bar = tqdm(total=total, desc=desc, dynamic_ncols=True) if self.tty else None

    def set(self, **values: float) -> None:
        self.values.update(values)
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)

    def __iter__(self) -> Iterator[T]:
        start = time.perf_counter()
        done = 0
        try:
            for item in self.iterable:
                yield item
                done += 1
                if self._bar is not None:
                    self._bar.update(1)
                elif done % self.every == 0 or done == self.total:
                    self._log_line(done, time.perf_counter() - start)
        finally:
            if self._bar is not None:
                self._bar.close()

    def _log_line(self, done: int, elapsed: float) -> None:
        of = f"/{self.total}" if self.total else ""
        values = " ".join(f"{k}={v:.4g}" for k, v in self.values.items())
        rate = done / elapsed if elapsed > 0 else 0.0
        print(f"{self.desc}: {done}{of} ({rate:.2f} it/s) {values}".rstrip(), file=sys.stderr, flush=True)
