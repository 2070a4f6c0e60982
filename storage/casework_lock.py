"""The casework lock: changes to cases (open a case, record a step, link, unlink) run one at a
time per database, across threads and processes, so that each change checks the state that the
previous one left (issue 11 §4; docs/catalogue.md §Concurrency).

Concurrency (STYLE.md §10). A change takes this lock, folds the ledger into the catalogue
(``catch_up``), checks, appends through the group committer, folds again, and only then
releases: the next holder, in any process, reads a catalogue that holds every earlier change.
This lock blocks nothing but other case changes. It cannot be the ledger's writer lock: on
SQLite that is the database's own write lock, which the committer's append transaction needs,
so holding it around the append would deadlock.

- PostgreSQL: ``pg_advisory_xact_lock`` in a transaction that does nothing else, with a
  ``lock_timeout``; COMMIT releases it, and so does the server when the client dies.
- SQLite: ``flock(LOCK_EX)`` on ``<database file>.casework.lock``, beside the database that all
  its users share on one machine; closing the file releases it, and so does the kernel when
  the process dies.

Within a process a threading lock is taken first, so at most one thread per process waits on
the database's lock (the others wait without holding a pooled connection).

Throughput: case changes are human-paced; one at a time per database costs one group commit
(a few ms) each. Waiting longer than ``timeout_s`` raises UnavailableError (retry).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, func, select, text

from evidence.errors import UnavailableError
from storage.dberrors import translate_errors
from storage.engine import advisory_lock_key

_PG_KEY = advisory_lock_key("liuhen/casework")
DEFAULT_TIMEOUT_S = 30.0
_POLL_S = 0.005  # flock has no timeout of its own: try again this often


class CaseworkLock:
    """The lock of one database's case changes (module docstring)."""

    def __init__(self, engine: Engine, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._engine = engine
        self._timeout_s = timeout_s
        self._threads = threading.Lock()
        database = engine.url.database
        self._path = (Path(f"{database}.casework.lock")
                      if engine.dialect.name == "sqlite" and database else None)

    def _busy(self) -> UnavailableError:
        return UnavailableError(f"另一项案件操作仍在进行 another case change still holds the lock "
                                f"after {self._timeout_s:.0f} s", retry_after_s=1.0)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the lock for the block; UnavailableError when it stays taken past the timeout."""
        if not self._threads.acquire(timeout=self._timeout_s):
            raise self._busy()
        try:
            if self._path is None:
                with self._pg_lock():
                    yield
            else:
                with self._file_lock(self._path):
                    yield
        finally:
            self._threads.release()

    @contextmanager
    def _pg_lock(self) -> Iterator[None]:
        with translate_errors("take the casework lock"), self._engine.connect() as conn, \
                conn.begin():
            ms = int(self._timeout_s * 1000)
            conn.execute(text(f"SET LOCAL lock_timeout = {ms}"))
            conn.execute(select(func.pg_advisory_xact_lock(_PG_KEY)))
            yield

    @contextmanager
    def _file_lock(self, path: Path) -> Iterator[None]:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + self._timeout_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise self._busy() from None
                    time.sleep(_POLL_S)
            yield
        finally:
            os.close(fd)  # releases the flock
