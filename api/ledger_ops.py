"""Read-side ledger use cases for auditors: full audit, bundle export, key rotation."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from api.compose import Ledger, _new_signer, save_trust
from evidence.errors import NotFoundError
from evidence.ids import Origin, is_sha256_hex
from evidence.records import Checkpoint, EntryKind, LedgerEntry, PublicKey
from ingest.files import write_atomic
from integrity.audit import AuditReport, StoredCheckpoint, StoredCommit, audit_rows
from integrity.bundle import TlogProof, make_bundle
from integrity.notes import sign_checkpoint
from integrity.notes import vkey as format_vkey
from storage.ledger_store import SqlLedgerStore


def run_audit(ledger: Ledger, *, external: Sequence[bytes] = (), deep: bool = False) -> AuditReport:
    """docs/verification.md part A over the whole stored ledger, streaming its rows."""
    return audit_store(ledger.store, origin=ledger.origin, keys=ledger.trust.keys,
                       external=external, deep=deep)


def audit_store(store: SqlLedgerStore, *, origin: Origin, keys: Sequence[PublicKey],
                external: Sequence[bytes] = (), deep: bool = False) -> AuditReport:
    """The audit of :func:`run_audit` on a store and keys given directly (``bench`` times it).
    Entries stream as plain tuples from the driver: no object per row for a million rows."""
    return audit_rows(
        store.entry_rows(),
        commits=(StoredCommit(first=f, size=s, note=n) for f, s, n in store.commits()),
        checkpoints=[StoredCheckpoint(size=c.head.size, note=c.note) for c in store.checkpoints()],
        origin=origin, keys=keys, external=external, deep=deep)


def find_entry(ledger: Ledger, ref: str) -> LedgerEntry:
    """An entry by ledger index, or the first entry whose subject is the given SHA-256."""
    if ref.isdigit():
        return ledger.store.entry(int(ref))
    if not is_sha256_hex(ref):
        raise NotFoundError(f"{ref!r} is neither a ledger index nor a lowercase SHA-256")
    found = ledger.store.find(ref)
    if not found:
        raise NotFoundError(f"no ledger entry names {ref}")
    return found[0]


def _covering_checkpoint(ledger: Ledger, index: int) -> Checkpoint:
    """The latest checkpoint covering ``index``, preferring one that carries timestamps."""
    covering = [c for c in ledger.store.checkpoints() if c.head.size > index]
    if not covering:
        raise NotFoundError(f"entry {index} is not under a checkpoint yet; publish one first")
    stamped = [c for c in covering if ledger.store.timestamps(c.head.size)]
    return (stamped or covering)[-1]


def export_bundle(ledger: Ledger, ref: str) -> bytes:
    row = find_entry(ledger, ref)
    checkpoint = _covering_checkpoint(ledger, row.index)
    proof = TlogProof(index=row.index,
                      hashes=tuple(ledger.store.inclusion_proof(row.index, checkpoint.head.size)),
                      checkpoint=checkpoint.note)
    return make_bundle(entry=row.data, proof=proof,
                       timestamps=ledger.store.timestamps(checkpoint.head.size), trust=ledger.trust)


def rotate_log_key(ledger: Ledger, *, actor: str) -> Checkpoint:
    """Planned rotation (docs/ledger-format.md §Keys): a ``key_rotated`` entry, then a checkpoint
    at size R signed by both keys; the old key is valid for sizes < R+1, the new from R on."""
    new = _new_signer(ledger.settings, name=ledger.log.name, role="log")
    ledger.writer.record(EntryKind.KEY_ROTATED, new.public.key_id, {
        "role": "log", "old": format_vkey(ledger.log.public), "new": format_vkey(new.public)},
        actor=actor)
    head = ledger.store.head()
    checkpoint = sign_checkpoint(ledger.origin, head, [ledger.log, new])
    old_id = ledger.log.public.key_id
    keys = [dataclasses.replace(k, valid_until=head.size + 1)
            if k.role == "log" and k.key_id == old_id else k for k in ledger.trust.keys]
    keys.append(dataclasses.replace(new.public, valid_from=head.size))
    ledger.trust = ledger.trust.with_keys(keys)
    save_trust(ledger.settings, ledger.trust)
    ledger.store.add_checkpoint(checkpoint)
    write_atomic(ledger.latest_note_path, checkpoint.note)
    ledger.log = new
    return checkpoint
