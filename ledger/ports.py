"""The interfaces the ledger service owns (STYLE.md §2): storage/ satisfies them (the SQL ledger
store, the group committer, the TSA client) and only api/'s composition root names the
concrete classes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from evidence.ids import Sha256Hex
from evidence.records import (
    Checkpoint,
    LedgerEntry,
    PublicKey,
    Receipt,
    StationCheckpointRow,
    StationRecord,
    StoredObject,
    TreeHead,
)
from integrity.merkle import TreeHash
from integrity.notes import Signer

# ``Signer`` (defined in integrity/notes.py, where notes are signed, and re-exported here as the
# ledger's port): one private key, Ed25519 or SM2, known by its ``public`` key, with
# ``sign(message) -> signature``. Software keys in 0600 files (storage/keyfiles.py) by default;
# a certified 服务器密码机 (GM/T 0018 SDF) plugs in here (docs/guomi-keys.md).

__all__ = ["AnchorStore", "CheckpointSource", "CheckpointStore", "Clock", "LedgerAppender",
           "LedgerReader", "Signer", "StationCheckpointRow", "StationRecord",
           "StationRegistry", "TileReader", "TileStore", "TimestampAuthority"]

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



class TileReader(Protocol):
    """The C2SP tlog-tiles objects of a log (docs/ledger-format.md §Tiles), by their path under
    the log's prefix: ``checkpoint``, ``tile/0/x001/067``, ``tile/entries/000.p/5``. A local
    directory, an S3 bucket or an HTTP(S) URL (storage/tilestore.py)."""

    def read(self, path: str) -> bytes:
        """The object's bytes; NotFoundError when there is none, UnavailableError to retry."""
        ...


class TileStore(TileReader, Protocol):
    """Where the publisher writes tiles. Tiles and entry bundles are immutable: ``write_once``
    stores ``data`` under ``path`` for good (Object Lock on S3, a read-only file locally), is a
    no-op when the same bytes are there already, and raises ConflictError when other bytes
    are. The checkpoint is the one mutable object; ``write_checkpoint`` replaces it only after
    every tile it needs is durable (the caller's order)."""

    def write_once(self, path: str, data: bytes) -> None: ...

    def write_checkpoint(self, note: bytes) -> None: ...


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


class KeyService(Protocol):
    """Key-encryption keys for encryption at rest (docs/adr/0010-sm4-envelope.md): wraps the
    per-object SM4 data keys. The default is key files (storage/kekfile.py); a certified
    服务器密码机 (GM/T 0018 SDF: ``SDF_Encrypt``/``SDF_Decrypt`` under a KEK index it holds) or
    a KMS satisfies the same four methods, chosen in api/compose.py. The KEK never leaves it.

    ``context`` is bound into each wrapping (the object's key): a wrapped key moved to another
    object does not unwrap. ``unwrap`` raises VerificationError for a wrapping that does not
    authenticate, NotFoundError for an unknown KEK id. ``rotate`` makes a new KEK current and
    keeps the earlier ones for unwrapping (they are retired, never destroyed: the ledger's
    ``stored`` entries hold data keys wrapped by them)."""

    def current_kek_id(self) -> str: ...

    def wrap(self, data_key: bytes, *, context: bytes) -> tuple[str, bytes]: ...

    def unwrap(self, kek_id: str, wrapped: bytes, *, context: bytes) -> bytes: ...

    def rotate(self) -> str: ...


class WrappedKey(Protocol):
    @property
    def store_url(self) -> str: ...

    @property
    def object_key(self) -> str: ...

    @property
    def kek_id(self) -> str: ...

    @property
    def wrapped_key(self) -> bytes: ...


class WrappedKeys(Protocol):
    """The database's wrapped data keys (storage/object_keys.py)."""

    def all(self) -> Iterator[WrappedKey]: ...

    def rewrap(self, store_url: str, object_key: str, *, old_kek_id: str, kek_id: str,
               wrapped_key: bytes) -> None:
        """Replace an object's wrapping; ConflictError if it is no longer ``old_kek_id``'s."""
        ...



class StationRegistry(Protocol):
    """A bureau's stations and the station logs it accepted (storage/stations.py)."""

    def register(self, station_id: str, *, origin: str, keys: Sequence[PublicKey],
                 now: datetime) -> StationRecord:
        """A new ``pending`` station; the same registration again returns the existing record;
        ConflictError when the id or the origin is taken by other keys."""
        ...

    def get(self, station_id: str) -> StationRecord:
        """NotFoundError for an id never registered."""
        ...

    def all(self) -> list[StationRecord]: ...

    def decide(self, station_id: str, *, status: str, by: str, now: datetime) -> None: ...

    def flag(self, station_id: str, reason: str) -> None: ...

    def leaf_hashes(self, station_id: str) -> tuple[list[bytes], list[bytes]]:
        """The SHA-256 and SM3 leaf hashes of the entries held, in order."""
        ...

    def entries(self, station_id: str, start: int = 0,
                end: int | None = None) -> Iterator[tuple[int, bytes]]: ...

    def accept(self, station_id: str, *, start: int,
               rows: Sequence[tuple[bytes, bytes, bytes]], note: bytes, size: int,
               frontier: bytes, sm3_frontier: bytes, now: datetime) -> None:
        """Store entries ``start…`` (data, SHA-256 leaf, SM3 leaf), the checkpoint at ``size``
        and both trees' frontiers at ``size`` in one transaction; ConflictError when another
        push got there first."""
        ...

    def checkpoints(self, station_id: str) -> list[StationCheckpointRow]: ...

    def set_bureau_index(self, station_id: str, size: int, index: int) -> None: ...

    def received_object(self, station_id: str, index: int) -> bool: ...

    def add_object(self, station_id: str, index: int, obj: StoredObject, *,
                   now: datetime) -> None: ...


class ObjectSink(Protocol):
    """Where a bureau keeps the objects stations push: its object store *underneath* the sealing
    layer (the bytes are already sealed by the station; storage/localstore.py, s3store.py)."""

    def put(self, key: str, source: Path, *, sha256: Sha256Hex, size: int,
            retain_until: datetime) -> StoredObject: ...

    def verify(self, obj: StoredObject, *, rehash: bool = False) -> StoredObject: ...

