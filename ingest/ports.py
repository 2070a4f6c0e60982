"""The small interfaces the use cases own (STYLE.md §2); storage/ and devices/ satisfy them and
only api/'s composition root names the concrete classes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from evidence.records import Checkpoint, Receipt, TreeHead

Clock = Callable[[], datetime]
"""Returns the current UTC time, timezone-aware."""


class LedgerAppender(Protocol):
    """Appends entry bytes durably; returns when the entry is committed (group-committed)."""

    def append(self, data: bytes, kind: str, subject: str) -> Receipt: ...


class CheckpointSource(Protocol):
    def latest_checkpoint(self) -> Checkpoint | None: ...


class AnchorStore(CheckpointSource, Protocol):
    def head(self) -> TreeHead: ...

    def add_timestamp(self, size: int, tsa: str, token: bytes, obtained_at: datetime) -> None: ...

    def timestamps(self, size: int) -> list[tuple[str, bytes]]: ...


class TimestampAuthority(Protocol):
    """An RFC 3161 TSA: returns the raw response bytes over ``message`` (kept verbatim)."""

    name: str

    def timestamp(self, message: bytes) -> bytes: ...
