"""Per-clip proof bundles, verifiable offline with the standard library and cryptography
(+ rfc3161-client for the timestamps). Format: docs/ledger-format.md §Bundles; procedure:
docs/verification.md part B, whose step numbers the comments cite.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass

from evidence.errors import UnavailableError, VerificationError
from evidence.records import Checkpoint, Entry
from integrity.entry import decode_entry
from integrity.merkle import SM3, leaf_hash, verify_inclusion
from integrity.notes import open_checkpoint, parse_checkpoint_text, split_note
from integrity.stationproof import TwoHopProof, verify_two_hop
from integrity.timestamp import TimestampInfo, verify_token
from integrity.trust import TrustRoot

try:
    from integrity.timestamp_sm import verify_timestamp
except ImportError as _missing:  # asn1crypto (SM2/SM3 tokens) not installed: ADR 0015
    _MISSING_ASN1 = _missing.name or "asn1crypto"

    def verify_timestamp(token: bytes, *, message: bytes,
                         roots: Sequence[bytes]) -> TimestampInfo:
        """SHA-256 tokens as ever; an SM2/SM3 token (any 国密 OID, arc 1.2.156.10197, in its
        DER) or an SM2 root cannot be checked without asn1crypto: UnavailableError."""
        if any(_GM_ARC in der for der in (token, *roots)):
            raise UnavailableError(
                f"缺少 {_MISSING_ASN1}：此证据包含 SM2/SM3 时间戳（国密），本机无法验证。请安装 "
                "asn1crypto 后重试，见 docs/adr/0015-offline-verifier-dependencies.md\n"
                f"({_MISSING_ASN1} is not installed: SM2/SM3 timestamps cannot be checked here)")
        return verify_token(token, message=message, roots=roots)

_GM_ARC = bytes.fromhex("2a811ccf55")
"""The DER content of OID 1.2.156.10197 (国家密码管理局): every SM2, SM3 and SM4 OID starts
with it."""

FORMAT = "liuhen/bundle/v1"
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
MAX_BUNDLE_BYTES = 256 * 1024  # bound what the standalone verifier will parse
MAX_PROOF_HASHES = 64  # a tree of 2^64 entries needs no more
MAX_TIMESTAMPS = 32  # bound DoS


@dataclass(frozen=True, slots=True)
class TlogProof:
    index: int
    hashes: tuple[bytes, ...]
    checkpoint: bytes
    """The checkpoint signed note, verbatim."""


def format_tlog_proof(proof: TlogProof) -> bytes:
    """C2SP ``tlog-proof@v1``: header, ``index N``, one base64 hash per line, a blank line, the
    checkpoint note."""
    lines = [PROOF_HEADER, f"index {proof.index}"]
    lines += [base64.b64encode(h).decode() for h in proof.hashes]
    return ("\n".join(lines) + "\n\n").encode() + proof.checkpoint


def parse_tlog_proof(data: bytes) -> TlogProof:
    step = "tlog-proof"
    head, sep, checkpoint = data.partition(b"\n\n")
    if not sep:
        raise VerificationError("tlog-proof has no blank line before its checkpoint", step=step)
    lines = head.decode("utf-8", errors="replace").split("\n")
    if lines[0] != PROOF_HEADER:
        raise VerificationError(f"tlog-proof must start with {PROOF_HEADER}", step=step)
    rest = lines[1:]
    if rest and rest[0].startswith("extra "):
        rest = rest[1:]  # opaque application data; liuhen writes none
    if not rest or not rest[0].startswith("index ") or not rest[0][6:].isdigit():
        raise VerificationError("tlog-proof has no index line", step=step)
    index = int(rest[0][6:])
    if len(rest) - 1 > MAX_PROOF_HASHES:
        raise VerificationError("tlog-proof has too many hashes", step=step)
    try:
        hashes = tuple(base64.b64decode(line, validate=True) for line in rest[1:])
    except binascii.Error as exc:
        raise VerificationError("tlog-proof hash is not base64", step=step) from exc
    return TlogProof(index=index, hashes=hashes, checkpoint=checkpoint)


def make_bundle(*, entry: bytes, proof: TlogProof, timestamps: Sequence[tuple[str, bytes]],
                trust: TrustRoot, sm3_hashes: Sequence[bytes] | None = None,
                station: TwoHopProof | None = None) -> bytes:
    """Serialize a bundle. ``timestamps`` are (TSA name, raw token) over the checkpoint body.
    ``sm3_hashes`` is the entry's inclusion path in the SM3 tree the checkpoint's ``sm3`` line
    commits to (same index, same size; docs/ledger-format.md §9); None for a checkpoint
    without one. ``station``: for a clip ingested on a station, its two-hop proof; ``entry``
    and ``proof`` are then the bureau's hop (its ``station_checkpoint`` entry)."""
    value: dict[str, object] = {
        "format": FORMAT,
        "entry": base64.b64encode(entry).decode(),
        "proof": format_tlog_proof(proof).decode(),
        "timestamps": [{"tsa": name, "token": base64.b64encode(token).decode()}
                       for name, token in timestamps],
        "trust_root": trust.to_dict(),
    }
    if sm3_hashes is not None:
        value["sm3_proof"] = [base64.b64encode(h).decode() for h in sm3_hashes]
    if station is not None:
        value["station"] = station.to_dict()
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


@dataclass(frozen=True, slots=True)
class BundleReport:
    index: int
    entry: Entry
    checkpoint: Checkpoint
    timestamps: tuple[tuple[str, TimestampInfo], ...]
    embedded_trust: bool
    """True when the bundle's own trust root was used: fine for a smoke test, not for evidence."""
    sm3_checked: bool = False
    """The SM3 path was checked against the checkpoint's sm3 line (B4-SM3); False only for a
    checkpoint from before the 国密 layer, which has no sm3 line."""
    station: StationHop | None = None
    """For a clip ingested on a station: the first hop, verified (B8)."""


@dataclass(frozen=True, slots=True)
class StationHop:
    station_id: str
    index: int
    """The clip's entry's index in the station's log."""
    entry: Entry
    station_size: int
    """The size of the station checkpoint it is included under."""


HOP_STEPS = {"signature": ("H1", "站点一跳 station hop"),
             "station-origin": ("H1", "站点一跳 station hop"),
             "station-inclusion": ("H2", "站点一跳 station hop"),
             "bureau-entry": ("H3", "局端一跳 bureau hop"),
             "bureau-inclusion": ("H5", "局端一跳 bureau hop")}
"""verify_two_hop's steps as the bundle names them (docs/verification.md part B, B8). The
bureau's checkpoint signature (H4) is the bundle's own B3."""


def check_station_hop(proof: TwoHopProof, *, bureau_entry: bytes, bureau: TlogProof,
                      trust: TrustRoot) -> StationHop:
    """(B8) the clip's entry is in its station's log under a checkpoint the station's keys
    signed, and the bundle's bureau entry (B3–B5) records exactly that checkpoint
    (docs/verification.md part S, H1–H5). Failures name the hop and the H step."""
    if (proof.bureau_entry, proof.bureau_index, proof.bureau_checkpoint) != (
            bureau_entry, bureau.index, bureau.checkpoint):
        raise VerificationError("局端一跳 bureau hop: the station proof's bureau entry, index or "
                                "checkpoint is not the bundle's", step="B8-H3",
                                index=bureau.index)
    try:
        station = trust.station(proof.station_id)
    except VerificationError as exc:
        raise VerificationError(exc.reason, step="B8-H1", index=proof.index) from exc
    try:
        verify_two_hop(proof, station_origin=station.origin, station_keys=station.keys,
                       bureau_keys=trust.keys)
    except VerificationError as exc:
        number, hop = HOP_STEPS.get(exc.step, ("H?", "two-hop"))
        raise VerificationError(f"{hop} ({exc.step}): {exc.reason}", step=f"B8-{number}",
                                index=exc.index) from exc
    try:
        entry = decode_entry(proof.entry)
    except VerificationError as exc:
        raise VerificationError(f"站点一跳 station hop: {exc.reason}", step="B8-H2",
                                index=proof.index) from exc
    size = parse_checkpoint_text(split_note(proof.station_checkpoint)[0])[1].size
    return StationHop(station_id=proof.station_id, index=proof.index, entry=entry,
                      station_size=size)


def check_checkpoint(note: bytes, *, trust: TrustRoot) -> Checkpoint:
    """(B3) the checkpoint carries the trust root's origin and a signature by a log key valid at
    its size. The pages call this too (an entry's proof against the latest checkpoint)."""
    try:
        return open_checkpoint(note, origin=trust.origin, keys=trust.keys)
    except VerificationError as exc:
        raise VerificationError(exc.reason, step="B3", index=exc.index) from exc


def check_included(index: int, entry: bytes, hashes: Sequence[bytes], *,
                   checkpoint: Checkpoint) -> None:
    """(B4) the entry's leaf hash is included at ``index`` under the checkpoint's root."""
    try:
        verify_inclusion(index, checkpoint.head.size, leaf_hash(entry), hashes,
                         checkpoint.head.root)
    except VerificationError as exc:
        raise VerificationError(exc.reason, step="B4", index=index) from exc


def check_included_sm3(index: int, entry: bytes, hashes: Sequence[bytes] | None, *,
                       checkpoint: Checkpoint) -> bool:
    """(B4-SM3) the entry's SM3 leaf hash is included at ``index`` under the SM3 root of the
    checkpoint's ``sm3`` line. Returns False (nothing to check) only when the checkpoint has no
    sm3 line and no SM3 path came with it; a path without a line, or a line without a path,
    fails."""
    step = "B4-SM3"
    if checkpoint.sm3 is None:
        if hashes is not None:
            raise VerificationError("bundle carries an SM3 path but its checkpoint commits to no "
                                    "SM3 tree", step=step, index=index)
        return False
    if hashes is None:
        raise VerificationError("checkpoint commits to an SM3 tree but the bundle carries no SM3 "
                                "path", step=step, index=index)
    try:
        verify_inclusion(index, checkpoint.sm3.size, leaf_hash(entry, tree_hash=SM3), hashes,
                         checkpoint.sm3.root, tree_hash=SM3)
    except VerificationError as exc:
        raise VerificationError(f"SM3 tree: {exc.reason}", step=step, index=index) from exc
    return True


def bundle_position(data: bytes) -> tuple[int, int]:
    """(entry index, checkpoint size) a bundle claims, unverified: where to fetch its inclusion
    proof from tiles (``verify-bundle --tiles``) before :func:`verify_bundle` checks it all."""
    try:
        proof = parse_tlog_proof(json.loads(data[:MAX_BUNDLE_BYTES])["proof"].encode())
        _, head, _ = parse_checkpoint_text(split_note(proof.checkpoint)[0])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise VerificationError(f"malformed bundle: {exc}", step="B1") from exc
    if not 0 <= proof.index < head.size:
        raise VerificationError(f"index {proof.index} is beyond tree size {head.size}",
                                step="B4", index=proof.index)
    return proof.index, head.size


def verify_bundle(data: bytes, *, trust: TrustRoot | None = None,
                  clip_sha256: str | None = None,
                  hashes: Sequence[bytes] | None = None) -> BundleReport:
    """Run docs/verification.md part B over ``data``; raise VerificationError at the first failure.

    ``trust`` is the auditor's trust root; without it the bundle's own is used and the report says
    so. ``clip_sha256`` is the SHA-256 of the clip file in hand, which must be the entry's subject.
    ``hashes``, when given, is the inclusion path B4 checks instead of the bundle's own copy (one
    computed from the log's tiles: ``verify-bundle --tiles``).
    """
    # (B1) parse the bundle within bounds.
    if len(data) > MAX_BUNDLE_BYTES:
        raise VerificationError("bundle is too large", step="B1")
    try:
        value = json.loads(data)
        if value.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT}")
        entry_bytes = base64.b64decode(value["entry"], validate=True)
        proof = parse_tlog_proof(value["proof"].encode())
        stamps = value["timestamps"]
        if len(stamps) > MAX_TIMESTAMPS:
            raise ValueError("too many timestamps")
        tokens = [(str(s["tsa"]), base64.b64decode(s["token"], validate=True)) for s in stamps]
        sm3_hashes = None
        if "sm3_proof" in value:
            if len(value["sm3_proof"]) > MAX_PROOF_HASHES:
                raise ValueError("SM3 path has too many hashes")
            sm3_hashes = tuple(base64.b64decode(h, validate=True) for h in value["sm3_proof"])
        two_hop = None
        if "station" in value:
            if len(value["station"].get("station_proof", ())) > MAX_PROOF_HASHES or \
                    len(value["station"].get("bureau_proof", ())) > MAX_PROOF_HASHES:
                raise ValueError("station proof has too many hashes")
            two_hop = TwoHopProof.from_dict(value["station"])
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise VerificationError(f"malformed bundle: {exc}", step="B1") from exc
    # (B2) choose the trust root: the auditor's, else the embedded one (reported as such).
    embedded = trust is None
    root_of_trust = TrustRoot.from_dict(value.get("trust_root")) if trust is None else trust
    try:
        checkpoint = check_checkpoint(proof.checkpoint, trust=root_of_trust)
        check_included(proof.index, entry_bytes, proof.hashes if hashes is None else hashes,
                       checkpoint=checkpoint)
        sm3_checked = check_included_sm3(proof.index, entry_bytes, sm3_hashes,
                                         checkpoint=checkpoint)
    except VerificationError as exc:
        if two_hop is None:
            raise
        # a station clip's bundle: B3–B4 are its bureau hop (H4–H5), and say so
        raise VerificationError(f"局端一跳 bureau hop: {exc.reason}", step=exc.step,
                                index=exc.index) from exc
    # (B5) the entry is a well-formed v1 entry.
    try:
        entry = decode_entry(entry_bytes)
    except VerificationError as exc:
        raise VerificationError(exc.reason, step="B5", index=proof.index) from exc
    # (B6) every timestamp token covers this checkpoint's body and chains to a trusted TSA root.
    body, _ = split_note(proof.checkpoint)
    infos = []
    if tokens and not root_of_trust.tsa_roots:
        raise VerificationError("bundle carries timestamps but the trust root names no TSA root",
                                step="B6", index=checkpoint.head.size)
    for name, token in tokens:
        try:
            infos.append((name, verify_timestamp(token, message=body,
                                                 roots=root_of_trust.tsa_roots)))
        except VerificationError as exc:
            raise VerificationError(f"timestamp from {name}: {exc.reason}", step="B6",
                                    index=checkpoint.head.size) from exc
    # (B8) a station clip: the station hop, and the bureau entry above records its checkpoint.
    hop = None
    if two_hop is not None:
        hop = check_station_hop(two_hop, bureau_entry=entry_bytes, bureau=proof,
                                trust=root_of_trust)
    # (B7) the clip in hand is the one the entry names (the station's entry, for a station clip).
    named = entry if hop is None else hop.entry
    if clip_sha256 is not None and named.subject != clip_sha256:
        raise VerificationError(f"clip SHA-256 {clip_sha256} is not the entry's subject "
                                f"{named.subject}", step="B7",
                                index=proof.index if hop is None else hop.index)
    return BundleReport(index=proof.index, entry=entry, checkpoint=checkpoint,
                        timestamps=tuple(infos), embedded_trust=embedded, sm3_checked=sm3_checked,
                        station=hop)
