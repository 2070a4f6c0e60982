"""The audit runner: docs/verification.md part A over a whole stored ledger, its rows streamed
from the store into the pure audit (``integrity.audit``), then the stored timestamp tokens (A8)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from evidence.errors import VerificationError
from integrity.audit import AuditReport, StoredCheckpoint, StoredCommit, audit_rows
from integrity.notes import split_note
from integrity.timestamp_sm import verify_timestamp
from integrity.trust import TrustRoot
from ledger.ports import LedgerReader


def run_audit(store: LedgerReader, trust: TrustRoot, *, external: Sequence[bytes] = (),
              deep: bool = False, check_sm3: bool = True) -> AuditReport:
    """Every leaf, commit and checkpoint of ``store`` against ``trust``'s origin and keys, and
    the ``external`` checkpoint notes kept outside the database (rollback detection); then
    every stored RFC 3161 token (SHA-256 or SM2/SM3) against ``trust``'s TSA roots (A8).
    Entries stream as plain tuples from the driver: no object per row for a million rows."""
    checkpoints = store.checkpoints()
    report = audit_rows(
        store.entry_rows(),
        commits=(StoredCommit(first=f, size=s, note=n) for f, s, n in store.commits()),
        checkpoints=[StoredCheckpoint(size=c.head.size, note=c.note) for c in checkpoints],
        origin=trust.origin, keys=trust.keys, external=external, deep=deep, check_sm3=check_sm3)
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
