"""The SQL engine that the ledger and its repositories share (DESIGN.md §5): which databases are
accepted, how every connection is set up, and the writer lock that serializes writers.

Durability (STYLE.md §10). SQLite runs in WAL mode with ``synchronous=FULL``, so every COMMIT
fsyncs the WAL before it returns; PostgreSQL commits with its defaults (``synchronous_commit=on``,
fsync on). A SQLite ledger in memory is refused: it would not survive the process.

Concurrency (STYLE.md §10). ``exclusive_transaction`` holds the database's writer lock from its
first statement to COMMIT or ROLLBACK, per database, not per process:

- PostgreSQL: ``pg_advisory_xact_lock(k)`` as the transaction's first statement, at READ
  COMMITTED, so that what it reads next is what the previous holder committed. COMMIT or
  ROLLBACK releases the lock, and so does the server when a client dies.
- SQLite: ``BEGIN IMMEDIATE`` takes SQLite's single write lock at BEGIN; WAL lets readers go on.
  Other processes wait up to ``busy_timeout_s`` for it, then get an error that
  ``storage.dberrors.translate_errors`` turns into UnavailableError. SQLAlchemy emits BEGIN
  itself (the "begin" listener below), so that a transaction can ask for IMMEDIATE.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from hashlib import sha256
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import ConnectionPoolEntry

from evidence.errors import UnavailableError

DEFAULT_BUSY_TIMEOUT_S = 30.0  # SQLite: how long a writer waits for another process's commit
PRIVATE_FILE_MODE = 0o600

SQLITE_BEGIN_OPTION = "liuhen_sqlite_begin"
"""Execution option read by the ``begin`` listener of :func:`create_ledger_engine`:
``"IMMEDIATE"`` makes SQLite take its single write lock at BEGIN instead of at the first write."""

_SQLITE_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})


def _sqlite_on_connect(busy_timeout_ms: int) -> Callable[[object, ConnectionPoolEntry], None]:
    def on_connect(dbapi_conn: object, _record: ConnectionPoolEntry) -> None:
        if not isinstance(dbapi_conn, sqlite3.Connection):
            raise TypeError(f"expected a sqlite3 connection, not {type(dbapi_conn).__name__}")
        # sqlite3's legacy transaction control would not BEGIN before SELECT or DDL; turn it off
        # and let the "begin" listener emit BEGIN (SQLAlchemy's documented recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")  # first: WAL switch may wait
            mode = cur.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise UnavailableError(f"SQLite refused WAL mode (journal_mode={mode})")
            cur.execute("PRAGMA synchronous = FULL")  # fsync the WAL at every commit
            cur.execute("PRAGMA foreign_keys = ON")
            # INSERT OR REPLACE must fire the DELETE triggers that keep the ledger append-only.
            cur.execute("PRAGMA recursive_triggers = ON")
        finally:
            cur.close()

    return on_connect


def _sqlite_begin(conn: Connection) -> None:
    mode = str(conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED"))
    if mode not in _SQLITE_BEGIN_MODES:
        raise ValueError(f"unknown SQLite BEGIN mode {mode!r}")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _normalise_url(url: str | URL) -> URL:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.drivername not in {"sqlite", "sqlite+pysqlite"}:
            raise ValueError(f"unsupported SQLite driver {parsed.drivername!r}")
        if parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory":
            # Fail closed: a ledger in memory is not durable, and WAL needs a file.
            raise ValueError("a SQLite ledger needs a database file, not an in-memory database")
        return parsed
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            return parsed.set(drivername="postgresql+psycopg")
        if parsed.drivername != "postgresql+psycopg":
            raise ValueError(f"use postgresql+psycopg://, not {parsed.drivername}://")
        return parsed
    raise ValueError(f"unsupported ledger database {backend!r}: use SQLite or PostgreSQL")


def _private_sqlite_file(database: str) -> None:
    """Create the SQLite file owner-only before SQLite does (it would use 0644 under the usual
    umask; its -wal and -shm files take the database file's mode), and narrow an existing one
    of ours that others could read. A path we cannot create is left for SQLite to report."""
    path = Path(database)
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE))
    except OSError:
        return
    for file in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        try:
            st = file.stat()
        except FileNotFoundError:
            continue
        if st.st_uid == os.getuid() and st.st_mode & 0o077:
            file.chmod(PRIVATE_FILE_MODE)


def create_ledger_engine(url: str | URL, *,
                         busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> Engine:
    """An Engine configured for the ledger (no migrations, no origin check: see
    ``storage.ledger_store.SqlLedgerStore.open``).

    SQLite: a file database (created 0600), WAL, ``synchronous=FULL``, ``busy_timeout``, foreign
    keys and recursive triggers on every connection; SQLAlchemy emits BEGIN itself so that writers
    can ask for ``BEGIN IMMEDIATE``. PostgreSQL: psycopg 3, connections pinged on checkout,
    sessions in UTC.
    """
    parsed = _normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and "uri" not in parsed.query:
            _private_sqlite_file(parsed.database)
        engine = create_engine(parsed)
        event.listen(engine, "connect", _sqlite_on_connect(int(busy_timeout_s * 1000)))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # Sessions in UTC, whatever the server's TimeZone (a bureau's is often Asia/Shanghai):
    # psycopg cannot hand back year 9999's last hours in UTC+8 (after year 10000).
    return create_engine(parsed, pool_pre_ping=True,
                         connect_args={"options": "-c timezone=UTC"})


def advisory_lock_key(namespace: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock``, derived from ``namespace``."""
    return int.from_bytes(sha256(namespace.encode()).digest()[:8], "big", signed=True)


@contextmanager
def exclusive_transaction(conn: Connection, *, pg_lock_key: int) -> Iterator[Connection]:
    """Begin a transaction that holds the database's writer lock until it ends.

    PostgreSQL: ``pg_advisory_xact_lock(pg_lock_key)`` as the first statement, at READ COMMITTED
    so that every later statement sees what the previous lock holder committed (under REPEATABLE
    READ the snapshot could predate the lock). SQLite: ``BEGIN IMMEDIATE`` (needs an engine from
    :func:`create_ledger_engine`; on other engines SQLite locks at the first write instead).
    """
    if conn.dialect.name == "sqlite":
        conn.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    elif conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="READ COMMITTED")
    try:
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(pg_lock_key)))
            yield conn
    finally:
        if conn.dialect.name == "sqlite" and not conn.closed:
            conn.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})


__all__ = [
    "DEFAULT_BUSY_TIMEOUT_S",
    "SQLITE_BEGIN_OPTION",
    "advisory_lock_key",
    "create_ledger_engine",
    "exclusive_transaction",
]
