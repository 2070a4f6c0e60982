"""Recording events in the ledger: the one way every use case writes an entry."""

from __future__ import annotations

from evidence.bodies import EntryBody
from evidence.ids import StationId
from evidence.records import Entry, Receipt
from integrity.entry import encode_entry
from ledger.ports import CheckpointSource, Clock, LedgerAppender


class LedgerWriter:
    """Builds v1 entries (time from the injected clock, ``prev_checkpoint`` = the latest published
    checkpoint) and appends them. ``append`` returns once the entry is durable."""

    def __init__(self, *, appender: LedgerAppender, checkpoints: CheckpointSource,
                 station: StationId, clock: Clock) -> None:
        self._appender = appender
        self._checkpoints = checkpoints
        self._station = station
        self._clock = clock

    def append(self, body: EntryBody, *, subject: str, actor: str) -> Receipt:
        """Append an entry of ``body.kind`` carrying ``body.to_body()`` (evidence/bodies)."""
        latest = self._checkpoints.latest_checkpoint()
        entry = Entry(kind=body.kind, subject=subject, body=body.to_body(),
                      station=self._station, actor=actor, at=self._clock(),
                      prev_checkpoint=None if latest is None else latest.head)
        return self._appender.append(encode_entry(entry), body.kind.value, subject)
