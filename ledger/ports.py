"""The interfaces the ledger service owns (STYLE.md §2): storage/ satisfies them (the SQL ledger
store, the group committer, the TSA client) and only api/'s composition root names the
concrete classes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Protocol

from evidence.records import Checkpoint, LedgerEntry, Receipt, TreeHead
from integrity.merkle import TreeHash
from integrity.notes import Signer

# ``Signer`` (defined in integrity/notes.py, where notes are signed, and re-exported here as the
# ledger's port): one private key, Ed25519 or SM2, known by its ``public`` key, with
# ``sign(message) -> signature``. Software keys in 0600 files (storage/keyfiles.py) by default;
# a certified 服务器密码机 (GM/T 0018 SDF) plugs in here (docs/guomi-keys.md).

__all__ = ["AnchorStore", "CheckpointSource", "CheckpointStore", "Clock", "LedgerAppender",
           "LedgerReader", "Signer", "TimestampAuthority"]

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



class CheckpointStore(Protocol):
    """What publishing needs from a ledger store (``SqlLedgerStore`` satisfies it)."""

    def head(self) -> TreeHead: ...

    def sm3_head(self, size: int) -> TreeHead:
        """The SM3 tree's head at ``size`` (国密 layer): the checkpoint's ``sm3`` line."""
        ...

    def latest_checkpoint(self) -> Checkpoint | None: ...

    def add_checkpoint(self, cp: Checkpoint, *, published_at: datetime | None = None) -> None: ...


class LedgerReader(CheckpointSource, Protocol):
    """The read side of a ledger store that proofs, bundles and the audit need."""

    def entry(self, index: int) -> LedgerEntry: ...

    def find(self, subject: str) -> list[LedgerEntry]: ...

    def checkpoints(self) -> list[Checkpoint]: ...

    def inclusion_proof(self, index: int, size: int, *,
                        tree_hash: TreeHash = ...) -> list[bytes]: ...

    def consistency_proof(self, old: int, new: int) -> list[bytes]: ...

    def timestamps(self, size: int) -> list[tuple[str, bytes]]: ...

    def entry_rows(self, start: int = 0,
                   end: int | None = None) -> Iterator[tuple[int, bytes, bytes]]: ...

    def commits(self) -> Iterator[tuple[int, int, bytes]]: ...
