"""Ledger entry bytes: ``liuhen/entry/v1\\n`` + RFC 8785 canonical JSON (docs/ledger-format.md).

The entry bytes are stored verbatim and are the only bytes ever hashed; decoding exists to read
them, never to rebuild them.
"""

from __future__ import annotations

from evidence.errors import VerificationError
from evidence.ids import StationId
from evidence.ledgertime import format_time, parse_time
from evidence.records import Entry, EntryKind, TreeHead
from integrity.canonical import canonical_json, parse_canonical

DOMAIN = b"liuhen/entry/v1\n"
MAX_ENTRY_BYTES = 0xFFFF  # describes evidence, never carries it; fits a uint16 (tile bundles)
_FIELDS = {"kind", "subject", "body", "station", "actor", "at", "prev_checkpoint"}


def encode_entry(entry: Entry) -> bytes:
    """The canonical bytes of ``entry``; ValueError if a body value has no canonical form."""
    prev = entry.prev_checkpoint
    fields: dict[str, object] = {
        "kind": entry.kind.value,
        "subject": entry.subject,
        "body": entry.body,
        "station": entry.station,
        "actor": entry.actor,
        "at": format_time(entry.at),
        "prev_checkpoint": None if prev is None else {"size": prev.size, "root": prev.root.hex()},
    }
    data = DOMAIN + canonical_json(fields)
    if len(data) > MAX_ENTRY_BYTES:
        raise ValueError(f"entry is {len(data)} bytes, over the {MAX_ENTRY_BYTES}-byte limit")
    return data


def decode_entry(data: bytes) -> Entry:
    """Parse verbatim entry bytes; VerificationError(step="entry") if they are not a v1 entry."""
    if len(data) > MAX_ENTRY_BYTES:
        raise VerificationError("entry exceeds the size limit", step="entry")
    if not data.startswith(DOMAIN):
        raise VerificationError("entry does not start with the liuhen/entry/v1 domain line",
                                step="entry")
    value = parse_canonical(data[len(DOMAIN):])
    if not isinstance(value, dict) or set(value) != _FIELDS:
        raise VerificationError(f"entry fields must be exactly {sorted(_FIELDS)}", step="entry")
    try:
        kind = EntryKind(value["kind"])
        subject, station, actor = value["subject"], value["station"], value["actor"]
        body, prev = value["body"], value["prev_checkpoint"]
        if not (isinstance(subject, str) and isinstance(station, str) and isinstance(actor, str)
                and isinstance(body, dict) and isinstance(value["at"], str)):
            raise ValueError("field of the wrong type")
        head = None
        if prev is not None:
            if not isinstance(prev, dict) or set(prev) != {"size", "root"}:
                raise ValueError("prev_checkpoint must be {size, root}")
            root_hex, size = prev["root"], prev["size"]
            if not isinstance(root_hex, str) or not isinstance(size, int) or size < 0:
                raise ValueError("prev_checkpoint has the wrong types")
            root = bytes.fromhex(root_hex)
            if len(root) != 32 or root.hex() != root_hex:
                raise ValueError("prev_checkpoint.root must be 64 lowercase hex digits")
            head = TreeHead(size=size, root=root)
        at = parse_time(value["at"])
    except (ValueError, KeyError) as exc:
        raise VerificationError(f"malformed entry: {exc}", step="entry") from exc
    return Entry(kind=kind, subject=subject, body=body, station=StationId(station), actor=actor,
                 at=at, prev_checkpoint=head)
