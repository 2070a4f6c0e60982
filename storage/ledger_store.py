"""The ledger in SQL: ``SqlLedgerStore`` (SQLite by default, PostgreSQL for a bureau), DESIGN.md
§4, §5. ``storage.group_commit.GroupCommitter`` batches concurrent appends into its
``append_batch``: one signed commit each.

Concurrency (STYLE.md §10). Appends are serialized *explicitly*, per database, not per process:
every append transaction first takes the writer lock, then reads the latest commit's tree frontier,
extends it, and inserts the entries and the new commit row before committing.

- PostgreSQL: ``pg_advisory_xact_lock(k)``, ``k`` derived from the origin, as the transaction's
  first statement, at READ COMMITTED, so the commit row read next is the one the previous holder
  committed. The lock is released by COMMIT or ROLLBACK, including when a client dies.
- SQLite: ``BEGIN IMMEDIATE`` takes SQLite's single write lock at BEGIN; WAL lets readers go on.
  Other processes wait up to ``busy_timeout_s`` for it, then get UnavailableError.

Should the lock ever fail, the primary keys on entry index and commit size and the unique commit
``first`` make a forked tree impossible to commit: the loser gets ConflictError.

Durability (STYLE.md §10): ``append_batch`` (and so ``GroupCommitter.append``) returns only after
the transaction has committed: SQLite in WAL mode with ``synchronous=FULL`` fsyncs the WAL at every
commit; PostgreSQL commits with its defaults (``synchronous_commit=on``, fsync on). A receipt is
never handed out for an entry that a crash could lose.

Proofs (STYLE.md §10). Each store keeps one ``merkle.MerkleLevels`` of the leaf hashes read so far
(64 MB at a million entries; open one store per database per process): a proof reads only the
leaf hashes past what it holds, under a lock so that one reader loads while the others wait, and
answers from the cached levels in O(log n). The cache never goes stale because the ledger is
append-only (the database refuses UPDATE and DELETE). A database restored *below* the cached size
is not noticed here (proofs go on being served for sizes it lost): restart the process after a
restore.
"""

from __future__ import annotations

import itertools
import operator
import os
import sqlite3
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

from sqlalchemy import Engine, create_engine, event, exc, func, insert, select
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import ConnectionPoolEntry

from evidence.errors import (
    ConflictError,
    NotFoundError,
    PolicyViolationError,
    UnavailableError,
    VerificationError,
)
from evidence.ids import Origin
from evidence.records import Checkpoint, EntryKind, LedgerEntry, Receipt, TreeHead
from integrity import merkle
from integrity.entry import MAX_ENTRY_BYTES
from integrity.notes import Signer, commit_text, parse_checkpoint_text, sign_note, split_note
from storage.ledger_tables import (
    APPEND_ONLY_MESSAGE,
    LEDGER_FORMAT_VERSION,
    META_FORMAT_VERSION,
    META_ORIGIN,
    LedgerCheckpointRow,
    LedgerCommitRow,
    LedgerEntryRow,
    LedgerMetaRow,
    LedgerTimestampRow,
)
from storage.migrations import (
    MIGRATION_LOCK_KEY,
    SQLITE_BEGIN_OPTION,
    advisory_lock_key,
    exclusive_transaction,
    is_current,
    upgrade_connection,
)

Clock = Callable[[], datetime]
EntryItem = tuple[bytes, str, str]
"""(entry bytes, kind, subject): what an appender hands in."""

DEFAULT_BUSY_TIMEOUT_S = 30.0  # SQLite: how long a writer waits for another process's commit
READ_CHUNK_ROWS = 50_000  # rows per read transaction (keyset page); rows stream, none is held
_PG_STREAM_ROWS = 1_000  # rows per chunk the server sends while we consume (libpq >= 17)
_CHECK_BATCH_ROWS = 1_000  # streamed rows checked for density and handed on at a time
_first = operator.itemgetter(0)
_second = operator.itemgetter(1)
_SQLITE_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})
_KINDS = frozenset(kind.value for kind in EntryKind)

_E = LedgerEntryRow
_C = LedgerCommitRow
_K = LedgerCheckpointRow
_T = LedgerTimestampRow


def _utc_now() -> datetime:
    return datetime.now(UTC)


# --- engine -----------------------------------------------------------------------------------


def _sqlite_on_connect(busy_timeout_ms: int) -> Callable[[object, ConnectionPoolEntry], None]:
    def on_connect(dbapi_conn: object, _record: ConnectionPoolEntry) -> None:
        # sqlite3's legacy transaction control would not BEGIN before SELECT or DDL; turn it off
        # and let the "begin" listener emit BEGIN (SQLAlchemy's documented recipe).
        dbapi_conn.isolation_level = None  # type: ignore[attr-defined]  # sqlite3.Connection
        cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
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


PRIVATE_FILE_MODE = 0o600


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
    """An Engine configured for the ledger (no migrations, no origin check: see ``open``).

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


# --- errors -----------------------------------------------------------------------------------


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Turn SQLAlchemy/DBAPI errors raised inside into evidence.errors families (STYLE.md §3).

    - an append-only trigger refused the statement → PolicyViolationError
    - unique/primary key/foreign key violation → ConflictError
    - connection refused or lost, database locked, serialization failure, pool exhausted
      → UnavailableError (retry)
    Anything else (a malformed statement: a bug) propagates unchanged.
    """
    try:
        yield
    except exc.DBAPIError as error:
        detail = _first_line(error.orig if error.orig is not None else error)
        if APPEND_ONLY_MESSAGE in str(error.orig):
            raise PolicyViolationError(f"{action}: refused by the database: {detail}") from error
        if isinstance(error, exc.IntegrityError):
            raise ConflictError(f"{action}: {detail}") from error
        if isinstance(error, exc.OperationalError | exc.InterfaceError) \
                or error.connection_invalidated:
            retry = 1.0 if "locked" in detail or "busy" in detail else 5.0
            raise UnavailableError(f"{action}: database unavailable: {detail}",
                                   retry_after_s=retry) from error
        raise
    except exc.TimeoutError as error:  # connection pool exhausted
        raise UnavailableError(f"{action}: no database connection free: {error}",
                               retry_after_s=1.0) from error


# --- bulk rows on the driver connection -------------------------------------------------------

EntryRow = tuple[int, bytes, bytes, str, str]
"""(idx, data, leaf_hash, kind, subject): one ``ledger_entries`` row, in column order."""

_SQLITE_INSERT_ENTRIES = ("INSERT INTO ledger_entries (idx, data, leaf_hash, kind, subject) "
                          "VALUES (?, ?, ?, ?, ?)")
_PG_COPY_ENTRIES = ("COPY ledger_entries (idx, data, leaf_hash, kind, subject) "
                    "FROM STDIN (FORMAT BINARY)")
_PG_ENTRY_TYPES = ("int8", "bytea", "bytea", "text", "text")


# Keyset pages for the bulk readers: ``idx >= ?`` with a LIMIT, not a closed range, so that
# PostgreSQL picks the ordered primary-key scan even on a table it has never analysed.
_ENTRY_PAGE = "SELECT idx, data, leaf_hash FROM ledger_entries WHERE idx >= ? ORDER BY idx LIMIT ?"
_LEAF_PAGE = "SELECT idx, leaf_hash FROM ledger_entries WHERE idx >= ? ORDER BY idx LIMIT ?"
_LEAF_PAGE_ROWS = 200_000  # leaf hashes are 32 bytes: bigger pages for the same memory
_COMMIT_PAGE = ("SELECT first, size, note FROM ledger_commits WHERE size > ? ORDER BY size "
                "LIMIT ?")


def _insert_entries(conn: Connection, rows: list[EntryRow]) -> None:
    """Insert entry rows inside ``conn``'s transaction, on the driver connection under it:
    SQLAlchemy's per-row parameter processing was about half of the append time.

    SQLite: one ``executemany`` of the plain tuples on a sqlite3 cursor. PostgreSQL: psycopg 3's
    ``COPY ... FROM STDIN (FORMAT BINARY)``. Both run in the transaction ``conn`` began, after the
    writer lock. COPY checks the same constraints (primary key: a fork is a ConflictError) and
    fires the same statement triggers as INSERT.
    """
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with _driver_errors(conn, _PG_COPY_ENTRIES):
            _pg_copy_entries(raw, rows)
        return
    if not isinstance(raw, sqlite3.Connection):
        raise TypeError(f"expected a sqlite3 connection, not {type(raw).__name__}")
    with _driver_errors(conn, _SQLITE_INSERT_ENTRIES), closing(raw.cursor()) as cur:
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
def _driver_errors(conn: Connection, statement: str) -> Iterator[None]:
    """Wrap an error of the driver connection under ``conn`` as ``conn.execute`` would have, so
    that translate_errors sees one exception family; drop the connection if it is gone."""
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as error:
        lost = conn.dialect.is_disconnect(error, conn.connection.dbapi_connection, None)
        if lost:
            conn.invalidate(error)
        raise exc.DBAPIError.instance(statement, None, error, dbapi_error,
                                      hide_parameters=True, connection_invalidated=lost,
                                      dialect=conn.dialect) from error


# --- the store --------------------------------------------------------------------------------


def _check_origin_text(origin: Origin) -> None:
    if not origin or origin != origin.strip() or "\n" in origin:
        raise ValueError(f"origin {origin!r} must be one non-empty line without outer spaces")


def _record_origin(conn: Connection, origin: Origin) -> None:
    """Write origin and format version on first open; refuse a database of another origin."""
    meta = {row.key: row.value
            for row in conn.execute(select(LedgerMetaRow.key, LedgerMetaRow.value))}
    if not meta:
        conn.execute(insert(LedgerMetaRow), [
            {"key": META_ORIGIN, "value": origin},
            {"key": META_FORMAT_VERSION, "value": LEDGER_FORMAT_VERSION},
        ])
        return
    if meta.get(META_ORIGIN) != origin:
        raise ConflictError(f"database holds the ledger of origin {meta.get(META_ORIGIN)!r}, "
                            f"not {origin!r}")
    if meta.get(META_FORMAT_VERSION) != LEDGER_FORMAT_VERSION:
        raise ConflictError(f"database holds ledger format {meta.get(META_FORMAT_VERSION)!r}, "
                            f"this code writes {LEDGER_FORMAT_VERSION!r}")


def _check_item(item: EntryItem) -> EntryItem:
    data, kind, subject = item
    if not isinstance(data, bytes) or not data:
        raise ValueError("entry data must be non-empty bytes")
    if len(data) > MAX_ENTRY_BYTES:
        raise ValueError(f"entry is {len(data)} bytes, over the {MAX_ENTRY_BYTES}-byte limit")
    if not isinstance(subject, str):
        raise ValueError("entry subject must be a string")
    if kind not in _KINDS:
        raise ValueError(f"{kind!r} is not a ledger entry kind")
    return data, str(kind), subject


class SqlLedgerStore:
    """One ledger origin in one SQL database. Thread-safe: every call uses its own pooled
    connection, and proofs share one cache under a lock (module docstring). Build it with
    :meth:`open`; :meth:`close` releases the connections."""

    def __init__(self, engine: Engine, *, origin: Origin, clock: Clock = _utc_now,
                 read_chunk_rows: int = READ_CHUNK_ROWS) -> None:
        """Wrap an engine from :func:`create_ledger_engine` whose schema is migrated and whose
        origin is recorded; :meth:`open` does both."""
        _check_origin_text(origin)
        if read_chunk_rows < 1:
            raise ValueError("read_chunk_rows must be positive")
        self._engine = engine
        self.origin = origin
        self._clock = clock
        self._chunk = read_chunk_rows
        self._writer_lock_key = advisory_lock_key(f"liuhen/ledger/writer\n{origin}")
        self._levels = merkle.MerkleLevels()  # module docstring, "Proofs"
        self._levels_lock = threading.Lock()

    @classmethod
    def open(cls, url: str | URL, *, origin: Origin, clock: Clock = _utc_now,
             busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
             read_chunk_rows: int = READ_CHUNK_ROWS) -> SqlLedgerStore:
        """Connect, migrate to the newest schema, and record ``origin`` on first use.

        Raises ConflictError when the database belongs to another origin or a newer schema,
        UnavailableError when the database cannot be reached.
        """
        _check_origin_text(origin)
        engine = create_ledger_engine(url, busy_timeout_s=busy_timeout_s)
        try:
            with translate_errors("open the ledger"), engine.connect() as conn, \
                    exclusive_transaction(conn, pg_lock_key=MIGRATION_LOCK_KEY):
                if not is_current(conn):
                    from alembic.util import CommandError  # noqa: PLC0415 - only to migrate

                    try:
                        upgrade_connection(conn)
                    except CommandError as error:
                        raise ConflictError(
                            f"cannot migrate the ledger schema: {error}") from error
                _record_origin(conn, origin)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, origin=origin, clock=clock, read_chunk_rows=read_chunk_rows)

    @property
    def engine(self) -> Engine:
        """The engine, for repositories that share the database. The ledger tables stay
        append-only whoever writes: the database refuses UPDATE and DELETE on them."""
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc_value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @contextmanager
    def _write(self, action: str) -> Iterator[Connection]:
        """A transaction holding the writer lock (module docstring), errors translated."""
        with translate_errors(action), self._engine.connect() as conn, \
                exclusive_transaction(conn, pg_lock_key=self._writer_lock_key):
            yield conn

    @contextmanager
    def _read(self, action: str) -> Iterator[Connection]:
        with translate_errors(action), self._engine.connect() as conn, conn.begin():
            yield conn

    # --- appends ------------------------------------------------------------------------------

    def append_batch(self, items: Sequence[EntryItem], *, signer: Signer) -> list[Receipt]:
        """Append ``items`` (entry bytes, kind, subject) as one commit, in one transaction.

        Under the writer lock: resume the tree from the latest commit's frontier, insert the
        entries at consecutive indices, sign ``commit_text(origin, first, head)`` with the
        station ``signer``, insert the commit row, commit. Returns one receipt per item, in
        order, once the commit is durable. An empty ``items`` commits nothing.
        """
        if signer.role != "station":
            raise PolicyViolationError(f"commit statements are signed by a station key, "
                                       f"not a {signer.role!r} key")
        checked = [_check_item(item) for item in items]
        if not checked:
            return []
        leaves = [merkle.leaf_hash(data) for data, _, _ in checked]  # no lock needed to hash
        with self._write("append to the ledger") as conn:
            latest = conn.execute(select(_C.size, _C.frontier)
                                  .order_by(_C.size.desc()).limit(1)).first()
            tree = (merkle.TreeBuilder() if latest is None
                    else merkle.TreeBuilder.from_frontier(latest.size, bytes(latest.frontier)))
            first = tree.size
            _insert_entries(conn, [(first + offset, data, leaf, kind, subject)
                                   for offset, ((data, kind, subject), leaf)
                                   in enumerate(zip(checked, leaves, strict=True))])
            tree.extend(leaves)
            head = TreeHead(size=tree.size, root=tree.root())
            note = sign_note(commit_text(self.origin, first, head), [signer])
            conn.execute(insert(_C).values(
                size=head.size, first=first, root=head.root, frontier=tree.frontier(),
                note=note, station=signer.name, committed_at=self._clock()))
        # Receipt(index, leaf_hash, commit_note), built without a Python loop.
        return list(map(Receipt, range(first, first + len(leaves)), leaves, itertools.repeat(note)))

    # --- reads --------------------------------------------------------------------------------

    def head(self) -> TreeHead:
        """The latest commit's tree head; size 0 and the empty root before the first commit."""
        with self._read("read the ledger head") as conn:
            row = conn.execute(select(_C.size, _C.root).order_by(_C.size.desc()).limit(1)).first()
        if row is None:
            return TreeHead(size=0, root=merkle.EMPTY_ROOT)
        return TreeHead(size=row.size, root=bytes(row.root))

    def size(self) -> int:
        return self.head().size

    def entries(self, start: int = 0, end: int | None = None) -> Iterator[LedgerEntry]:
        """Entries ``start <= index < end`` in index order, read ``read_chunk_rows`` at a time,
        each page in its own read transaction, open while the caller consumes that page (rows
        never change, so pages agree). Drop or close the iterator to end it early.

        ``end`` defaults to, and is capped at, the committed size when this is called. A missing
        row raises VerificationError at its index rather than being skipped.
        """
        rows = self.entry_rows(start, end)
        return (LedgerEntry(index, data, leaf) for index, data, leaf in rows)

    def entry_rows(self, start: int = 0,
                   end: int | None = None) -> Iterator[tuple[int, bytes, bytes]]:
        """:meth:`entries` as plain ``(index, data, leaf_hash)`` tuples, straight from the
        driver: for bulk readers such as the audit (no object is built per row)."""
        if start < 0:
            raise ValueError("start must not be negative")
        size = self.size()
        stop = size if end is None else min(end, size)
        return self._stream_rows(_ENTRY_PAGE, start, stop, self._chunk, "read ledger entries")

    def _stream_rows(self, sql: str, start: int, stop: int, page: int,
                     action: str) -> Iterator[tuple[Any, ...]]:
        """The rows of ``sql``, a keyset page (``WHERE idx >= ? ORDER BY idx LIMIT ?``), for every
        index in ``[start, stop)``, ``page`` rows per read transaction. A missing row raises
        VerificationError at its index, after the rows before it."""
        return itertools.chain.from_iterable(self._row_batches(sql, start, stop, page, action))

    def _row_batches(self, sql: str, start: int, stop: int, page: int,
                     action: str) -> Iterator[list[tuple[Any, ...]]]:
        # Rows are checked and handed on a batch at a time, so that nothing in Python runs per
        # row here: at a million rows that was a third of the time of a full audit.
        expected = start
        while expected < stop:
            upper = min(expected + page, stop)
            with self._driver_rows(action, sql, (expected, upper - expected)) as rows:
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

    @contextmanager
    def _driver_rows(self, action: str, sql: str,
                     params: tuple[int, int]) -> Iterator[Iterator[tuple[Any, ...]]]:
        """The rows of one query (``?`` placeholders) as plain tuples from the driver, streamed
        in a short read transaction: no SQLAlchemy row processing, no object per row (the
        audit reads a million rows)."""
        with self._read(action) as conn, _driver_errors(conn, sql):
            raw = conn.connection.driver_connection
            if conn.dialect.name == "postgresql":
                with _pg_rows(raw, sql.replace("?", "%s"), params) as rows:
                    yield rows
                return
            if not isinstance(raw, sqlite3.Connection):
                raise TypeError(f"expected a sqlite3 connection, not {type(raw).__name__}")
            with closing(raw.cursor()) as cur:
                yield cur.execute(sql, params)

    def leaf_hashes(self, end: int | None = None) -> list[bytes]:
        """The stored leaf hashes of entries ``[0, end)`` (``end`` capped at the size)."""
        size = self.size()
        stop = size if end is None else min(end, size)
        return [row[1] for row in self._stream_rows(_LEAF_PAGE, 0, stop, _LEAF_PAGE_ROWS,
                                                    "read leaf hashes")]

    def entry(self, index: int) -> LedgerEntry:
        with self._read("read a ledger entry") as conn:
            row = conn.execute(select(_E.data, _E.leaf_hash).where(_E.idx == index)).first()
        if row is None:
            raise NotFoundError(f"no ledger entry at index {index}")
        return LedgerEntry(index=index, data=bytes(row.data), leaf_hash=bytes(row.leaf_hash))

    def find(self, subject: str) -> list[LedgerEntry]:
        """Every entry recorded with ``subject``, in index order."""
        with self._read("find ledger entries") as conn:
            rows = conn.execute(select(_E.idx, _E.data, _E.leaf_hash)
                                .where(_E.subject == subject).order_by(_E.idx)).all()
        return [LedgerEntry(index=r.idx, data=bytes(r.data), leaf_hash=bytes(r.leaf_hash))
                for r in rows]

    def commits(self) -> Iterator[tuple[int, int, bytes]]:
        """(first, size, signed commit note) of every commit, in order, read in chunks. Commits
        must tile the tree from 0; a gap or overlap raises VerificationError."""
        expected_first = 0
        while True:
            with self._driver_rows("read ledger commits", _COMMIT_PAGE,
                                   (expected_first, self._chunk)) as rows:
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

    # --- proofs (cached levels: module docstring, "Proofs") -----------------------------------

    @contextmanager
    def _levels_for(self, size: int) -> Iterator[merkle.MerkleLevels]:
        """The cached levels, holding at least ``size`` leaves, for as long as the lock is held.
        NotFoundError when the committed ledger is smaller than ``size``."""
        with self._levels_lock:
            levels = self._levels
            if levels.size < size:
                # Read what was committed past the cache: the head, then one keyset range query
                # on the primary key per _LEAF_PAGE_ROWS rows (one in the steady state); a
                # missing row raises VerificationError.
                head = self.size()
                if head < size:
                    raise NotFoundError(f"the ledger has {head} entries, not {size}")
                for batch in self._row_batches(_LEAF_PAGE, levels.size, head, _LEAF_PAGE_ROWS,
                                               "read leaf hashes"):
                    levels.extend(map(_second, batch))
            yield levels

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(index, D[size]) from the stored leaf hashes."""
        if not 0 <= index < size:
            raise NotFoundError(f"index {index} is not in a tree of size {size}")
        with self._levels_for(size) as levels:
            return levels.inclusion_proof(index, size)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 PROOF(old, D[new]) from the stored leaf hashes."""
        if not 0 <= old <= new:
            raise NotFoundError(f"no consistency proof from size {old} to size {new}")
        with self._levels_for(new) as levels:
            return levels.consistency_proof(old, new)

    # --- checkpoints and timestamps -----------------------------------------------------------

    def _checkpoint(self, size: int, root: bytes, note: bytes) -> Checkpoint:
        return Checkpoint(origin=self.origin, head=TreeHead(size=size, root=bytes(root)),
                          note=bytes(note))

    def checkpoints(self) -> list[Checkpoint]:
        with self._read("read checkpoints") as conn:
            rows = conn.execute(select(_K.size, _K.root, _K.note).order_by(_K.size)).all()
        return [self._checkpoint(r.size, r.root, r.note) for r in rows]

    def latest_checkpoint(self) -> Checkpoint | None:
        with self._read("read the latest checkpoint") as conn:
            row = conn.execute(select(_K.size, _K.root, _K.note)
                               .order_by(_K.size.desc()).limit(1)).first()
        return None if row is None else self._checkpoint(row.size, row.root, row.note)

    def _root_at(self, conn: Connection, size: int) -> bytes | None:
        """The root of the committed tree of ``size``, None when the ledger is smaller.
        Resumes from the nearest commit at or below ``size``: O(entries since that commit)."""
        top = conn.execute(select(func.max(_C.size))).scalar()
        if size > (top or 0):
            return None
        base = conn.execute(select(_C.size, _C.root, _C.frontier).where(_C.size <= size)
                            .order_by(_C.size.desc()).limit(1)).first()
        if base is not None and base.size == size:
            return bytes(base.root)
        tree = (merkle.TreeBuilder() if base is None
                else merkle.TreeBuilder.from_frontier(base.size, bytes(base.frontier)))
        for leaf in conn.execute(select(_E.leaf_hash).where(_E.idx >= tree.size, _E.idx < size)
                                 .order_by(_E.idx)).scalars():
            tree.append(bytes(leaf))
        if tree.size != size:
            raise VerificationError("ledger row is missing", step="ledger", index=tree.size)
        return tree.root()

    def add_checkpoint(self, cp: Checkpoint, *, published_at: datetime | None = None) -> None:
        """Record a signed checkpoint. Idempotent for the same note at the same size.

        Refuses (ConflictError) another origin, a size not larger than the latest checkpoint, a
        size the ledger has not reached; raises VerificationError when the note's body does not
        match ``cp`` or when ``cp``'s root is not the ledger's root at that size (a split view).
        The note's signature is the signer's business; verifiers check it against the keyring.
        """
        if cp.origin != self.origin:
            raise ConflictError(f"checkpoint of origin {cp.origin!r} for ledger {self.origin!r}")
        text, _ = split_note(cp.note)
        if parse_checkpoint_text(text) != (cp.origin, cp.head):
            raise VerificationError("checkpoint note does not match its origin, size or root",
                                    step="checkpoint", index=cp.head.size)
        size = cp.head.size
        with self._write("add a checkpoint") as conn:
            same = conn.execute(select(_K.note).where(_K.size == size)).scalar()
            if same is not None:
                if bytes(same) == cp.note:
                    return
                raise ConflictError(f"a different checkpoint for size {size} is recorded")
            latest = conn.execute(select(func.max(_K.size))).scalar()
            if latest is not None and size <= latest:
                raise ConflictError(f"checkpoint size {size} is not beyond the latest ({latest})")
            root = self._root_at(conn, size)
            if root is None:
                raise ConflictError(f"checkpoint for size {size}: the ledger is smaller")
            if root != cp.head.root:
                raise VerificationError("checkpoint root differs from the ledger's root: split "
                                        "view", step="checkpoint", index=size)
            conn.execute(insert(_K).values(size=size, root=cp.head.root, note=cp.note,
                                           published_at=published_at or self._clock()))

    def add_timestamp(self, size: int, tsa_name: str, token: bytes,
                      obtained_at: datetime) -> None:
        """Keep a raw timestamp token from ``tsa_name`` over the checkpoint of ``size``.
        Idempotent for the same token; ConflictError for another token from the same TSA;
        NotFoundError when no checkpoint of that size is recorded."""
        if not token:
            raise ValueError("empty timestamp token")
        with self._write("add a timestamp") as conn:
            if conn.execute(select(_K.size).where(_K.size == size)).first() is None:
                raise NotFoundError(f"no checkpoint of size {size} to timestamp")
            same = conn.execute(select(_T.token).where(_T.checkpoint_size == size,
                                                       _T.tsa == tsa_name)).scalar()
            if same is not None:
                if bytes(same) == token:
                    return
                raise ConflictError(f"{tsa_name} already timestamped checkpoint {size}")
            conn.execute(insert(_T).values(checkpoint_size=size, tsa=tsa_name, token=token,
                                           obtained_at=obtained_at))

    def timestamps(self, size: int) -> list[tuple[str, bytes]]:
        """(TSA name, raw token) for the checkpoint of ``size``, in the order they were added."""
        with self._read("read timestamps") as conn:
            rows = conn.execute(select(_T.tsa, _T.token).where(_T.checkpoint_size == size)
                                .order_by(_T.id)).all()
        return [(r.tsa, bytes(r.token)) for r in rows]


__all__ = [
    "EntryItem",
    "SqlLedgerStore",
    "create_ledger_engine",
    "translate_errors",
]
