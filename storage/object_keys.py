"""Wrapped data keys of objects encrypted at rest, in the ledger's database (migration 0007).

Mutable bookkeeping beside the ledger: the ``stored`` entry keeps each object's first wrapping
for good; these rows follow KEK rotations (``rewrap``). A row is written once, before the sealed
bytes are uploaded, so an interrupted upload resumes with the same data key and nonce prefix and
reproduces the same ciphertext (the stores' idempotent ``put`` then recognises it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    DateTime,
    Engine,
    LargeBinary,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from evidence.errors import ConflictError
from storage.dberrors import translate_errors
from storage.ledger_tables import LedgerBase


class ObjectKeyRow(LedgerBase):
    __tablename__ = "object_keys"

    store_url: Mapped[str] = mapped_column(Text, primary_key=True)
    object_key: Mapped[str] = mapped_column(Text, primary_key=True)
    plain_sha256: Mapped[str] = mapped_column(Text)
    plain_size: Mapped[int] = mapped_column(BigInteger)
    sealed_sha256: Mapped[str] = mapped_column(Text)
    sealed_size: Mapped[int] = mapped_column(BigInteger)
    algorithm: Mapped[str] = mapped_column(Text)
    kek_id: Mapped[str] = mapped_column(Text, index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    header: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rewrapped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


_T = cast(Table, ObjectKeyRow.__table__)
_C = _T.c


@dataclass(frozen=True, slots=True)
class ObjectKey:
    """One sealed object's key record (see ``ObjectKeyRow``)."""

    store_url: str
    object_key: str
    plain_sha256: str
    plain_size: int
    sealed_sha256: str
    sealed_size: int
    algorithm: str
    kek_id: str
    wrapped_key: bytes
    header: bytes


_FIELDS = ("store_url", "object_key", "plain_sha256", "plain_size", "sealed_sha256",
           "sealed_size", "algorithm", "kek_id", "wrapped_key", "header")


class SqlObjectKeys:
    """``object_keys`` on ``engine``; ``clock`` stamps created/rewrapped times."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    def get(self, store_url: str, object_key: str) -> ObjectKey | None:
        with translate_errors("read object keys"), self._engine.connect() as conn:
            row = conn.execute(select(*(_C[f] for f in _FIELDS)).where(
                (_C.store_url == store_url) & (_C.object_key == object_key))).first()
        return None if row is None else ObjectKey(**row._mapping)

    def add(self, record: ObjectKey) -> ObjectKey:
        """Insert ``record`` once; if a concurrent writer inserted the key first, its record
        is returned when it is for the same plaintext (ConflictError otherwise)."""
        values = {f: getattr(record, f) for f in _FIELDS}
        try:
            with translate_errors("record a wrapped data key"), self._engine.begin() as conn:
                conn.execute(insert(_T).values(**values, created_at=self._clock()))
        except ConflictError:
            pass  # the primary key is taken: judged below
        stored = self.get(record.store_url, record.object_key)
        if stored is None or stored.plain_sha256 != record.plain_sha256:
            raise ConflictError(f"{record.store_url} {record.object_key}: another plaintext's "
                                "key is recorded")
        return stored

    def all(self) -> Iterator[ObjectKey]:
        with translate_errors("read object keys"), self._engine.connect() as conn:
            rows = conn.execute(select(*(_C[f] for f in _FIELDS))
                                .order_by(_C.store_url, _C.object_key)).all()
        for row in rows:
            yield ObjectKey(**row._mapping)

    def rewrap(self, store_url: str, object_key: str, *, old_kek_id: str, kek_id: str,
               wrapped_key: bytes) -> None:
        """Replace an object's wrapping (only if it is still wrapped by ``old_kek_id``)."""
        with translate_errors("re-wrap a data key"), self._engine.begin() as conn:
            done = conn.execute(update(_T).where(
                (_C.store_url == store_url) & (_C.object_key == object_key)
                & (_C.kek_id == old_kek_id)).values(
                kek_id=kek_id, wrapped_key=wrapped_key,
                rewrapped_at=self._clock()))
        if done.rowcount != 1:
            raise ConflictError(f"{object_key}: its key was re-wrapped concurrently")
