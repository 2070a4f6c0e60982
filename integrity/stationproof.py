"""A station entry's two-hop proof (docs/adr/0014-two-level-log.md; docs/verification.md part
S, H1–H5): inclusion in its station's log at a checkpoint the bureau accepted, then that
``station_checkpoint`` entry's inclusion in the bureau's log. Pure: the verifier is given the
station's and the bureau's log keys (the bureau's trust root lists both)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from evidence.errors import VerificationError
from evidence.records import EntryKind, PublicKey
from integrity import merkle
from integrity.entry import decode_entry
from integrity.notes import parse_checkpoint_text, split_note, verify_note


@dataclass(frozen=True, slots=True)
class TwoHopProof:
    station_id: str
    index: int
    entry: bytes
    """The station entry's bytes, verbatim."""
    station_checkpoint: bytes
    station_proof: tuple[bytes, ...]
    bureau_index: int
    bureau_entry: bytes
    """The bureau's ``station_checkpoint`` entry for that station checkpoint."""
    bureau_checkpoint: bytes
    bureau_proof: tuple[bytes, ...]

    def to_dict(self) -> dict[str, object]:
        def b64(b: bytes) -> str:
            return base64.b64encode(b).decode()
        return {"station_id": self.station_id, "index": self.index, "entry": b64(self.entry),
                "station_checkpoint": self.station_checkpoint.decode(),
                "station_proof": [p.hex() for p in self.station_proof],
                "bureau_index": self.bureau_index, "bureau_entry": b64(self.bureau_entry),
                "bureau_checkpoint": self.bureau_checkpoint.decode(),
                "bureau_proof": [p.hex() for p in self.bureau_proof]}

    @classmethod
    def from_dict(cls, value: dict[str, object]) -> TwoHopProof:
        try:
            def hashes(key: str) -> tuple[bytes, ...]:
                items = value[key]
                if not isinstance(items, list):
                    raise TypeError(f"{key} must be a list")
                return tuple(bytes.fromhex(str(h)) for h in items)
            return cls(station_id=str(value["station_id"]), index=int(str(value["index"])),
                       entry=base64.b64decode(str(value["entry"]), validate=True),
                       station_checkpoint=str(value["station_checkpoint"]).encode(),
                       station_proof=hashes("station_proof"),
                       bureau_index=int(str(value["bureau_index"])),
                       bureau_entry=base64.b64decode(str(value["bureau_entry"]), validate=True),
                       bureau_checkpoint=str(value["bureau_checkpoint"]).encode(),
                       bureau_proof=hashes("bureau_proof"))
        except (KeyError, TypeError, ValueError) as exc:
            raise VerificationError(f"malformed two-hop proof: {exc}", step="proof") from exc


def _size(note: bytes) -> int:
    return parse_checkpoint_text(split_note(note)[0])[1].size


def verify_two_hop(proof: TwoHopProof, *, station_origin: str,
                   station_keys: Sequence[PublicKey], bureau_keys: Sequence[PublicKey]) -> None:
    """Raise VerificationError naming the step of the first failure:

    H1 ``signature``: the station checkpoint is signed by the station's log keys, under
       ``station_origin``;
    H2 ``station-inclusion``: the entry is at ``index`` under that checkpoint's root;
    H3 ``bureau-entry``: the bureau entry is the ``station_checkpoint`` entry of this station for
       exactly that checkpoint (size, root, SHA-256 of the note);
    H4 ``signature``: the bureau checkpoint is signed by the bureau's log keys;
    H5 ``bureau-inclusion``: the bureau entry is at ``bureau_index`` under the bureau's root.
    """
    text, _ = verify_note(proof.station_checkpoint, [k for k in station_keys if k.role == "log"],
                          size=_size(proof.station_checkpoint))
    origin, head, _sm3 = parse_checkpoint_text(text)
    if origin != station_origin:
        raise VerificationError(f"station checkpoint origin {origin!r} is not {station_origin!r}",
                                step="station-origin", index=head.size)
    try:
        merkle.verify_inclusion(proof.index, head.size, merkle.leaf_hash(proof.entry),
                                proof.station_proof, head.root)
    except VerificationError as exc:
        raise VerificationError(f"entry not in the station's log: {exc.reason}",
                                step="station-inclusion", index=proof.index) from exc
    entry = decode_entry(proof.bureau_entry)
    body = entry.body
    if entry.kind is not EntryKind.STATION_CHECKPOINT or entry.subject != proof.station_id \
            or body.get("size") != head.size or body.get("root") != head.root.hex() \
            or body.get("note_sha256") != hashlib.sha256(proof.station_checkpoint).hexdigest():
        raise VerificationError("the bureau entry does not record this station checkpoint",
                                step="bureau-entry", index=proof.bureau_index)
    bureau_text, _ = verify_note(proof.bureau_checkpoint,
                                 [k for k in bureau_keys if k.role == "log"],
                                 size=_size(proof.bureau_checkpoint))
    _origin, bureau_head, _ = parse_checkpoint_text(bureau_text)
    try:
        merkle.verify_inclusion(proof.bureau_index, bureau_head.size,
                                merkle.leaf_hash(proof.bureau_entry), proof.bureau_proof,
                                bureau_head.root)
    except VerificationError as exc:
        raise VerificationError(f"station checkpoint entry not in the bureau's log: "
                                f"{exc.reason}", step="bureau-inclusion",
                                index=proof.bureau_index) from exc
