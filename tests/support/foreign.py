"""Entries as an older or foreign version of liuhen wrote them: any body, past every typed body
(evidence/bodies) and every edge check, appended to a real ledger as its writer would."""

from __future__ import annotations

from datetime import UTC, datetime

from api.compose import Ledger
from evidence.ids import StationId
from evidence.records import Entry, EntryKind
from integrity.entry import encode_entry

FOREIGN_AT = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def append_foreign(ledger: Ledger, kind: EntryKind, subject: str, body: dict[str, object], *,
                   actor: str, at: datetime = FOREIGN_AT) -> int:
    """Append an entry of ``kind`` carrying ``body`` verbatim; returns its ledger index."""
    latest = ledger.store.latest_checkpoint()
    entry = Entry(kind=kind, subject=subject, body=body,
                  station=StationId(ledger.settings.station_id), actor=actor, at=at,
                  prev_checkpoint=None if latest is None else latest.head)
    return ledger.committer.append(encode_entry(entry), kind.value, subject).index
