"""Ledger rows in bulk, on the driver connection under SQLAlchemy's (docs/adr/0005): the entry rows
of an append, and the streaming reads of the audit and the proof cache.

Writes: ``insert_entries`` runs inside the append's transaction, after its writer lock (see
``storage.ledger_store``): one ``executemany`` of plain tuples on SQLite, psycopg 3's binary
``COPY`` on PostgreSQL. COPY checks the same constraints (primary key: a fork is a ConflictError)
and fires the same statement triggers as INSERT.

Reads stream plain tuples in keyset pages (``idx >= ? ORDER BY idx LIMIT ?``, not a closed range,
so that PostgreSQL picks the ordered primary-key scan even on a table it has never analysed), each
page in its own short read transaction, held open while the caller consumes that page. Rows never
change (the ledger is append-only), so pages agree. A missing row raises VerificationError at its
index, after the rows before it: never skipped. Drop or close an iterator to end it early.
"""

from __future__ import annotations

import itertools
import operator
import sqlite3
from collections.abc import Generator, Iterator
from contextlib import closing, contextmanager
from typing import Any, cast

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from evidence.errors import VerificationError
from storage.dberrors import driver_errors, translate_errors

EntryRow = tuple[int, bytes, bytes, str, str]
"""(idx, data, leaf_hash, kind, subject): one ``ledger_entries`` row, in column order."""

_PG_STREAM_ROWS = 1_000  # rows per chunk the server sends while we consume (libpq >= 17)
_CHECK_BATCH_ROWS = 1_000  # streamed rows checked for density and handed on at a time
_LEAF_PAGE_ROWS = 200_000  # leaf hashes are 32 bytes: bigger pages for the same memory
_first = operator.itemgetter(0)
_second = operator.itemgetter(1)

_SQLITE_INSERT_ENTRIES = ("INSERT INTO ledger_entries (idx, data, leaf_hash, kind, subject) "
                          "VALUES (?, ?, ?, ?, ?)")
_PG_COPY_ENTRIES = ("COPY ledger_entries (idx, data, leaf_hash, kind, subject) "
                    "FROM STDIN (FORMAT BINARY)")
_PG_ENTRY_TYPES = ("int8", "bytea", "bytea", "text", "text")

_ENTRY_PAGE = "SELECT idx, data, leaf_hash FROM ledger_entries WHERE idx >= ? ORDER BY idx LIMIT ?"
_LEAF_PAGE = "SELECT idx, leaf_hash FROM ledger_entries WHERE idx >= ? ORDER BY idx LIMIT ?"
_COMMIT_PAGE = ("SELECT first, size, note FROM ledger_commits WHERE size > ? ORDER BY size "
                "LIMIT ?")


# --- writes -----------------------------------------------------------------------------------


def insert_entries(conn: Connection, rows: list[EntryRow]) -> None:
    """Insert entry rows inside ``conn``'s transaction, on the driver connection under it:
    SQLAlchemy's per-row parameter processing was about half of the append time."""
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with driver_errors(conn, _PG_COPY_ENTRIES):
            _pg_copy_entries(raw, rows)
        return
    if not isinstance(raw, sqlite3.Connection):
        raise TypeError(f"expected a sqlite3 connection, not {type(raw).__name__}")
    with driver_errors(conn, _SQLITE_INSERT_ENTRIES), closing(raw.cursor()) as cur:
        cur.executemany(_SQLITE_INSERT_ENTRIES, rows)


def _pg_copy_entries(raw: object, rows: list[EntryRow]) -> None:
    import psycopg  # noqa: PLC0415 - only PostgreSQL ledgers pay for importing the driver

    if not isinstance(raw, psycopg.Connection):
        raise TypeError(f"COPY needs a psycopg 3 connection, not {type(raw).__name__}")
    with raw.cursor() as cur, cur.copy(_PG_COPY_ENTRIES) as copy:
        copy.set_types(_PG_ENTRY_TYPES)
        write_row = copy.write_row
        for row in rows:
            write_row(row)


# --- reads ------------------------------------------------------------------------------------


@contextmanager
def _pg_rows(raw: object, sql: str, params: tuple[int, int]) -> Iterator[Iterator[tuple[Any, ...]]]:
    import psycopg  # noqa: PLC0415 - only PostgreSQL ledgers pay for importing the driver

    if not isinstance(raw, psycopg.Connection):
        raise TypeError(f"expected a psycopg 3 connection, not {type(raw).__name__}")
    # Binary results: bytea arrives as bytes, not as hex text to decode. Chunked rows (libpq 17
    # and later): the server produces the rest of the page while we consume the first rows.
    chunk = _PG_STREAM_ROWS if psycopg.pq.version() >= 170000 else 1
    with raw.cursor(binary=True) as cur:
        rows = cast(Generator[tuple[Any, ...], None, None], cur.stream(sql, params, size=chunk))
        with closing(rows):  # closing early cancels the query before the cursor closes
            yield rows


@contextmanager
def _driver_rows(engine: Engine, action: str, sql: str,
                 params: tuple[int, int]) -> Iterator[Iterator[tuple[Any, ...]]]:
    """The rows of one query (``?`` placeholders) as plain tuples from the driver, streamed
    in a short read transaction: no SQLAlchemy row processing, no object per row (the
    audit reads a million rows)."""
    with translate_errors(action), engine.connect() as conn, conn.begin(), \
            driver_errors(conn, sql):
        raw = conn.connection.driver_connection
        if conn.dialect.name == "postgresql":
            with _pg_rows(raw, sql.replace("?", "%s"), params) as rows:
                yield rows
            return
        if not isinstance(raw, sqlite3.Connection):
            raise TypeError(f"expected a sqlite3 connection, not {type(raw).__name__}")
        with closing(raw.cursor()) as cur:
            yield cur.execute(sql, params)


def _row_batches(engine: Engine, sql: str, start: int, stop: int, *, page: int,
                 action: str) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of ``sql``, a keyset page, for every index in ``[start, stop)``, ``page`` rows
    per read transaction, in batches. A missing row raises VerificationError at its index,
    after the rows before it."""
    # Rows are checked and handed on a batch at a time, so that nothing in Python runs per
    # row here: at a million rows that was a third of the time of a full audit.
    expected = start
    while expected < stop:
        upper = min(expected + page, stop)
        with _driver_rows(engine, action, sql, (expected, upper - expected)) as rows:
            while batch := list(itertools.islice(rows, _CHECK_BATCH_ROWS)):
                dense = range(expected, expected + len(batch))
                indices = list(map(_first, batch))
                if indices != list(dense):
                    good = next(i for i, (got, want)
                                in enumerate(zip(indices, dense, strict=True)) if got != want)
                    yield batch[:good]
                    expected += good
                    break
                yield batch
                expected += len(batch)
        if expected != upper:
            raise VerificationError("ledger row is missing", step="ledger", index=expected)


def entry_rows(engine: Engine, start: int, stop: int, *,
               page: int) -> Iterator[tuple[int, bytes, bytes]]:
    """``(index, data, leaf_hash)`` of entries ``[start, stop)``, ``page`` rows per read
    transaction."""
    batches = _row_batches(engine, _ENTRY_PAGE, start, stop, page=page,
                           action="read ledger entries")
    return itertools.chain.from_iterable(batches)


def leaf_hash_batches(engine: Engine, start: int, stop: int) -> Iterator[Iterator[bytes]]:
    """The leaf hashes of entries ``[start, stop)``, in batches."""
    for batch in _row_batches(engine, _LEAF_PAGE, start, stop, page=_LEAF_PAGE_ROWS,
                              action="read leaf hashes"):
        yield map(_second, batch)


def commit_rows(engine: Engine, *, page: int) -> Iterator[tuple[int, int, bytes]]:
    """(first, size, signed commit note) of every commit, in order, ``page`` rows per read
    transaction. Commits must tile the tree from 0; a gap or overlap raises VerificationError."""
    expected_first = 0
    while True:
        with _driver_rows(engine, "read ledger commits", _COMMIT_PAGE,
                          (expected_first, page)) as rows:
            read = 0
            for first, size, note in rows:
                if first != expected_first:
                    raise VerificationError(f"commit [{first}, {size}) does not start at "
                                            f"{expected_first}", step="commits",
                                            index=expected_first)
                yield first, size, note
                expected_first = size
                read += 1
        if not read:
            return


__all__ = ["EntryRow", "commit_rows", "entry_rows", "insert_entries", "leaf_hash_batches"]
