"""The ledger in SQL: ``SqlLedgerStore`` (SQLite by default, PostgreSQL for a bureau), DESIGN.md
§4, §5. ``storage.group_commit.GroupCommitter`` batches concurrent appends into its
``append_batch``: one signed commit each. Its helpers: ``storage.engine`` (the engine and the
writer lock), ``storage.ledger_rows`` (bulk rows on the driver connection),
``storage.ledger_proofs`` (proofs from cached levels), ``storage.ledger_checkpoints``
(checkpoints and timestamp tokens), ``storage.dberrors`` (error families).

Concurrency (STYLE.md §10). Appends are serialized *explicitly*, per database, not per process:
every append transaction first takes the writer lock (``storage.engine.exclusive_transaction``:
a PostgreSQL advisory lock keyed by the origin, or SQLite's ``BEGIN IMMEDIATE``), then reads the
latest commit's tree frontier, extends it, and inserts the entries and the new commit row before
committing. Should the lock ever fail, the primary keys on entry index and commit size and the
unique commit ``first`` make a forked tree impossible to commit: the loser gets ConflictError.

Durability (STYLE.md §10): ``append_batch`` (and so ``GroupCommitter.append``) returns only after
the transaction has committed, and a commit is durable (``storage.engine``: SQLite fsyncs its WAL
at every commit, PostgreSQL commits with fsync on). A receipt is never handed out for an entry
that a crash could lose.

Reads stream in keyset pages of ``read_chunk_rows`` (``storage.ledger_rows``); proofs answer from
one cache of tree levels per store (``storage.ledger_proofs``: open one store per database per
process, and restart it after restoring the database).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Self

from sqlalchemy import Engine, insert, select
from sqlalchemy.engine import URL, Connection

from evidence.errors import ConflictError, NotFoundError, PolicyViolationError, VerificationError
from evidence.ids import Origin
from evidence.records import Checkpoint, EntryKind, LedgerEntry, Receipt, TreeHead
from integrity import merkle
from integrity.entry import MAX_ENTRY_BYTES
from integrity.notes import Signer, commit_text, parse_checkpoint_text, sign_note, split_note
from storage.dberrors import translate_errors
from storage.engine import (
    DEFAULT_BUSY_TIMEOUT_S,
    advisory_lock_key,
    create_ledger_engine,
    exclusive_transaction,
)
from storage.ledger_checkpoints import (
    read_checkpoints,
    read_latest_checkpoint,
    read_timestamps,
    record_checkpoint,
    record_timestamp,
)
from storage.ledger_proofs import CachedProofs
from storage.ledger_rows import commit_rows, entry_rows, insert_entries, leaf_hash_batches
from storage.ledger_sm3 import sm3_leaves, sm3_root_at, sm3_tree_at
from storage.ledger_tables import (
    LEDGER_FORMAT_VERSION,
    META_FORMAT_VERSION,
    META_ORIGIN,
    LedgerCommitRow,
    LedgerEntryRow,
    LedgerMetaRow,
)
from storage.migrations import MIGRATION_LOCK_KEY, is_current, upgrade_connection

Clock = Callable[[], datetime]
EntryItem = tuple[bytes, str, str]
"""(entry bytes, kind, subject): what an appender hands in."""

READ_CHUNK_ROWS = 50_000  # rows per read transaction (keyset page); rows stream, none is held
_KINDS = frozenset(kind.value for kind in EntryKind)

_E = LedgerEntryRow
_C = LedgerCommitRow


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
    connection, and proofs share one cache under a lock (``storage.ledger_proofs``). Build it with
    :meth:`open`; :meth:`close` releases the connections."""

    def __init__(self, engine: Engine, *, origin: Origin, clock: Clock,
                 read_chunk_rows: int = READ_CHUNK_ROWS) -> None:
        """Wrap an engine from :func:`create_ledger_engine` whose schema is migrated and whose
        origin is recorded; :meth:`open` does both. ``clock`` (aware UTC now) stamps commit rows
        and checkpoints recorded without a time: bookkeeping only, never in signed bytes."""
        _check_origin_text(origin)
        if read_chunk_rows < 1:
            raise ValueError("read_chunk_rows must be positive")
        self._engine = engine
        self.origin = origin
        self._clock = clock
        self._chunk = read_chunk_rows
        self._writer_lock_key = advisory_lock_key(f"liuhen/ledger/writer\n{origin}")
        self._proofs = CachedProofs(engine, committed_size=self.size,
                                    read_chunk_rows=read_chunk_rows)

    @classmethod
    def open(cls, url: str | URL, *, origin: Origin, clock: Clock,
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

    def append_batch(self, items: Sequence[EntryItem], *,
                     signers: Sequence[Signer]) -> list[Receipt]:
        """Append ``items`` (entry bytes, kind, subject) as one commit, in one transaction.

        Under the writer lock: resume the tree from the latest commit's frontier, insert the
        entries at consecutive indices, sign ``commit_text(origin, first, head)`` with the
        station's ``signers`` (one key per algorithm, one name), insert the commit row, commit.
        Returns one receipt per item, in order, once the commit is durable. An empty ``items``
        commits nothing.
        """
        who = {(s.public.role, s.public.name) for s in signers}
        if len(who) != 1 or next(iter(who))[0] != "station":
            raise PolicyViolationError(f"commit statements are signed by the keys of one station, "
                                       f"not by {sorted(who)!r}")
        station = next(iter(who))[1]
        checked = [_check_item(item) for item in items]
        if not checked:
            return []
        leaves = [merkle.leaf_hash(data) for data, _, _ in checked]  # no lock needed to hash
        sm3_new = sm3_leaves(data for data, _, _ in checked)  # the SM3 tree's (国密 layer)
        with self._write("append to the ledger") as conn:
            latest = conn.execute(select(_C.size, _C.frontier)
                                  .order_by(_C.size.desc()).limit(1)).first()
            tree = (merkle.TreeBuilder() if latest is None
                    else merkle.TreeBuilder.from_frontier(latest.size, bytes(latest.frontier)))
            first = tree.size
            sm3 = sm3_tree_at(conn, first)  # the latest commit's SM3 frontier (storage.ledger_sm3)
            insert_entries(conn, [(first + offset, data, leaf, kind, subject)
                                  for offset, ((data, kind, subject), leaf)
                                  in enumerate(zip(checked, leaves, strict=True))])
            tree.extend(leaves)
            sm3.extend(sm3_new)
            head = TreeHead(size=tree.size, root=tree.root())
            note = sign_note(commit_text(self.origin, first, head), signers)
            conn.execute(insert(_C).values(
                size=head.size, first=first, root=head.root, frontier=tree.frontier(),
                note=note, station=station, committed_at=self._clock(),
                sm3_root=sm3.root(), sm3_frontier=sm3.frontier()))
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

    def sm3_head(self, size: int) -> TreeHead:
        """The SM3 tree's head over the first ``size`` committed entries (国密 layer): what a
        checkpoint of ``size`` carries in its ``sm3`` line. NotFoundError beyond the ledger."""
        with self._read("read the SM3 tree head") as conn:
            top = conn.execute(select(_C.size).order_by(_C.size.desc()).limit(1)).scalar()
            if size < 0 or size > (top or 0):
                raise NotFoundError(f"the ledger has {top or 0} entries, not {size}")
            return TreeHead(size=size, root=sm3_root_at(conn, size))

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
        return entry_rows(self._engine, start, stop, page=self._chunk)

    def leaf_hashes(self, end: int | None = None) -> list[bytes]:
        """The stored leaf hashes of entries ``[0, end)`` (``end`` capped at the size)."""
        size = self.size()
        stop = size if end is None else min(end, size)
        return list(itertools.chain.from_iterable(leaf_hash_batches(self._engine, 0, stop)))

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
        return commit_rows(self._engine, page=self._chunk)

    # --- proofs (storage.ledger_proofs) -------------------------------------------------------

    def inclusion_proof(self, index: int, size: int, *,
                        tree_hash: merkle.TreeHash = merkle.SHA256) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(index, D[size]) in the SHA-256 tree (from the stored leaf
        hashes) or the SM3 tree (from the entry bytes)."""
        return self._proofs.inclusion_proof(index, size, tree_hash=tree_hash)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 PROOF(old, D[new]) from the stored leaf hashes."""
        return self._proofs.consistency_proof(old, new)

    # --- checkpoints and timestamps -----------------------------------------------------------

    def checkpoints(self) -> list[Checkpoint]:
        with self._read("read checkpoints") as conn:
            return read_checkpoints(conn, self.origin)

    def latest_checkpoint(self) -> Checkpoint | None:
        with self._read("read the latest checkpoint") as conn:
            return read_latest_checkpoint(conn, self.origin)

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
        if parse_checkpoint_text(text) != (cp.origin, cp.head, cp.sm3):
            raise VerificationError("checkpoint note does not match its origin, size or roots",
                                    step="checkpoint", index=cp.head.size)
        with self._write("add a checkpoint") as conn:
            record_checkpoint(conn, cp, published_at=published_at or self._clock())

    def add_timestamp(self, size: int, tsa_name: str, token: bytes,
                      obtained_at: datetime) -> None:
        """Keep a raw timestamp token from ``tsa_name`` over the checkpoint of ``size``.
        Idempotent for the same token; ConflictError for another token from the same TSA;
        NotFoundError when no checkpoint of that size is recorded."""
        if not token:
            raise ValueError("empty timestamp token")
        with self._write("add a timestamp") as conn:
            record_timestamp(conn, size, tsa_name, token, obtained_at)

    def timestamps(self, size: int) -> list[tuple[str, bytes]]:
        """(TSA name, raw token) for the checkpoint of ``size``, in the order they were added."""
        with self._read("read timestamps") as conn:
            return read_timestamps(conn, size)


__all__ = ["EntryItem", "SqlLedgerStore"]
