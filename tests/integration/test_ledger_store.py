"""SqlLedgerStore against real SQLite and PostgreSQL: receipts, verbatim rows, origin binding,
database-enforced append-only tables, group commit, checkpoints and timestamps."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import make_url, text

import storage.account_tables
import storage.catalogue_tables  # its tables are part of the compared metadata
import storage.ingest_tables  # its tables are part of the compared metadata
import storage.object_keys  # its table is part of the compared metadata
import storage.station_tables  # noqa: F401 - its tables are part of the compared metadata
from evidence.errors import (
    ConflictError,
    NotFoundError,
    PolicyViolationError,
    UnavailableError,
    VerificationError,
)
from evidence.ids import Origin
from evidence.records import Receipt, TreeHead
from integrity import merkle
from integrity.notes import (
    Signer,
    open_checkpoint,
    parse_commit_text,
    sign_checkpoint,
    verify_note,
)
from ledger.publishing import Publisher, publish_checkpoint
from storage.dberrors import translate_errors
from storage.group_commit import GroupCommitter
from storage.ledger_store import SqlLedgerStore
from storage.ledger_tables import APPEND_ONLY_MESSAGE, LEDGER_TABLES, metadata
from storage.migrations import upgrade
from tests.integration.conftest import (
    AT,
    ORIGIN,
    make_entry,
    make_items,
    pinned_clock,
    sqlite_url,
)
from tests.support.keys import sm2_signer


def _check_receipt(receipt: Receipt, store: SqlLedgerStore, station: Signer) -> TreeHead:
    """The receipt's commit statement verifies and its entry is in the committed tree."""
    text_, _ = verify_note(receipt.commit_note, [station.public], size=receipt.index + 1)
    origin, first, head = parse_commit_text(text_)
    assert origin == ORIGIN
    assert first <= receipt.index < head.size
    merkle.verify_inclusion(receipt.index, head.size, receipt.leaf_hash,
                            store.inclusion_proof(receipt.index, head.size), head.root)
    return head


# --- appends ----------------------------------------------------------------------------------


def test_append_batch_receipts_verify(store: SqlLedgerStore, station_signer: Signer) -> None:
    first = make_items(5, prefix="a")
    receipts = store.append_batch(first, signers=[station_signer])
    assert [r.index for r in receipts] == list(range(5))
    assert len({r.commit_note for r in receipts}) == 1  # one commit for the batch
    for receipt, (data, _, _) in zip(receipts, first, strict=True):
        assert receipt.leaf_hash == merkle.leaf_hash(data)
        head = _check_receipt(receipt, store, station_signer)
        assert head == store.head() == TreeHead(5, merkle.root(store.leaf_hashes()))

    more = store.append_batch(make_items(7, prefix="b"), signers=[station_signer])
    assert [r.index for r in more] == list(range(5, 12))
    _, first_index, new_head = parse_commit_text(more[0].commit_note.split(b"\n\n")[0] + b"\n")
    assert (first_index, new_head) == (5, store.head())
    for receipt in more:
        _check_receipt(receipt, store, station_signer)
    # Old receipts stay provable in the bigger tree, and the bigger tree extends the old one.
    for receipt in receipts:
        merkle.verify_inclusion(receipt.index, 12, receipt.leaf_hash,
                                store.inclusion_proof(receipt.index, 12), new_head.root)
    merkle.verify_consistency(5, 12, store.consistency_proof(5, 12), head.root, new_head.root)
    assert [(f, s) for f, s, _ in store.commits()] == [(0, 5), (5, 12)]


def test_rows_are_persisted_verbatim(store: SqlLedgerStore, station_signer: Signer) -> None:
    items = [*make_items(4, prefix="v"), (make_entry("clip-x"), "acquired", "clip-x")]
    store.append_batch(items, signers=[station_signer])
    stored = list(store.entries())
    assert [e.index for e in stored] == list(range(5))
    assert [e.data for e in stored] == [data for data, _, _ in items]
    assert [e.leaf_hash for e in stored] == [merkle.leaf_hash(data) for data, _, _ in items]
    assert store.entry(4) == stored[4]
    assert store.find("clip-x") == [stored[4]]
    assert store.find("nothing") == []
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT idx, data, kind, subject FROM ledger_entries "
                                 "ORDER BY idx")).all()
    assert [(r.idx, bytes(r.data), r.kind, r.subject) for r in rows] == [
        (i, data, kind, subject) for i, (data, kind, subject) in enumerate(items)]
    with pytest.raises(NotFoundError):
        store.entry(5)


def test_empty_ledger_and_empty_batch(store: SqlLedgerStore, station_signer: Signer) -> None:
    assert store.head() == TreeHead(0, merkle.EMPTY_ROOT)
    assert store.size() == 0
    assert store.append_batch([], signers=[station_signer]) == []
    assert list(store.entries()) == [] and list(store.commits()) == []
    assert store.latest_checkpoint() is None


def test_append_refuses_bad_input(store: SqlLedgerStore, station_signer: Signer,
                                  log_signer: Signer) -> None:
    with pytest.raises(PolicyViolationError):
        store.append_batch(make_items(1), signers=[log_signer])
    with pytest.raises(ValueError, match="kind"):
        store.append_batch([(make_entry("s"), "no-such-kind", "s")], signers=[station_signer])
    with pytest.raises(ValueError, match="limit"):
        store.append_batch([(b"x" * (64 * 1024 + 1), "note", "s")], signers=[station_signer])
    assert store.size() == 0


def test_sm2_station_key_signs_commits_and_receipts_beside_ed25519(
        store: SqlLedgerStore, station_signer: Signer, log_signer: Signer) -> None:
    station_sm2 = sm2_signer(station_signer.public.name, "station")
    keys = [station_signer.public, station_sm2.public]
    with GroupCommitter(store, signers=[station_signer, station_sm2]) as committer:
        receipt = committer.append(make_entry("sm2"), "note", "sm2")
    _, signed = verify_note(receipt.commit_note, keys, size=receipt.index + 1)
    assert [k.algorithm for k in signed] == ["ed25519", "sm2"]
    log_sm2 = sm2_signer(log_signer.public.name, "log")
    cp = publish_checkpoint(store, origin=ORIGIN, signers=[log_signer, log_sm2], now=AT)
    assert cp is not None
    open_checkpoint(cp.note, origin=ORIGIN, keys=[log_signer.public, log_sm2.public])
    # One commit is one station's: keys of two names, or of another role, are refused.
    other = sm2_signer("station-99", "station")
    with pytest.raises(PolicyViolationError, match="keys of one station"):
        store.append_batch(make_items(1), signers=[station_signer, other])
    with pytest.raises(PolicyViolationError, match="log keys"):
        publish_checkpoint(store, origin=ORIGIN, signers=[log_signer, station_sm2], now=AT)


def test_entries_stream_in_chunks(ledger_url: str, station_signer: Signer) -> None:
    with SqlLedgerStore.open(ledger_url, origin=ORIGIN, read_chunk_rows=3,
                             clock=pinned_clock) as store:
        for n in (4, 1, 5):
            store.append_batch(make_items(n, start=store.size()), signers=[station_signer])
        assert [e.index for e in store.entries()] == list(range(10))
        assert [e.index for e in store.entries(2, 9)] == list(range(2, 9))
        assert [e.index for e in store.entries(8)] == [8, 9]
        assert [e.index for e in store.entries(0, 100)] == list(range(10))
        assert [(f, s) for f, s, _ in store.commits()] == [(0, 4), (4, 5), (5, 10)]
        assert len(store.leaf_hashes(7)) == 7


def test_proof_bounds(store: SqlLedgerStore, station_signer: Signer) -> None:
    store.append_batch(make_items(3), signers=[station_signer])
    with pytest.raises(NotFoundError):
        store.inclusion_proof(3, 3)
    with pytest.raises(NotFoundError):
        store.inclusion_proof(0, 4)
    with pytest.raises(NotFoundError):
        store.consistency_proof(2, 4)
    assert store.consistency_proof(3, 3) == []


# --- origin and schema ------------------------------------------------------------------------


def test_origin_mismatch_refused(ledger_url: str, station_signer: Signer) -> None:
    with SqlLedgerStore.open(ledger_url, origin=ORIGIN, clock=pinned_clock) as store:
        store.append_batch(make_items(2), signers=[station_signer])
    with pytest.raises(ConflictError, match="origin"):
        SqlLedgerStore.open(ledger_url, origin=Origin("liuhen.other-bureau/ledger/v1"),
                            clock=pinned_clock)
    with SqlLedgerStore.open(ledger_url, origin=ORIGIN, clock=pinned_clock) as store:
        assert store.size() == 2


def test_migrations_match_the_models(ledger_url: str) -> None:
    upgrade(ledger_url)
    upgrade(ledger_url)  # a second run is a no-op
    with SqlLedgerStore.open(ledger_url, origin=ORIGIN, clock=pinned_clock) as store, \
            store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_in_memory_sqlite_refused() -> None:
    with pytest.raises(ValueError, match="file"):
        SqlLedgerStore.open("sqlite://", origin=ORIGIN, clock=pinned_clock)


def test_unreachable_database_is_unavailable() -> None:
    with pytest.raises(UnavailableError):
        SqlLedgerStore.open("postgresql+psycopg://postgres@127.0.0.1:1/nothing", origin=ORIGIN,
                            clock=pinned_clock)


# --- the database refuses changes -------------------------------------------------------------

# A statement per table that would change a row if the database let it.
_UPDATES = {
    "ledger_meta": "UPDATE ledger_meta SET value = 'liuhen.evil/ledger/v1'",
    "ledger_entries": "UPDATE ledger_entries SET subject = 'rewritten'",
    "ledger_commits": "UPDATE ledger_commits SET station = 'rewritten'",
    "ledger_checkpoints": "UPDATE ledger_checkpoints SET size = size + 1000",
    "ledger_timestamps": "UPDATE ledger_timestamps SET tsa = 'rewritten'",
}


def _populate(store: SqlLedgerStore, station: Signer, log: Signer) -> None:
    store.append_batch(make_items(3), signers=[station])
    cp = publish_checkpoint(store, origin=ORIGIN, signers=[log], now=AT)
    assert cp is not None
    store.add_timestamp(cp.head.size, "tsa-1", b"token-bytes", AT)


def _snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    with SqlLedgerStore.open(url, origin=ORIGIN, clock=pinned_clock) as store, \
            store.engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY 1"))]  # noqa: S608 - fixed names
                for t in LEDGER_TABLES}


def _raw_pg_statement(url: str, statement: str) -> psycopg.Error:
    parsed = make_url(url)
    with psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username,
                         dbname=parsed.database) as conn:
        with pytest.raises(psycopg.Error) as caught:
            conn.execute(statement)
        conn.rollback()
    return caught.value


def _raw_sqlite_statement(url: str, statement: str) -> sqlite3.Error:
    path = make_url(url).database
    assert path is not None
    conn = sqlite3.connect(path, isolation_level=None)  # plain sqlite3: no pragmas of ours
    try:
        with pytest.raises(sqlite3.Error) as caught:
            conn.execute(statement)
    finally:
        conn.close()
    return caught.value


@pytest.mark.parametrize("table", LEDGER_TABLES)
@pytest.mark.parametrize("operation", ["UPDATE", "DELETE"])
def test_database_refuses_update_and_delete(ledger_url: str, station_signer: Signer,
                                            log_signer: Signer, table: str,
                                            operation: str) -> None:
    with SqlLedgerStore.open(ledger_url, origin=ORIGIN, clock=pinned_clock) as store:
        _populate(store, station_signer, log_signer)
    before = _snapshot(ledger_url)
    assert all(before[t] for t in LEDGER_TABLES)
    statement = _UPDATES[table] if operation == "UPDATE" else f"DELETE FROM {table}"  # noqa: S608 - fixed names
    if ledger_url.startswith("sqlite"):
        error: Exception = _raw_sqlite_statement(ledger_url, statement)
        assert isinstance(error, sqlite3.IntegrityError)  # SQLITE_CONSTRAINT_TRIGGER
    else:
        error = _raw_pg_statement(ledger_url, statement)
        assert isinstance(error, psycopg.errors.RestrictViolation)
    assert f"{APPEND_ONLY_MESSAGE}: {operation} on {table} refused" in str(error)
    assert _snapshot(ledger_url) == before


@pytest.mark.postgres
@pytest.mark.parametrize("table", LEDGER_TABLES)
def test_postgresql_refuses_truncate(pg_url: str, station_signer: Signer, log_signer: Signer,
                                     table: str) -> None:
    with SqlLedgerStore.open(pg_url, origin=ORIGIN, clock=pinned_clock) as store:
        _populate(store, station_signer, log_signer)
    before = _snapshot(pg_url)
    error = _raw_pg_statement(pg_url, f"TRUNCATE {table} CASCADE")
    assert isinstance(error, psycopg.errors.RestrictViolation)
    assert APPEND_ONLY_MESSAGE in str(error) and "TRUNCATE" in str(error)
    assert _snapshot(pg_url) == before


def test_refusals_translate_to_error_families(store: SqlLedgerStore,
                                              station_signer: Signer) -> None:
    store.append_batch(make_items(2), signers=[station_signer])
    with pytest.raises(PolicyViolationError, match="append-only"), translate_errors("t"), \
            store.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_entries SET kind = 'note' WHERE idx = 0"))
    with pytest.raises(PolicyViolationError), translate_errors("t"), store.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_commits"))
    with pytest.raises(ConflictError), translate_errors("t"), store.engine.begin() as conn:
        conn.execute(text("INSERT INTO ledger_entries (idx, data, leaf_hash, kind, subject) "
                          "VALUES (0, :d, :h, 'note', 'dup')"), {"d": b"x", "h": b"h" * 32})
    assert [e.data for e in store.entries()] == [d for d, _, _ in make_items(2)]


def test_upserts_are_refused(store: SqlLedgerStore, station_signer: Signer) -> None:
    """INSERT OR REPLACE (SQLite, recursive triggers on) and ON CONFLICT DO UPDATE (PostgreSQL)
    would replace rows without saying UPDATE; both are refused."""
    store.append_batch(make_items(1), signers=[station_signer])
    if store.engine.dialect.name == "sqlite":
        statement = ("INSERT OR REPLACE INTO ledger_entries (idx, data, leaf_hash, kind, subject) "
                     "VALUES (0, :d, :h, 'note', 'replaced')")
    else:
        statement = ("INSERT INTO ledger_entries (idx, data, leaf_hash, kind, subject) "
                     "VALUES (0, :d, :h, 'note', 'replaced') "
                     "ON CONFLICT (idx) DO UPDATE SET subject = excluded.subject")
    with pytest.raises(PolicyViolationError), translate_errors("t"), store.engine.begin() as conn:
        conn.execute(text(statement), {"d": b"x", "h": b"h" * 32})
    assert store.entry(0).data == make_items(1)[0][0]


def test_bulk_insert_over_a_stray_row_is_a_conflict(store: SqlLedgerStore,
                                                     station_signer: Signer) -> None:
    """append_batch inserts on the driver connection (executemany on SQLite, COPY on
    PostgreSQL); a row in its way still fails as ConflictError and the whole batch rolls back."""
    store.append_batch(make_items(2), signers=[station_signer])
    with store.engine.begin() as conn:  # a writer that ignored the lock, mid-way through
        conn.execute(text("INSERT INTO ledger_entries (idx, data, leaf_hash, kind, subject) "
                          "VALUES (3, :d, :h, 'note', 'stray')"), {"d": b"x", "h": b"h" * 32})
    with pytest.raises(ConflictError, match="append to the ledger"):
        store.append_batch(make_items(3, prefix="n"), signers=[station_signer])
    assert store.head().size == 2
    assert [(f, s) for f, s, _ in store.commits()] == [(0, 2)]
    with pytest.raises(NotFoundError):
        store.entry(2)


# --- group commit -----------------------------------------------------------------------------


def test_group_committer_many_threads(store: SqlLedgerStore, station_signer: Signer) -> None:
    threads_n, per_thread = 16, 200
    receipts: dict[str, Receipt] = {}
    data_of: dict[str, bytes] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def work(t: int, committer: GroupCommitter) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                subject = f"t{t}-{i}"
                data = make_entry(subject)
                receipt = committer.append(data, "note", subject)
                with lock:
                    receipts[subject], data_of[subject] = receipt, data
        except BaseException as error:
            errors.append(error)

    with GroupCommitter(store, signers=[station_signer]) as committer:
        workers = [threading.Thread(target=work, args=(t, committer)) for t in range(threads_n)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    assert errors == []
    total = threads_n * per_thread
    assert sorted(r.index for r in receipts.values()) == list(range(total))
    stored = list(store.entries())
    assert [e.index for e in stored] == list(range(total))
    for subject, receipt in receipts.items():
        assert stored[receipt.index].data == data_of[subject]
        assert receipt.leaf_hash == stored[receipt.index].leaf_hash
    leaves = store.leaf_hashes()
    assert leaves == [merkle.leaf_hash(e.data) for e in stored]
    assert store.head() == TreeHead(total, merkle.root(leaves))
    commits = list(store.commits())
    assert len(commits) < total  # grouped
    for first, size, note in commits:
        text_, _ = verify_note(note, [station_signer.public], size=size)
        expected = TreeHead(size, merkle.root(leaves[:size]))
        assert parse_commit_text(text_) == (ORIGIN, first, expected)
    some = next(iter(receipts.values()))
    _check_receipt(some, store, station_signer)


class _FailingStore:
    """Holds its first batch until released, then fails every batch."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.batches: list[int] = []

    def append_batch(self, items: Sequence[tuple[bytes, str, str]], *,
                     signers: Sequence[Signer]) -> list[Receipt]:
        self.entered.set()
        self.release.wait(timeout=10)
        self.batches.append(len(items))
        raise UnavailableError("database went away")


def test_group_committer_errors_reach_every_caller(station_signer: Signer) -> None:
    fake = _FailingStore()
    outcomes: list[BaseException | Receipt] = []
    lock = threading.Lock()

    def call(committer: GroupCommitter, i: int) -> None:
        try:
            result: BaseException | Receipt = committer.append(b"x", "note", f"s{i}")
        except BaseException as error:
            result = error
        with lock:
            outcomes.append(result)

    committer = GroupCommitter(fake, signers=[station_signer], max_batch=100, max_wait_s=0.0)
    first = threading.Thread(target=call, args=(committer, 0))
    first.start()
    assert fake.entered.wait(timeout=10)  # the writer holds the first batch
    callers = [threading.Thread(target=call, args=(committer, i)) for i in range(1, 11)]
    for c in callers:
        c.start()
    time.sleep(0.05)  # let them queue behind the held batch
    fake.release.set()
    for c in [first, *callers]:
        c.join(timeout=10)
    committer.close()
    assert len(outcomes) == 11
    assert all(isinstance(o, UnavailableError) for o in outcomes)
    assert sum(fake.batches) == 11 and len(fake.batches) < 11
    with pytest.raises(UnavailableError, match="closed"):
        committer.append(b"x", "note", "late")


# --- checkpoints and timestamps ---------------------------------------------------------------


def test_publish_checkpoint(store: SqlLedgerStore, station_signer: Signer,
                            log_signer: Signer) -> None:
    assert publish_checkpoint(store, origin=ORIGIN, signers=[log_signer], now=AT) is None
    store.append_batch(make_items(5), signers=[station_signer])
    cp = publish_checkpoint(store, origin=ORIGIN, signers=[log_signer], now=AT)
    assert cp is not None and cp.head == store.head()
    assert open_checkpoint(cp.note, origin=ORIGIN, keys=[log_signer.public]) == cp
    # No new entries: nothing to publish.
    assert publish_checkpoint(store, origin=ORIGIN, signers=[log_signer], now=AT) is None
    assert store.checkpoints() == [cp] and store.latest_checkpoint() == cp
    store.add_checkpoint(cp)  # idempotent for the same note

    leaves = store.leaf_hashes()
    older = sign_checkpoint(ORIGIN, TreeHead(3, merkle.root(leaves[:3])), [log_signer])
    with pytest.raises(ConflictError, match="not beyond"):
        store.add_checkpoint(older)
    store.append_batch(make_items(2, start=5), signers=[station_signer])
    forged = sign_checkpoint(ORIGIN, TreeHead(7, merkle.root(leaves)), [log_signer])
    with pytest.raises(VerificationError, match="split view"):
        store.add_checkpoint(forged)
    beyond = sign_checkpoint(ORIGIN, TreeHead(8, merkle.root(leaves)), [log_signer])
    with pytest.raises(ConflictError, match="smaller"):
        store.add_checkpoint(beyond)
    between = sign_checkpoint(ORIGIN, TreeHead(6, merkle.root(store.leaf_hashes(6))),
                              [log_signer])
    store.add_checkpoint(between)  # not at a commit boundary: root recomputed from the leaves
    newest = publish_checkpoint(store, origin=ORIGIN, signers=[log_signer], now=AT)
    assert newest is not None and newest.head.size == 7
    assert [c.head.size for c in store.checkpoints()] == [5, 6, 7]
    with pytest.raises(PolicyViolationError):
        publish_checkpoint(store, origin=ORIGIN, signers=[station_signer], now=AT)


def test_checkpoint_note_must_match_fields(store: SqlLedgerStore, station_signer: Signer,
                                           log_signer: Signer) -> None:
    store.append_batch(make_items(2), signers=[station_signer])
    real = sign_checkpoint(ORIGIN, store.head(), [log_signer])
    lying = type(real)(origin=ORIGIN, head=TreeHead(1, real.head.root), note=real.note)
    with pytest.raises(VerificationError):
        store.add_checkpoint(lying)
    other = sign_checkpoint(Origin("liuhen.other/ledger/v1"), store.head(), [log_signer])
    with pytest.raises(ConflictError, match="origin"):
        store.add_checkpoint(other)


def test_timestamps(store: SqlLedgerStore, station_signer: Signer, log_signer: Signer) -> None:
    store.append_batch(make_items(2), signers=[station_signer])
    cp = publish_checkpoint(store, origin=ORIGIN, signers=[log_signer], now=AT)
    assert cp is not None
    with pytest.raises(NotFoundError):
        store.add_timestamp(99, "tsa-1", b"t", AT)
    store.add_timestamp(2, "tsa-1", b"token-1", AT)
    store.add_timestamp(2, "tsa-2", b"token-2", AT)
    store.add_timestamp(2, "tsa-1", b"token-1", AT)  # idempotent
    with pytest.raises(ConflictError):
        store.add_timestamp(2, "tsa-1", b"another token", AT)
    assert store.timestamps(2) == [("tsa-1", b"token-1"), ("tsa-2", b"token-2")]
    assert store.timestamps(1) == []


def _checkpointed_size(store: SqlLedgerStore) -> int:
    latest = store.latest_checkpoint()
    return 0 if latest is None else latest.head.size


def test_checkpoint_publisher(store: SqlLedgerStore, station_signer: Signer,
                              log_signer: Signer) -> None:
    publisher = Publisher(lambda: publish_checkpoint(store, origin=ORIGIN, signers=[log_signer],
                                                     now=AT), interval_s=0.05)
    try:
        store.append_batch(make_items(3), signers=[station_signer])
        deadline = time.monotonic() + 10
        while _checkpointed_size(store) != 3:
            assert time.monotonic() < deadline, "no checkpoint published"
            time.sleep(0.01)
        store.append_batch(make_items(2, start=3), signers=[station_signer])
    finally:
        publisher.stop()  # publishes what is pending
    assert publisher.last_error is None
    latest = store.latest_checkpoint()
    assert latest is not None and latest.head == store.head() == TreeHead(5, latest.head.root)
    sizes = [c.head.size for c in store.checkpoints()]
    assert sizes == sorted(set(sizes)) and sizes[-1] == 5


def test_sqlite_open_file_path(tmp_path: Path, station_signer: Signer) -> None:
    url = sqlite_url(tmp_path / "sub dir" / "ledger.db")
    (tmp_path / "sub dir").mkdir()
    with SqlLedgerStore.open(url, origin=ORIGIN, clock=pinned_clock) as store:
        store.append_batch(make_items(1), signers=[station_signer])
    with sqlite3.connect(tmp_path / "sub dir" / "ledger.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
