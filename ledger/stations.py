"""The bureau's log over station logs (DESIGN.md §4 "Stations and the bureau";
docs/adr/0014-two-level-log.md).

A station keeps its own log (origin ``<bureau host>/station/<id>``, its own keys) and pushes its
entries with a checkpoint signed by its log keys. The bureau accepts a push only from an
approved station, and only when (docs/verification.md §Stations):

1. ``station-origin``: the checkpoint names the station's registered origin;
2. ``signature``: its registered log keys valid at that size signed it (both algorithms);
3. ``station-consistency``: the entries the bureau already holds plus the pushed ones hash to
   the checkpoint's SHA-256 root (and SM3 root): a station that rewrote or forked any entry the
   bureau holds cannot produce it. The station is flagged with the step;

then stores them (keyed by station) and appends a ``station_checkpoint`` entry to its own log.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from evidence.bodies import StationCheckpointBody, StationRegisteredBody, StoredBody
from evidence.errors import (
    ConflictError,
    NotFoundError,
    PolicyViolationError,
    VerificationError,
)
from evidence.identity import InvalidInputError
from evidence.ids import Sha256Hex
from evidence.records import Checkpoint, EntryKind, LedgerEntry, ObjectReceipt, PublicKey
from integrity import merkle
from integrity.entry import decode_entry
from integrity.notes import parse_checkpoint_text, split_note, verify_note, vkey
from ledger.appending import LedgerWriter
from ledger.ports import Clock, ObjectSink, StationRecord, StationRegistry

STATION_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def check_station_id(station_id: str) -> str:
    """Station ids are 1–64 of ``a-z 0-9 -``: they go into an origin and URLs."""
    if not (0 < len(station_id) <= 64) or not set(station_id) <= STATION_ID_CHARS \
            or station_id.startswith("-"):
        raise InvalidInputError(f"站点编号 {station_id!r} 无效：只能用小写字母、数字和 -，"
                                "最长 64 个字符 (station id: a-z 0-9 -, at most 64)")
    return station_id


def station_origin(bureau_origin: str, station_id: str) -> str:
    """The origin rule: ``<bureau host>/station/<id>`` (the host part of the bureau's origin)."""
    return f"{bureau_origin.partition('/')[0]}/station/{check_station_id(station_id)}"


@dataclass(frozen=True, slots=True)
class PushReceipt:
    """What the bureau answers a push with: the size it now holds of the station's log."""

    station_id: str
    size: int
    bureau_index: int | None


class BureauStations:
    """Registration, approval and pushes of stations, on the bureau."""

    def __init__(self, registry: StationRegistry, *, writer: LedgerWriter, bureau_origin: str,
                 clock: Clock, find: Callable[[str], Sequence[LedgerEntry]],
                 sink: ObjectSink | None = None,
                 retention: timedelta = timedelta(days=180)) -> None:
        """``find``: the bureau log's entries with a subject (``LedgerReader.find``), to
        recognise a ``station_checkpoint`` entry a crash left unrecorded on its row."""
        self._registry = registry
        self._find = find
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._sink = sink
        self._retention = retention
        self._writer = writer
        self._bureau_origin = bureau_origin
        self._clock = clock

    def register(self, station_id: str, *, origin: str,
                 keys: Sequence[PublicKey]) -> StationRecord:
        """File a registration (status ``pending`` until an admin approves it)."""
        expected = station_origin(self._bureau_origin, station_id)
        if origin != expected:
            raise InvalidInputError(f"站点 {station_id} 的日志 origin 应为 {expected!r}，"
                                    f"收到 {origin!r} (origin must be {expected!r})")
        roles = {(k.role, k.algorithm) for k in keys}
        if ("log", "ed25519") not in roles or ("station", "ed25519") not in roles \
                or any(k.role not in ("log", "station") for k in keys):
            raise InvalidInputError("登记须包含站点的日志密钥和站点密钥 (a registration needs the "
                                    "station's log and station keys)")
        return self._registry.register(station_id, origin=origin, keys=keys, now=self._clock())

    def approve(self, station_id: str, *, actor: str) -> StationRecord:
        """Approve a pending station: a ``station_registered`` entry in the bureau's log."""
        record = self._registry.get(station_id)
        if record.status == "approved":
            return record
        if record.status != "pending":
            raise ConflictError(f"站点 {station_id} 状态为 {record.status}，不能批准")
        self._writer.append(StationRegisteredBody(
            origin=record.origin,
            log_keys=tuple(vkey(k) for k in record.keys if k.role == "log"),
            station_keys=tuple(vkey(k) for k in record.keys if k.role == "station")),
            subject=station_id, actor=actor)
        self._registry.decide(station_id, status="approved", by=actor, now=self._clock())
        return self._registry.get(station_id)

    def revoke(self, station_id: str, *, actor: str) -> None:
        self._registry.get(station_id)
        self._registry.decide(station_id, status="revoked", by=actor, now=self._clock())

    def state(self, station_id: str) -> StationRecord:
        """The station's record, after finishing any accepted push whose bureau entry a crash
        left unwritten."""
        with self._station_lock(station_id):
            record = self._approved(station_id)
            self._finish(record)
            return self._registry.get(station_id)

    def push(self, station_id: str, *, start: int, entries: Sequence[bytes],
             note: bytes) -> PushReceipt:
        """Accept entries ``start…`` and the checkpoint ``note`` over them (module docstring).
        A push the bureau already holds is acknowledged again (idempotent)."""
        with self._station_lock(station_id):
            self._finish(self._approved(station_id))
            record = self._approved(station_id)
            try:
                return self._push(record, start, entries, note)
            except VerificationError as exc:
                self._registry.flag(station_id, f"[{exc.step}] {exc.reason}")
                raise

    def _station_lock(self, station_id: str) -> threading.Lock:
        """One push (accept, bureau entry, its index) at a time per station in this process: a
        request still running for a client that died must not race the client's next one.
        Several API processes would need a database lock here instead (ADR 0014)."""
        with self._guard:
            return self._locks.setdefault(station_id, threading.Lock())

    def accept_object(self, station_id: str, index: int, source: Path, *, sha256: str,
                      sm3: str, size: int) -> ObjectReceipt:
        """Keep the object of the station's ``stored`` entry ``index`` (the bureau holds that
        entry, verified): the received bytes' ``size`` and digests (computed by the caller as
        they arrived) must be the entry's stored bytes' — ``sealed_sha256``/``sealed_size`` of
        a sealed object, else the clip's own SHA-256, SM3 and size — (step ``object-digest``);
        then the bureau's store re-hashes what it keeps. The receipt carries the size and both
        digests: the station releases its copy only on a receipt that matches what it sent
        (ledger/copyrelease.py). Idempotent per entry."""
        record = self._approved(station_id)
        if index >= record.size:
            raise ConflictError(f"站点 {station_id} 第 {index} 条尚未推送到局端，先同步条目 "
                                "(push the entry first)")
        _i, data = next(self._registry.entries(station_id, index, index + 1))
        entry = decode_entry(data)
        if entry.kind is not EntryKind.STORED:
            raise InvalidInputError(f"站点 {station_id} 第 {index} 条不是 stored 条目")
        body = StoredBody.from_body(entry.body)
        want_sha = body.sealed_sha256 or entry.subject
        want_size = body.sealed_size if body.sealed_size is not None else body.size
        want_sm3 = body.sm3 if body.sealed_sha256 is None and body.sm3 else sm3
        if (sha256, sm3, size) != (want_sha, want_sm3, want_size):
            raise VerificationError(
                f"站点 {station_id} 第 {index} 条的对象与条目不符：收到 {size} 字节 SHA-256 "
                f"{sha256} SM3 {sm3}，条目为 {want_size} 字节 {want_sha} (object does not match "
                "its entry)", step="object-digest", index=index)
        receipt = ObjectReceipt(station_id, index, size=size, sha256=sha256, sm3=sm3)
        if self._registry.received_object(station_id, index):
            return receipt
        if self._sink is None:
            raise ConflictError("局端未配置对象存储 (no object store)")
        stored = self._sink.put(f"stations/{station_id}/{want_sha}", source,
                                sha256=Sha256Hex(want_sha), size=want_size,
                                retain_until=self._clock() + self._retention)
        stored = self._sink.verify(stored, rehash=True)
        self._registry.add_object(station_id, index, stored, now=self._clock())
        return receipt

    def _approved(self, station_id: str) -> StationRecord:
        try:
            record = self._registry.get(station_id)
        except NotFoundError:
            raise PolicyViolationError(f"未登记的站点 {station_id!r}：请先在站点运行 liuhen "
                                       "stations join (unknown station)") from None
        if record.status == "pending":
            raise PolicyViolationError(f"站点 {station_id} 尚未获管理员批准 (not approved yet)")
        if record.status != "approved":
            raise PolicyViolationError(f"站点 {station_id} 已被吊销，拒绝接收 (revoked)")
        return record

    def _push(self, record: StationRecord, start: int, entries: Sequence[bytes],
              note: bytes) -> PushReceipt:
        sid = record.station_id
        held = record.size
        if start > held:
            raise ConflictError(f"站点 {sid}：局端只有 {held} 条，推送从 {start} 开始 "
                                f"(expected entries from {held})")
        text, _ = verify_note(note, _log_keys(record),
                              size=_note_size(note))
        origin, head, sm3 = parse_checkpoint_text(text)
        if origin != record.origin:
            raise VerificationError(f"检查点 origin {origin!r} 不是站点登记的 {record.origin!r}",
                                    step="station-origin", index=head.size)
        if start + len(entries) != head.size:
            raise InvalidInputError(f"推送的条目到 {start + len(entries)} 为止，检查点大小为 "
                                    f"{head.size} (entries must end at the checkpoint)")
        if start == held:
            # The common case: resume both trees from the frontiers saved at ``held``, O(log n).
            rows = [(d, merkle.leaf_hash(d), merkle.leaf_hash(d, tree_hash=merkle.SM3))
                    for d in entries]
            tree = merkle.TreeBuilder.from_frontier(held, record.frontier)
            tree.extend(r[1] for r in rows)
            sm3_tree = merkle.TreeBuilder.from_frontier(held, record.sm3_frontier,
                                                        tree_hash=merkle.SM3)
            sm3_tree.extend(r[2] for r in rows)
        else:
            rows, tree, sm3_tree = self._overlapping(record, start, entries, head.size)
        if tree.root() != head.root:
            raise VerificationError(
                f"站点 {sid} 的检查点（大小 {head.size}）与局端持有的 {held} 条历史不一致：站点日志"
                "被改写或分叉 (checkpoint inconsistent with the history the bureau holds)",
                step="station-consistency", index=head.size)
        if sm3 is not None and sm3_tree.root() != sm3.root:
            raise VerificationError(f"站点 {sid} 的 SM3 根与条目不符 (SM3 root mismatch)",
                                    step="station-consistency", index=head.size)
        if head.size <= held:
            return PushReceipt(sid, held, None)
        self._registry.accept(sid, start=held, rows=rows, note=note, size=head.size,
                              frontier=tree.frontier(), sm3_frontier=sm3_tree.frontier(),
                              now=self._clock())
        index = self._append(record, Checkpoint(origin=origin, head=head, note=note, sm3=sm3))
        return PushReceipt(sid, head.size, index)

    def _overlapping(self, record: StationRecord, start: int, entries: Sequence[bytes],
                     size: int) -> tuple[list[tuple[bytes, bytes, bytes]], merkle.TreeBuilder,
                                         merkle.TreeBuilder]:
        """A push that starts below the held size (a retry, or an older checkpoint): each
        pushed entry the bureau holds must be the held one; both trees are rebuilt over the held
        leaves up to ``size`` plus the new ones, O(n)."""
        leaves, sm3_leaves = self._registry.leaf_hashes(record.station_id)
        rows = []
        for offset, data in enumerate(entries):
            index = start + offset
            leaf = merkle.leaf_hash(data)
            if index < record.size:
                if leaves[index] != leaf:
                    raise VerificationError(
                        f"站点 {record.station_id} 第 {index} 条与局端已接受的不同：站点改写了自己"
                        "的日志 (the station rewrote an entry the bureau holds)",
                        step="station-consistency", index=index)
                continue
            rows.append((data, leaf, merkle.leaf_hash(data, tree_hash=merkle.SM3)))
        tree = merkle.TreeBuilder()
        tree.extend([*leaves[:size], *(r[1] for r in rows)])
        sm3_tree = merkle.TreeBuilder(tree_hash=merkle.SM3)
        sm3_tree.extend([*sm3_leaves[:size], *(r[2] for r in rows)])
        return rows, tree, sm3_tree

    def _append(self, record: StationRecord, checkpoint: Checkpoint) -> int:
        receipt = self._writer.append(StationCheckpointBody(
            origin=record.origin, size=checkpoint.head.size, root=checkpoint.head.root.hex(),
            note_sha256=hashlib.sha256(checkpoint.note).hexdigest(),
            sm3_root=None if checkpoint.sm3 is None else checkpoint.sm3.root.hex()),
            subject=record.station_id, actor=f"station:{record.station_id}")
        self._registry.set_bureau_index(record.station_id, checkpoint.head.size, receipt.index)
        return receipt.index

    def _finish(self, record: StationRecord) -> None:
        """Finish accepted checkpoints a crash left without their index in the bureau's log:
        record the ``station_checkpoint`` entry already appended for it, else append it."""
        pending = [row for row in self._registry.checkpoints(record.station_id)
                   if row.bureau_index is None]
        if not pending:
            return
        appended: dict[tuple[int, str], int] = {}
        for found in self._find(record.station_id):
            entry = decode_entry(found.data)
            if entry.kind is EntryKind.STATION_CHECKPOINT:
                body = StationCheckpointBody.from_body(entry.body)
                appended[(body.size, body.note_sha256)] = found.index
        for row in pending:
            index = appended.get((row.size, hashlib.sha256(row.note).hexdigest()))
            if index is not None:
                self._registry.set_bureau_index(record.station_id, row.size, index)
                continue
            text, _ = verify_note(row.note, _log_keys(record), size=row.size)
            origin, head, sm3 = parse_checkpoint_text(text)
            self._append(record, Checkpoint(origin=origin, head=head, note=row.note, sm3=sm3))


def _log_keys(record: StationRecord) -> list[PublicKey]:
    return [k for k in record.keys if k.role == "log"]


def _note_size(note: bytes) -> int:
    """The tree size a note claims (checked again once its signature verified)."""
    _origin, head, _sm3 = parse_checkpoint_text(split_note(note)[0])
    return head.size


def keys_document(keys: Sequence[PublicKey]) -> str:
    """Keys as the JSON list a registration carries (``vkey``, role, validity)."""
    return json.dumps([{"vkey": vkey(k), "role": k.role, "valid_from": k.valid_from,
                        "valid_until": k.valid_until} for k in keys], ensure_ascii=False)
