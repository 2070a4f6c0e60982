"""The audit runner: docs/verification.md part A over a whole stored ledger, its rows streamed
from the store into the pure audit (``integrity.audit``)."""

from __future__ import annotations

from collections.abc import Sequence

from integrity.audit import AuditReport, StoredCheckpoint, StoredCommit, audit_rows
from integrity.trust import TrustRoot
from ledger.ports import LedgerReader


def run_audit(store: LedgerReader, trust: TrustRoot, *, external: Sequence[bytes] = (),
              deep: bool = False, check_sm3: bool = True) -> AuditReport:
    """Every leaf, commit and checkpoint of ``store`` against ``trust``'s origin and keys, and
    the ``external`` checkpoint notes kept outside the database (rollback detection).
    Entries stream as plain tuples from the driver: no object per row for a million rows."""
    return audit_rows(
        store.entry_rows(),
        commits=(StoredCommit(first=f, size=s, note=n) for f, s, n in store.commits()),
        checkpoints=[StoredCheckpoint(size=c.head.size, note=c.note) for c in store.checkpoints()],
        origin=trust.origin, keys=trust.keys, external=external, deep=deep, check_sm3=check_sm3)
