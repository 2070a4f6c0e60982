"""Keeping the read model (the catalogue folded from the ledger, docs/catalogue.md) fresh for
the use cases that read it: cases, access supervision, proofs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Freshness:
    """Folds new ledger entries into the catalogue before reads: at most every ``refresh_s``
    seconds (entries written by other processes show up within it), and at once when forced
    (after this process's own writes, so that the caller reads what it wrote)."""

    def __init__(self, catch_up: Callable[[], object], *, refresh_s: float = 0.5) -> None:
        self._catch_up = catch_up
        self.refresh_s = refresh_s
        self._last = float("-inf")
        self._lock = threading.Lock()
        self.cursor: object = None
        """What the last catch-up returned (the catalogue's cursor): a read cached under it
        stays true until it changes."""

    def refresh(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._last < self.refresh_s:
            return
        with self._lock:
            self.cursor = self._catch_up()
            self._last = time.monotonic()
