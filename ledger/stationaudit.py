"""The bureau's audit of the station logs it holds (docs/verification.md §Stations, steps
S1–S5): both hops of a clip's proof, for every entry a station pushed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from evidence.bodies import StationCheckpointBody
from evidence.errors import NotFoundError, VerificationError
from evidence.records import EntryKind
from integrity import merkle
from integrity.bundle import TlogProof, make_bundle
from integrity.entry import decode_entry
from integrity.notes import parse_checkpoint_text, split_note, verify_note
from integrity.stationproof import TwoHopProof
from integrity.trust import StationTrust, TrustRoot
from ledger.ports import LedgerReader, StationRecord, StationRegistry


@dataclass(frozen=True, slots=True)
class StationAuditReport:
    station_id: str
    entries: int
    checkpoints: int


def audit_station(registry: StationRegistry, bureau: LedgerReader,
                  record: StationRecord) -> StationAuditReport:
    """Raise VerificationError naming the step and index of the first failure:

    S1 ``station-entry``: each held entry's stored leaf hashes are its bytes' (both trees);
    S2 ``signature``/``station-origin``: each accepted checkpoint is signed by the station's
       registered log keys valid at its size, under its registered origin;
    S3 ``station-consistency``: its roots are those of the held entries up to its size (so
       every later checkpoint extends every earlier one);
    S4 ``bureau-entry``: the bureau's log holds, at the recorded index, the
       ``station_checkpoint`` entry for it (station, size, roots, the note's SHA-256);
    S5 ``bureau-inclusion``: that entry is included in the bureau's latest checkpoint.
    """
    sid = record.station_id
    leaves, sm3_leaves = registry.leaf_hashes(sid)
    for index, data in registry.entries(sid):
        if merkle.leaf_hash(data) != leaves[index] or \
                merkle.leaf_hash(data, tree_hash=merkle.SM3) != sm3_leaves[index]:
            raise VerificationError(f"站点 {sid} 的条目与其叶哈希不符", step="station-entry",
                                    index=index)
    log_keys = [k for k in record.keys if k.role == "log"]
    latest = bureau.latest_checkpoint()
    checkpoints = registry.checkpoints(sid)
    for row in checkpoints:
        text, _ = verify_note(row.note, log_keys, size=row.size)
        origin, head, sm3 = parse_checkpoint_text(text)
        if origin != record.origin:
            raise VerificationError(f"站点 {sid} 检查点 origin {origin!r} 不符",
                                    step="station-origin", index=row.size)
        if head.size > len(leaves) or merkle.root(leaves[:head.size]) != head.root or (
                sm3 is not None
                and merkle.root(sm3_leaves[:head.size], tree_hash=merkle.SM3) != sm3.root):
            raise VerificationError(f"站点 {sid} 检查点（大小 {head.size}）与局端持有的条目不一致",
                                    step="station-consistency", index=head.size)
        if row.bureau_index is None:
            raise VerificationError(f"站点 {sid} 检查点（大小 {head.size}）尚无局端日志条目",
                                    step="bureau-entry", index=head.size)
        entry = bureau.entry(row.bureau_index)
        decoded = decode_entry(entry.data)
        expected = StationCheckpointBody(
            origin=record.origin, size=head.size, root=head.root.hex(),
            note_sha256=hashlib.sha256(row.note).hexdigest(),
            sm3_root=None if sm3 is None else sm3.root.hex())
        if decoded.kind is not EntryKind.STATION_CHECKPOINT or decoded.subject != sid or \
                StationCheckpointBody.from_body(decoded.body) != expected:
            raise VerificationError(f"局端日志第 {row.bureau_index} 条不是站点 {sid} 该检查点的"
                                    "记录", step="bureau-entry", index=row.bureau_index)
        if latest is not None and row.bureau_index < latest.head.size:
            proof = bureau.inclusion_proof(row.bureau_index, latest.head.size)
            try:
                merkle.verify_inclusion(row.bureau_index, latest.head.size, entry.leaf_hash,
                                        proof, latest.head.root)
            except VerificationError as exc:
                raise VerificationError(f"站点检查点条目不在局端最新检查点中：{exc.reason}",
                                        step="bureau-inclusion", index=row.bureau_index) from exc
    return StationAuditReport(station_id=sid, entries=len(leaves), checkpoints=len(checkpoints))


def two_hop_proof(registry: StationRegistry, bureau: LedgerReader, station_id: str,
                  index: int) -> TwoHopProof:
    """The proof of the station's entry ``index`` (integrity/stationproof.py): at the first
    accepted station checkpoint that covers it and that the bureau's latest checkpoint covers.
    NotFoundError when there is none yet (not pushed, or the bureau has not published since)."""
    latest = bureau.latest_checkpoint()
    leaves, _ = registry.leaf_hashes(station_id)
    for row in registry.checkpoints(station_id):
        if row.size > index and row.bureau_index is not None and latest is not None \
                and row.bureau_index < latest.head.size:
            entry = next(registry.entries(station_id, index, index + 1))[1]
            return TwoHopProof(
                station_id=station_id, index=index, entry=entry, station_checkpoint=row.note,
                station_proof=tuple(merkle.inclusion_proof(leaves[:row.size], index)),
                bureau_index=row.bureau_index, bureau_entry=bureau.entry(row.bureau_index).data,
                bureau_checkpoint=latest.note,
                bureau_proof=tuple(bureau.inclusion_proof(row.bureau_index, latest.head.size)))
    raise NotFoundError(f"站点 {station_id} 第 {index} 条尚无局端检查点覆盖的证明 "
                        "(no bureau-covered proof yet)")


def station_entry_index(registry: StationRegistry, station_id: str, ref: str) -> int:
    """A station entry by its index in the station's log, or the first whose subject is the
    given SHA-256 (a clip's ``acquired``): read from the entries the bureau holds."""
    if ref.isdigit():
        return int(ref)
    for index, data in registry.entries(station_id):
        if decode_entry(data).subject == ref:
            return index
    raise NotFoundError(f"站点 {station_id} 的日志中没有条目指向 {ref} (no entry of that "
                        "station names it)")


def export_station_bundle(registry: StationRegistry, bureau: LedgerReader, trust: TrustRoot,
                          station_id: str, ref: str) -> bytes:
    """The offline bundle of a clip ingested on a station (docs/verification.md part B, B8):
    the bureau's hop (its ``station_checkpoint`` entry under its latest checkpoint, with that
    checkpoint's timestamps and SM3 path) as the bundle's entry and proof, the station's hop
    as its ``station`` part (``two_hop_proof``), and the station's keys in the trust root."""
    found = two_hop_proof(registry, bureau, station_id,
                          station_entry_index(registry, station_id, ref))
    size = _size(found.bureau_checkpoint)
    checkpoint = next(c for c in bureau.checkpoints() if c.head.size == size)
    sm3_hashes = None
    if checkpoint.sm3 is not None:
        sm3_hashes = bureau.inclusion_proof(found.bureau_index, checkpoint.sm3.size,
                                            tree_hash=merkle.SM3)
    stations = tuple(StationTrust(station_id=r.station_id, origin=r.origin, keys=tuple(r.keys))
                     for r in registry.all() if r.status != "pending")
    return make_bundle(
        entry=found.bureau_entry,
        proof=TlogProof(index=found.bureau_index, hashes=found.bureau_proof,
                        checkpoint=found.bureau_checkpoint),
        timestamps=bureau.timestamps(size), sm3_hashes=sm3_hashes,
        trust=replace(trust, stations=stations), station=found)


def _size(note: bytes) -> int:
    return parse_checkpoint_text(split_note(note)[0])[1].size
