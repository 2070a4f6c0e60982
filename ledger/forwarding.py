"""Store-and-forward of a station's log to its bureau (DESIGN.md §4 "Stations and the bureau";
docs/station.md §Sync).

A sync asks the bureau how much of this station's log it holds (its last receipt), then pushes,
in order, the entries from there up to one of the station's own signed checkpoints, with that
checkpoint; the bureau verifies and answers with the size it now holds, and the next push starts
there. A push interrupted anywhere (either side killed, the link lost) is simply pushed again:
the bureau keeps nothing of a push it did not verify whole, and acknowledges again what it
already holds, so nothing is lost or duplicated. Docking never waits for this: it runs beside
the station, from its local ledger.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from evidence.bodies import StoredBody
from evidence.errors import VerificationError
from evidence.records import EntryKind, ObjectReceipt
from integrity.entry import decode_entry
from integrity.hashing import new_sm3
from ledger.ports import LedgerReader


class BureauPort(Protocol):
    """The bureau's station API (storage/bureau_client.py over HTTP)."""

    def acknowledged(self, station_id: str) -> int:
        """The size of the station's log the bureau holds."""
        ...

    def push(self, station_id: str, *, start: int, entries: Sequence[bytes],
             note: bytes) -> int:
        """Push entries ``start…`` and the checkpoint over them; the bureau's receipt (the size
        it now holds)."""
        ...

    def put_object(self, station_id: str, index: int, stream: BinaryIO) -> ObjectReceipt:
        """Upload the stored bytes of ``stored`` entry ``index``; the bureau's receipt (size
        and both digests of what it holds)."""
        ...


@dataclass(frozen=True, slots=True)
class SyncResult:
    pushes: int
    entries: int
    acknowledged: int
    """The size of this station's log the bureau holds after the sync."""
    objects: int = 0
    """Objects uploaded and receipted in this sync."""
    released: int = 0
    """Local copies released on the bureau's receipts in this sync (ledger/copyrelease.py)."""


class Throttle:
    """The bandwidth cap: after sending ``n`` bytes, waits so that the average stays within
    ``bytes_per_s`` (None: no cap). ``sleep`` is injected (tests, the daemon's stop event)."""

    def __init__(self, bytes_per_s: int | None, *, sleep: Callable[[float], None]) -> None:
        self._rate = bytes_per_s
        self._sleep = sleep

    def sent(self, n: int) -> None:
        if self._rate:
            self._sleep(n / self._rate)


def forward(reader: LedgerReader, bureau: BureauPort, *, station_id: str,
            throttle: Throttle, max_batch: int = 2000,
            on_receipt: Callable[[int], None] = lambda _size: None) -> SyncResult:
    """Push everything the bureau does not hold yet that a station checkpoint covers (module
    docstring). Each push goes up to the largest checkpoint within ``max_batch`` entries of
    the acknowledged size (or the next checkpoint when none is). ``on_receipt`` is called with
    each acknowledged size (the station marks entries below it releasable)."""
    acked = bureau.acknowledged(station_id)
    on_receipt(acked)
    pending = sorted((cp for cp in reader.checkpoints() if cp.head.size > acked),
                     key=lambda cp: cp.head.size)
    pushes = entries = 0
    latest = reader.latest_checkpoint()
    if not pending and latest is not None and latest.head.size == acked > 0:
        # Nothing new: still show the bureau our checkpoint at its size, so a station whose log
        # was rewritten or forked under the same size is caught now, not at its next entry.
        bureau.push(station_id, start=acked, entries=[], note=latest.note)
        pushes += 1
    while pending:
        within = [cp for cp in pending if cp.head.size - acked <= max_batch]
        checkpoint = within[-1] if within else pending[0]
        batch = [data for _index, data, _leaf in reader.entry_rows(acked, checkpoint.head.size)]
        size = bureau.push(station_id, start=acked, entries=batch, note=checkpoint.note)
        throttle.sent(sum(len(d) for d in batch) + len(checkpoint.note))
        pushes += 1
        entries += max(0, size - acked)
        acked = size
        on_receipt(acked)
        pending = [cp for cp in pending if cp.head.size > acked]
    return SyncResult(pushes=pushes, entries=entries, acknowledged=acked)


OpenStored = Callable[[str, StoredBody], BinaryIO]
"""(the clip's SHA-256, its ``stored`` body) → the bytes the station's store holds for it
(sealed, as stored: the bureau never needs the station's keys)."""


def forward_objects(reader: LedgerReader, bureau: BureauPort, *, station_id: str,
                    acknowledged: int, received: set[int], open_stored: OpenStored,
                    throttle: Throttle, on_receipt: Callable[[ObjectReceipt], None]) -> int:
    """Upload the object of every ``stored`` entry below ``acknowledged`` (the bureau holds the
    entry, so it can check the bytes against it) that has no receipt yet. The bytes sent are
    hashed (SHA-256, SM3, size) as they go; a receipt that names anything else is refused (step
    ``object-receipt``) and not recorded, so that copy is never released on it. ``on_receipt``
    records each matching receipt (ledger/copyrelease.py releases on them). Returns how many."""
    sent = 0
    for index, data, _leaf in reader.entry_rows(0, acknowledged):
        if index in received:
            continue
        entry = decode_entry(data)
        if entry.kind is not EntryKind.STORED:
            continue
        body = StoredBody.from_body(entry.body)
        with open_stored(entry.subject, body) as stream:
            sending = _Hashing(stream)
            receipt = bureau.put_object(station_id, index, sending)  # type: ignore[arg-type]
        mine = (station_id, index, sending.size, sending.sha256.hexdigest(),
                sending.sm3.hexdigest())
        theirs = (receipt.station_id, receipt.index, receipt.size, receipt.sha256, receipt.sm3)
        if theirs != mine:
            raise VerificationError(
                f"局端对第 {index} 条对象的回执与发送的字节不符：发送 {mine[2]} 字节 SHA-256 "
                f"{mine[3]}，回执 {receipt.size} 字节 {receipt.sha256} (the receipt does not "
                "match the bytes sent)", step="object-receipt", index=index)
        throttle.sent(sending.size)
        on_receipt(receipt)
        received.add(index)
        sent += 1
    return sent


class _Hashing:
    """A reader that hashes (SHA-256, SM3) and counts what is read through it."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self.sha256 = hashlib.sha256()
        self.sm3 = new_sm3()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._inner.read(n)
        self.sha256.update(data)
        self.sm3.update(data)
        self.size += len(data)
        return data
