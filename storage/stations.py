"""A bureau's stations and their logs in the ledger's database (storage/station_tables.py),
satisfying ``ledger.ports.StationRegistry``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import Engine, func, insert, select, update

from evidence.errors import ConflictError, NotFoundError
from evidence.records import PublicKey, StationCheckpointRow, StationRecord, StoredObject
from integrity.notes import parse_vkey, vkey
from storage.dberrors import translate_errors
from storage.station_tables import (
    STATION_CHECKPOINTS,
    STATION_ENTRIES,
    STATION_OBJECTS,
    STATIONS,
)

_S = STATIONS.c
_E = STATION_ENTRIES.c
_C = STATION_CHECKPOINTS.c
_O = STATION_OBJECTS.c


def _keys_json(keys: Sequence[PublicKey]) -> str:
    return json.dumps([{"vkey": vkey(k), "role": k.role, "valid_from": k.valid_from,
                        "valid_until": k.valid_until} for k in keys], ensure_ascii=False)


def _keys(text: str) -> tuple[PublicKey, ...]:
    return tuple(parse_vkey(item["vkey"], role=item["role"], valid_from=int(item["valid_from"]),
                            valid_until=item["valid_until"]) for item in json.loads(text))


class SqlStationRegistry:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def register(self, station_id: str, *, origin: str, keys: Sequence[PublicKey],
                 now: datetime) -> StationRecord:
        document = _keys_json(keys)
        with translate_errors("register a station"), self._engine.begin() as conn:
            row = conn.execute(select(_S.keys_json, _S.origin)
                               .where(_S.station_id == station_id)).first()
            if row is not None:
                if row.keys_json != document or row.origin != origin:
                    raise ConflictError(f"站点编号 {station_id} 已被另一组密钥登记 "
                                        "(station id taken by other keys)")
            else:
                taken = conn.execute(select(_S.station_id).where(_S.origin == origin)).first()
                if taken is not None:
                    raise ConflictError(f"origin {origin} 已属于站点 {taken.station_id}")
                conn.execute(insert(STATIONS).values(
                    station_id=station_id, origin=origin, keys_json=document, status="pending",
                    registered_at=now, decided_at=None, decided_by=None, flagged=None,
                    frontier=b"", sm3_frontier=b""))
        return self.get(station_id)

    def get(self, station_id: str) -> StationRecord:
        with translate_errors("read a station"), self._engine.connect() as conn:
            row = conn.execute(select(STATIONS).where(_S.station_id == station_id)).first()
            if row is None:
                raise NotFoundError(f"没有站点 {station_id!r} (no such station)")
            size = conn.execute(select(func.count()).select_from(STATION_ENTRIES)
                                .where(_E.station_id == station_id)).scalar_one()
        return StationRecord(station_id=row.station_id, origin=row.origin,
                             keys=_keys(row.keys_json), status=row.status, size=int(size),
                             flagged=row.flagged, frontier=bytes(row.frontier),
                             sm3_frontier=bytes(row.sm3_frontier))

    def all(self) -> list[StationRecord]:
        with translate_errors("list stations"), self._engine.connect() as conn:
            ids = conn.execute(select(_S.station_id).order_by(_S.station_id)).scalars().all()
        return [self.get(i) for i in ids]

    def decide(self, station_id: str, *, status: str, by: str, now: datetime) -> None:
        with translate_errors("decide on a station"), self._engine.begin() as conn:
            conn.execute(update(STATIONS).where(_S.station_id == station_id)
                         .values(status=status, decided_by=by, decided_at=now))

    def flag(self, station_id: str, reason: str) -> None:
        with translate_errors("flag a station"), self._engine.begin() as conn:
            conn.execute(update(STATIONS).where(_S.station_id == station_id)
                         .values(flagged=reason))

    def leaf_hashes(self, station_id: str) -> tuple[list[bytes], list[bytes]]:
        with translate_errors("read a station log"), self._engine.connect() as conn:
            rows = conn.execute(select(_E.leaf_hash, _E.sm3_leaf_hash)
                                .where(_E.station_id == station_id).order_by(_E.idx)).all()
        return [bytes(r.leaf_hash) for r in rows], [bytes(r.sm3_leaf_hash) for r in rows]

    def entries(self, station_id: str, start: int = 0,
                end: int | None = None) -> Iterator[tuple[int, bytes]]:
        query = select(_E.idx, _E.data).where(_E.station_id == station_id, _E.idx >= start)
        if end is not None:
            query = query.where(_E.idx < end)
        with translate_errors("read a station log"), self._engine.connect() as conn:
            rows = conn.execute(query.order_by(_E.idx)).all()
        return iter([(int(r.idx), bytes(r.data)) for r in rows])

    def accept(self, station_id: str, *, start: int,
               rows: Sequence[tuple[bytes, bytes, bytes]], note: bytes, size: int,
               frontier: bytes, sm3_frontier: bytes, now: datetime) -> None:
        with translate_errors("accept a station push"), self._engine.begin() as conn:
            conn.execute(update(STATIONS).where(_S.station_id == station_id)
                         .values(frontier=frontier, sm3_frontier=sm3_frontier))
            if rows:
                conn.execute(insert(STATION_ENTRIES), [
                    {"station_id": station_id, "idx": start + i, "data": data,
                     "leaf_hash": leaf, "sm3_leaf_hash": sm3_leaf}
                    for i, (data, leaf, sm3_leaf) in enumerate(rows)])
            conn.execute(insert(STATION_CHECKPOINTS).values(
                station_id=station_id, size=size, note=note, accepted_at=now,
                bureau_index=None))

    def checkpoints(self, station_id: str) -> list[StationCheckpointRow]:
        with translate_errors("read station checkpoints"), self._engine.connect() as conn:
            rows = conn.execute(select(_C.size, _C.note, _C.bureau_index)
                                .where(_C.station_id == station_id).order_by(_C.size)).all()
        return [StationCheckpointRow(size=int(r.size), note=bytes(r.note),
                                     bureau_index=r.bureau_index) for r in rows]

    def set_bureau_index(self, station_id: str, size: int, index: int) -> None:
        with translate_errors("record a station checkpoint"), self._engine.begin() as conn:
            conn.execute(update(STATION_CHECKPOINTS)
                         .where(_C.station_id == station_id, _C.size == size)
                         .values(bureau_index=index))

    def received_object(self, station_id: str, index: int) -> bool:
        with translate_errors("read station objects"), self._engine.connect() as conn:
            return conn.execute(select(_O.idx).where(_O.station_id == station_id,
                                                     _O.idx == index)).first() is not None

    def add_object(self, station_id: str, index: int, obj: StoredObject, *,
                   now: datetime) -> None:
        with translate_errors("record a station object"), self._engine.begin() as conn:
            conn.execute(insert(STATION_OBJECTS).values(
                station_id=station_id, idx=index, sha256=obj.sha256, size=obj.size,
                store=obj.store, key=obj.key, version_id=obj.version_id, received_at=now))

    def object_count(self, station_id: str) -> int:
        with translate_errors("read station objects"), self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(STATION_OBJECTS)
                                    .where(_O.station_id == station_id)).scalar_one())

