"""Group commit (DESIGN.md §5 "group-committed"): many threads' appends gathered into few
``append_batch`` calls, each one signed commit.

Concurrency (STYLE.md §10): any number of threads call ``GroupCommitter.append``; one writer thread
per committer calls the store, so batches of one committer commit in order. Several committers
(one per station process) may share a database: the store's writer lock serializes their commits.

Durability: ``append`` returns a receipt only after the store's ``append_batch`` for its batch has
returned, i.e. after COMMIT (see ``storage.ledger_store``). A batch that fails fails for every
caller in it; nothing of it is acknowledged.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, Self

from evidence.errors import ConflictError, UnavailableError
from evidence.records import Receipt
from integrity.notes import Signer
from storage.ledger_store import EntryItem


class BatchAppender(Protocol):
    """What a GroupCommitter needs from a store."""

    def append_batch(self, items: Sequence[EntryItem], *,
                     signers: Sequence[Signer]) -> list[Receipt]: ...


@dataclass(eq=False)
class _Batch:
    opened_at: float
    items: list[EntryItem] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


def _per_caller(error: BaseException) -> BaseException:
    """A copy of a batch's error for one caller, so that threads re-raising it do not share (and
    keep growing) one traceback; the original stays attached as ``__cause__``."""
    try:
        mine = copy.copy(error)
    except Exception:  # an exception type that cannot be copied: share the original
        return error
    mine.__cause__ = error
    return mine


class GroupCommitter:
    """Thread-safe appends grouped into few signed commits (DESIGN.md §5 "group-committed").

    Callers of :meth:`append` join the open batch and block. One writer thread takes the oldest
    batch when it is full (``max_batch``) or its first entry has waited ``max_wait_s``, and
    commits it with one ``append_batch``; entries arriving meanwhile fill the next batch. Every
    caller of a batch gets its own receipt once the batch is durable, or that batch's error.
    ``close()`` commits what is queued, then stops the thread.
    """

    def __init__(self, store: BatchAppender, *, signers: Sequence[Signer], max_batch: int = 5000,
                 max_wait_s: float = 0.002) -> None:
        if max_batch < 1 or max_wait_s < 0:
            raise ValueError("max_batch must be positive and max_wait_s not negative")
        self._store = store
        self._signers = tuple(signers)
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s
        self._cond = threading.Condition()
        self._queue: deque[_Batch] = deque()
        self._closed = False
        # Daemon: a process that exits without close() must not hang on this thread; no receipt
        # is given before its commit, so nothing acknowledged is lost.
        self._thread = threading.Thread(target=self._run, name="liuhen-group-commit",
                                         daemon=True)
        self._thread.start()

    def append(self, data: bytes, kind: str, subject: str) -> Receipt:
        """Append one entry; block until its commit is durable and return its receipt.
        Raises the error of the batch it joined (UnavailableError after close)."""
        with self._cond:
            if self._closed:
                raise UnavailableError("the ledger's group committer is closed")
            batch = self._queue[-1] if self._queue else None
            if batch is None or len(batch.items) >= self._max_batch:
                batch = _Batch(opened_at=time.monotonic())
                self._queue.append(batch)
            slot = len(batch.items)
            batch.items.append((data, kind, subject))
            if slot == 0 or slot + 1 == self._max_batch:
                self._cond.notify()  # a batch opened, or filled: the writer may have to act
        batch.done.wait()
        if batch.error is not None:
            raise _per_caller(batch.error)
        return batch.receipts[slot]

    def _next_batch(self) -> _Batch | None:
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            batch = self._queue[0]
            while len(batch.items) < self._max_batch and not self._closed:
                remaining = batch.opened_at + self._max_wait_s - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self._queue.popleft()  # appenders only ever join the newest batch

    def _run(self) -> None:
        try:
            while (batch := self._next_batch()) is not None:
                try:
                    receipts = self._store.append_batch(batch.items, signers=self._signers)
                    if len(receipts) != len(batch.items):
                        raise ConflictError(f"{len(receipts)} receipts for "
                                            f"{len(batch.items)} entries")
                    batch.receipts = receipts
                except BaseException as error:  # every caller of the batch gets it
                    batch.error = error
                    if not isinstance(error, Exception):
                        raise  # KeyboardInterrupt and the like: stop, failing the rest below
                finally:
                    batch.done.set()
        finally:
            # Whatever stopped the thread, no caller may wait forever.
            with self._cond:
                self._closed = True
                stranded = list(self._queue)
                self._queue.clear()
            for batch in stranded:
                batch.error = UnavailableError("the ledger's group committer stopped")
                batch.done.set()

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread. Later appends are refused."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc_value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


__all__ = ["BatchAppender", "GroupCommitter"]
