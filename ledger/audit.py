"""The audit runner: docs/verification.md part A over a whole stored ledger, its rows streamed
from the store into the pure audit (``integrity.audit``), then the stored timestamp tokens (A8)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from evidence.errors import VerificationError
from integrity.audit import (
    AuditReport,
    EntryRow,
    Sm3Roots,
    StoredCheckpoint,
    StoredCommit,
    audit_rows,
)
from integrity.notes import parse_checkpoint_text, split_note
from integrity.timestamp_sm import verify_timestamp
from integrity.trust import TrustRoot
from ledger.ports import LedgerReader
from ledger.sm3_worker import Sm3Tee


def run_audit(store: LedgerReader, trust: TrustRoot, *, external: Sequence[bytes] = (),
              deep: bool = False, check_sm3: bool = True) -> AuditReport:
    """Every leaf, commit and checkpoint of ``store`` against ``trust``'s origin and keys, and
    the ``external`` checkpoint notes kept outside the database (rollback detection); then
    every stored RFC 3161 token (SHA-256 or SM2/SM3) against ``trust``'s TSA roots (A8).
    Entries stream as plain tuples from the driver: no object per row for a million rows; the
    SM3 tree is rebuilt from the same rows in a second process (``ledger.sm3_worker``)."""
    checkpoints = store.checkpoints()
    def audit_of(rows: Iterable[EntryRow], sm3_roots: Sm3Roots | None) -> AuditReport:
        return audit_rows(
            rows, commits=(StoredCommit(first=f, size=s, note=n) for f, s, n in store.commits()),
            checkpoints=[StoredCheckpoint(size=c.head.size, note=c.note) for c in checkpoints],
            origin=trust.origin, keys=trust.keys, external=external, deep=deep,
            check_sm3=check_sm3, sm3_roots=sm3_roots)

    if check_sm3:
        sizes = {c.head.size for c in checkpoints} | set(_sizes_of(external))
        with Sm3Tee(sizes) as tee:
            report = audit_of(tee.rows(store.entry_rows()), tee.roots)
    else:
        report = audit_of(store.entry_rows(), None)
    # (A8) each stored token covers its checkpoint's body and chains to a trusted TSA root.
    verified = 0
    for checkpoint in checkpoints:
        tokens = store.timestamps(checkpoint.head.size)
        if tokens and not trust.tsa_roots:
            raise VerificationError("checkpoint has timestamps but the trust root names no TSA "
                                    "root", step="A8", index=checkpoint.head.size)
        body, _ = split_note(checkpoint.note)
        for name, token in tokens:
            try:
                verify_timestamp(token, message=body, roots=trust.tsa_roots)
            except VerificationError as exc:
                raise VerificationError(f"timestamp from {name}: {exc.reason}", step="A8",
                                        index=checkpoint.head.size) from exc
            verified += 1
    return dataclasses.replace(report, timestamps=verified)


def _sizes_of(notes: Sequence[bytes]) -> list[int]:
    """The tree sizes external checkpoint notes claim (unverified: only to tell the SM3 worker
    where to note roots; the audit opens and verifies each note itself)."""
    sizes = []
    for note in notes:
        try:
            _, head, _ = parse_checkpoint_text(split_note(note)[0])
        except VerificationError:
            continue
        sizes.append(head.size)
    return sizes
