"""The station's release of local copies on the bureau's receipt (docs/station.md §Sync;
docs/adr/0014-two-level-log.md).

A station keeps a 1:1 local copy of every original until the bureau holds it. A copy is
released only when all of this holds, checked here at release time and not only when the
receipt arrived:

1. the station's ``stored`` entry ``index`` is one the station wrote (a ``stored`` entry);
2. the bureau's receipt for ``index`` names exactly the bytes that entry records — size and
   SHA-256 of the stored bytes (``sealed_size``/``sealed_sha256`` when sealed), and the SM3
   the entry records when the object is not sealed (the receipt's SM3 was already checked
   against the bytes sent, ledger/forwarding.py);
3. ``keep`` (the station's setting, ``LIUHEN_SYNC_KEEP_DAYS``) has passed since the receipt
   arrived, on the injected clock;
4. no legal hold is on the local copy.

Then, in this order, so that a crash never leaves a copy gone without a record: a
``copy_released`` entry in the station's own log, then the copy removed from the station's
store. A release found in the log is not ledgered again; the store's removal is idempotent.
Nothing is released without a receipt, and a receipt for other bytes releases nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from evidence.bodies import CopyReleasedBody, StoredBody
from evidence.records import EntryKind, ReceivedCopy, StoredObject
from integrity.entry import decode_entry
from ledger.appending import LedgerWriter
from ledger.ports import Clock, LedgerReader

log = logging.getLogger("liuhen.ledger.copyrelease")


class LocalCopies(Protocol):
    """The station's store, as far as releasing goes (storage/localstore.py ``release``)."""

    def release(self, obj: StoredObject, *, reason: str) -> None:
        """Remove the object's bytes (idempotent: an object already released is no error)."""
        ...

    def legal_hold(self, obj: StoredObject) -> bool:
        """Whether a legal hold is on (such a copy is kept)."""
        ...


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    released: int
    """Copies released in this pass."""
    waiting: int
    """Copies with a matching receipt still inside their keep period, or under a legal hold."""
    refused: int
    """Receipts that do not match their entry (nothing released on them)."""


def release_copies(reader: LedgerReader, writer: LedgerWriter, copies: LocalCopies, *,
                   receipts: Mapping[int, ReceivedCopy], keep: timedelta, clock: Clock,
                   actor: str = "station:retention") -> ReleaseResult:
    """Release every local copy whose bureau receipt matches its ``stored`` entry and is older
    than ``keep`` (module docstring, steps 1–4)."""
    now = clock()
    released = waiting = refused = 0
    for index, held in sorted(receipts.items()):
        entry = decode_entry(reader.entry(index).data)
        if entry.kind is not EntryKind.STORED:  # (1)
            log.error("receipt for entry %d, which is no stored entry: nothing released", index)
            refused += 1
            continue
        body = StoredBody.from_body(entry.body)
        sealed = body.sealed_sha256 is not None
        want = (body.sealed_size if sealed and body.sealed_size is not None else body.size,
                body.sealed_sha256 if sealed else entry.subject)
        got = (held.receipt.size, held.receipt.sha256)
        if got != want or (not sealed and body.sm3 is not None
                           and held.receipt.sm3 != body.sm3):  # (2)
            log.error("receipt for entry %d names %s, the entry %s: nothing released", index,
                      got, want)
            refused += 1
            continue
        if now < held.received_at + keep:  # (3)
            waiting += 1
            continue
        obj = StoredObject(store=body.store, key=body.key, version_id=body.version_id,
                           size=want[0], sha256=want[1],  # type: ignore[arg-type]
                           lock_mode=body.lock_mode, retain_until=body.retain_until)
        ledgered = _ledgered(reader, entry.subject, index)
        if not ledgered and copies.legal_hold(obj):  # (4)
            waiting += 1
            continue
        if not ledgered:
            writer.append(CopyReleasedBody(
                index=index, store=body.store, key=body.key, version_id=body.version_id,
                size=want[0], sha256=want[1], sm3=held.receipt.sm3,
                received_at=held.received_at, keep_days=keep.days), subject=entry.subject,
                actor=actor)
            released += 1
        copies.release(obj, reason=f"bureau receipt for station entry {index}")
    return ReleaseResult(released=released, waiting=waiting, refused=refused)


def _ledgered(reader: LedgerReader, subject: str, index: int) -> bool:
    for found in reader.find(subject):
        entry = decode_entry(found.data)
        if entry.kind is EntryKind.COPY_RELEASED and entry.body.get("index") == index:
            return True
    return False
