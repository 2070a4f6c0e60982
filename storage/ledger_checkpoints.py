"""Signed checkpoints and their RFC 3161 timestamp tokens in the ledger's database (DESIGN.md §4),
on a connection that ``storage.ledger_store.SqlLedgerStore`` opened: the writes inside its writer
lock, so that a checkpoint is checked against the tree as committed when it is recorded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from evidence.errors import ConflictError, NotFoundError, VerificationError
from evidence.ids import Origin
from evidence.records import Checkpoint, TreeHead
from integrity import merkle
from integrity.notes import parse_checkpoint_text, split_note
from storage.ledger_sm3 import sm3_root_at
from storage.ledger_tables import (
    LedgerCheckpointRow,
    LedgerCommitRow,
    LedgerEntryRow,
    LedgerTimestampRow,
)

_E = LedgerEntryRow
_C = LedgerCommitRow
_K = LedgerCheckpointRow
_T = LedgerTimestampRow


def _checkpoint(origin: Origin, size: int, root: bytes, note: bytes) -> Checkpoint:
    text, _ = split_note(bytes(note))
    sm3 = parse_checkpoint_text(text)[2]  # the SM3 tree's head, from the signed note itself
    return Checkpoint(origin=origin, head=TreeHead(size=size, root=bytes(root)), note=bytes(note),
                      sm3=sm3)


def read_checkpoints(conn: Connection, origin: Origin) -> list[Checkpoint]:
    rows = conn.execute(select(_K.size, _K.root, _K.note).order_by(_K.size)).all()
    return [_checkpoint(origin, r.size, r.root, r.note) for r in rows]


def read_latest_checkpoint(conn: Connection, origin: Origin) -> Checkpoint | None:
    row = conn.execute(select(_K.size, _K.root, _K.note)
                       .order_by(_K.size.desc()).limit(1)).first()
    return None if row is None else _checkpoint(origin, row.size, row.root, row.note)


def _root_at(conn: Connection, size: int) -> bytes | None:
    """The root of the committed tree of ``size``, None when the ledger is smaller.
    Resumes from the nearest commit at or below ``size``: O(entries since that commit)."""
    top = conn.execute(select(func.max(_C.size))).scalar()
    if size > (top or 0):
        return None
    base = conn.execute(select(_C.size, _C.root, _C.frontier).where(_C.size <= size)
                        .order_by(_C.size.desc()).limit(1)).first()
    if base is not None and base.size == size:
        return bytes(base.root)
    tree = (merkle.TreeBuilder() if base is None
            else merkle.TreeBuilder.from_frontier(base.size, bytes(base.frontier)))
    for leaf in conn.execute(select(_E.leaf_hash).where(_E.idx >= tree.size, _E.idx < size)
                             .order_by(_E.idx)).scalars():
        tree.append(bytes(leaf))
    if tree.size != size:
        raise VerificationError("ledger row is missing", step="ledger", index=tree.size)
    return tree.root()


def record_checkpoint(conn: Connection, cp: Checkpoint, *, published_at: datetime) -> None:
    """``SqlLedgerStore.add_checkpoint`` inside its write transaction, once the note's body is
    known to match ``cp``."""
    size = cp.head.size
    same = conn.execute(select(_K.note).where(_K.size == size)).scalar()
    if same is not None:
        if bytes(same) == cp.note:
            return
        raise ConflictError(f"a different checkpoint for size {size} is recorded")
    latest = conn.execute(select(func.max(_K.size))).scalar()
    if latest is not None and size <= latest:
        raise ConflictError(f"checkpoint size {size} is not beyond the latest ({latest})")
    root = _root_at(conn, size)
    if root is None:
        raise ConflictError(f"checkpoint for size {size}: the ledger is smaller")
    if root != cp.head.root:
        raise VerificationError("checkpoint root differs from the ledger's root: split "
                                "view", step="checkpoint", index=size)
    if cp.sm3 is not None and cp.sm3.root != sm3_root_at(conn, size):
        raise VerificationError("checkpoint's SM3 root differs from the ledger's SM3 tree: "
                                "split view", step="checkpoint-sm3", index=size)
    conn.execute(insert(_K).values(size=size, root=cp.head.root, note=cp.note,
                                   published_at=published_at))


def record_timestamp(conn: Connection, size: int, tsa_name: str, token: bytes,
                     obtained_at: datetime) -> None:
    """``SqlLedgerStore.add_timestamp`` inside its write transaction."""
    if conn.execute(select(_K.size).where(_K.size == size)).first() is None:
        raise NotFoundError(f"no checkpoint of size {size} to timestamp")
    same = conn.execute(select(_T.token).where(_T.checkpoint_size == size,
                                               _T.tsa == tsa_name)).scalar()
    if same is not None:
        if bytes(same) == token:
            return
        raise ConflictError(f"{tsa_name} already timestamped checkpoint {size}")
    conn.execute(insert(_T).values(checkpoint_size=size, tsa=tsa_name, token=token,
                                   obtained_at=obtained_at))


def read_timestamps(conn: Connection, size: int) -> list[tuple[str, bytes]]:
    rows = conn.execute(select(_T.tsa, _T.token).where(_T.checkpoint_size == size)
                        .order_by(_T.id)).all()
    return [(r.tsa, bytes(r.token)) for r in rows]


__all__ = [
    "read_checkpoints",
    "read_latest_checkpoint",
    "read_timestamps",
    "record_checkpoint",
    "record_timestamp",
]
