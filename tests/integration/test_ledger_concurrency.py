"""Many appender *processes* on one ledger: the writer lock (PostgreSQL advisory lock, SQLite
BEGIN IMMEDIATE) must give one contiguous, gap-free tree whose every commit statement verifies.

Each process opens its own SqlLedgerStore against the fresh database at the same moment (so
migrations and origin recording race too), then, all together again, appends its entries,
subject ``p<pid>-<seq>``: even-numbered processes through a GroupCommitter fed by several
threads, odd-numbered ones with their own small ``append_batch`` calls of random size.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import random
import threading
import traceback
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from evidence.ids import Origin
from evidence.records import PublicKey, TreeHead
from integrity import merkle
from integrity.entry import decode_entry
from integrity.notes import Ed25519Signer, parse_commit_text, verify_note
from storage.group_commit import GroupCommitter
from storage.ledger_store import SqlLedgerStore
from tests.integration.conftest import ORIGIN, make_entry, pinned_clock, sqlite_url

THREADS_PER_GROUP_PROCESS = 8
MAX_SMALL_BATCH = 40
RESULT_TIMEOUT_S = 120  # a hung worker fails the test instead of hanging it

Result = tuple[int, list[int] | None, str | None]


@dataclass(frozen=True)
class _Job:
    """What one appender process is told (pickled to the spawned child)."""

    url: str
    origin: Origin
    key_name: str
    private_raw: bytes
    pid: int
    count: int


def _appender(job: _Job, start: Barrier, results: mp.Queue[Result]) -> None:
    """Runs in a spawned process: append ``job.count`` entries, report seq → index."""
    pid, count = job.pid, job.count
    try:
        signer = Ed25519Signer(job.key_name, Ed25519PrivateKey.from_private_bytes(job.private_raw),
                        role="station")
        start.wait(timeout=60)  # everyone opens the fresh database at once: migrations race
        # the waits, not their length, are under test: a loaded CI machine may take a while to
        # migrate a fresh SQLite file while three others queue for it
        store = SqlLedgerStore.open(job.url, origin=job.origin, clock=pinned_clock,
                                    busy_timeout_s=180.0)
        start.wait(timeout=240)  # and appends at once
        indices = [-1] * count
        items = [(make_entry(f"p{pid}-{seq}", body={"pid": pid, "seq": seq}), "note",
                  f"p{pid}-{seq}") for seq in range(count)]
        if pid % 2 == 0:
            with GroupCommitter(store, signers=[signer]) as committer:
                def work(lane: int) -> None:
                    for seq in range(lane, count, THREADS_PER_GROUP_PROCESS):
                        indices[seq] = committer.append(*items[seq]).index

                lanes = [threading.Thread(target=work, args=(lane,))
                         for lane in range(THREADS_PER_GROUP_PROCESS)]
                for lane in lanes:
                    lane.start()
                for lane in lanes:
                    lane.join()
        else:
            rng = random.Random(pid)  # noqa: S311 - batch sizes, not secrets
            seq = 0
            while seq < count:
                n = min(rng.randint(1, MAX_SMALL_BATCH), count - seq)
                for offset, receipt in enumerate(store.append_batch(items[seq:seq + n],
                                                                    signers=[signer])):
                    indices[seq + offset] = receipt.index
                seq += n
        store.close()
        results.put((pid, indices, None))
    except BaseException:
        results.put((pid, None, traceback.format_exc()))


def _run_appenders(url: str, processes: int, per_process: int) -> tuple[list[PublicKey],
                                                                          dict[int, list[int]]]:
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(processes)
    results: mp.Queue[Result] = ctx.Queue()
    keys = [Ed25519PrivateKey.generate() for _ in range(processes)]
    signers = [Ed25519Signer(f"station-{pid:02d}", key, role="station")
               for pid, key in enumerate(keys)]
    workers = []
    for pid, (signer, key) in enumerate(zip(signers, keys, strict=True)):
        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        job = _Job(url=url, origin=ORIGIN, key_name=signer.public.name, private_raw=raw, pid=pid,
                   count=per_process)
        workers.append(ctx.Process(target=_appender, args=(job, start, results)))
    for w in workers:
        w.start()
    indices: dict[int, list[int]] = {}
    failures: list[str] = []
    try:
        for _ in workers:
            pid, got, failure = results.get(timeout=RESULT_TIMEOUT_S)
            if failure is not None:
                failures.append(f"process {pid}:\n{failure}")
            else:
                assert got is not None
                indices[pid] = got
    except queue.Empty:
        failures.append("a worker did not report in time")
    finally:
        for w in workers:
            w.join(timeout=10)
            if w.is_alive():
                w.kill()
    assert not failures, "\n".join(failures)
    return [s.public for s in signers], indices


def _verify_ledger(url: str, keys: list[PublicKey], indices: dict[int, list[int]],
                   processes: int, per_process: int) -> None:
    total = processes * per_process
    with SqlLedgerStore.open(url, origin=ORIGIN, clock=pinned_clock) as store:
        entries = list(store.entries())
        commits = list(store.commits())
        head = store.head()
    # Exactly `total` entries at 0..total-1, each leaf hash the hash of its verbatim bytes.
    assert [e.index for e in entries] == list(range(total))
    assert all(e.leaf_hash == merkle.leaf_hash(e.data) for e in entries)
    # Every process's entries present exactly once, where its receipts said.
    seen: dict[tuple[int, int], int] = {}
    for e in entries:
        body = decode_entry(e.data).body
        pid, seq = body["pid"], body["seq"]
        assert isinstance(pid, int) and isinstance(seq, int)
        assert (pid, seq) not in seen, f"duplicate entry {(pid, seq)}"
        seen[(pid, seq)] = e.index
    assert set(seen) == {(p, s) for p in range(processes) for s in range(per_process)}
    for pid, got in indices.items():
        assert got == [seen[(pid, seq)] for seq in range(per_process)]
    # Commits tile [0, total) and each statement verifies and names the right root.
    tree = merkle.TreeBuilder()
    expected_first = 0
    for first, size, note in commits:
        assert first == expected_first
        text, _ = verify_note(note, keys, size=size)
        for e in entries[first:size]:
            tree.append(e.leaf_hash)
        assert parse_commit_text(text) == (ORIGIN, first, TreeHead(size, tree.root()))
        expected_first = size
    assert expected_first == total
    assert head == TreeHead(total, merkle.root([e.leaf_hash for e in entries]))


@pytest.mark.postgres
@pytest.mark.slow
def test_postgresql_eight_appender_processes(pg_url: str) -> None:
    keys, indices = _run_appenders(pg_url, processes=8, per_process=1_000)
    _verify_ledger(pg_url, keys, indices, processes=8, per_process=1_000)


@pytest.mark.slow
def test_sqlite_four_appender_processes(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "ledger.db")
    keys, indices = _run_appenders(url, processes=4, per_process=1_000)
    _verify_ledger(url, keys, indices, processes=4, per_process=1_000)

