"""KEK rotation for encryption at rest (docs/adr/0010-sm4-envelope.md §Rotation): a new KEK,
every data key re-wrapped under it in the database, one ``key_rotated`` entry (role ``kek``).

No object is read or rewritten: the locked evidence stays as it is. The entry commits to the
new wrappings (``rewrapped_sha256``: SHA-256 over the sorted lines ``store key kek wrapped-hex``)
so that the database's keys after the rotation can be checked against the ledger. The earlier
KEK is retired, not destroyed: the ``stored`` entries' first wrappings still open with it.

Concurrency: run it while nothing else rotates (the CLI holds the ledger); a put during the
rotation wraps under whichever KEK was current and is re-wrapped by the next rotation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from evidence.bodies import KeyRotatedBody
from ledger.appending import LedgerWriter
from ledger.ports import KeyService, WrappedKeys

ROLE = "kek"


@dataclass(frozen=True, slots=True)
class KekRotation:
    old: str
    new: str
    rewrapped: int
    index: int
    """The ``key_rotated`` entry's ledger index."""


def rotate_kek(keys: KeyService, records: WrappedKeys, *, writer: LedgerWriter,
               actor: str) -> KekRotation:
    """Make a new KEK current, re-wrap every data key under it, and ledger the rotation."""
    old = keys.current_kek_id()
    new = keys.rotate()
    lines = []
    for record in list(records.all()):
        context = record.object_key.encode()
        wrapped = record.wrapped_key
        if record.kek_id != new:
            data_key = keys.unwrap(record.kek_id, record.wrapped_key, context=context)
            _, wrapped = keys.wrap(data_key, context=context)
            records.rewrap(record.store_url, record.object_key, old_kek_id=record.kek_id,
                           kek_id=new, wrapped_key=wrapped)
        lines.append(f"{record.store_url} {record.object_key} {new} {wrapped.hex()}")
    digest = hashlib.sha256("".join(f"{line}\n" for line in sorted(lines)).encode()).hexdigest()
    receipt = writer.append(KeyRotatedBody(role=ROLE, old=old, new=new, objects=len(lines),
                                           rewrapped_sha256=digest), subject=new, actor=actor)
    return KekRotation(old=old, new=new, rewrapped=len(lines), index=receipt.index)
