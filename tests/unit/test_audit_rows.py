"""``audit_rows`` (entries as driver tuples, what ``liuhen audit`` streams) reaches the same verdict
as ``audit`` over LedgerEntry rows: same report, same step, index and reason for every attack."""

from __future__ import annotations

import functools

from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.errors import VerificationError
from evidence.records import LedgerEntry
from integrity.audit import AuditReport, audit, audit_rows
from tests.support.memledger import MemLedger
from tests.unit.test_audit import ATTACKS, LOG, STATION, build

Verdict = AuditReport | tuple[str | None, int | None, str]


def _verdicts(ledger: MemLedger, external: list[bytes], *,
              deep: bool) -> tuple[Verdict, Verdict]:
    keys = [STATION.public, LOG.public]
    rows = [(r.index, r.data, r.leaf_hash) for r in ledger.rows]
    out: list[Verdict] = []
    for run in (functools.partial(audit, ledger.rows), functools.partial(audit_rows, rows)):
        try:
            out.append(run(commits=ledger.commits, checkpoints=ledger.checkpoints,
                           origin=ledger.origin, keys=keys, external=external, deep=deep))
        except VerificationError as exc:
            out.append((exc.step, exc.index, exc.reason))
    return out[0], out[1]


def test_same_verdict_for_every_attack() -> None:
    for _, attack, step, index, _ in ATTACKS:
        ledger, external = build()
        attack(ledger)
        by_entry, by_row = _verdicts(ledger, external, deep=False)
        assert by_entry == by_row
        assert isinstance(by_row, tuple) and by_row[:2] == (step, index)
        deep_entry, deep_row = _verdicts(ledger, external, deep=True)
        assert deep_entry == deep_row


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 12), st.integers(0, 40))
def test_flipping_any_byte_of_any_entry_fails_at_that_index(i: int, at: int) -> None:
    ledger, external = build()
    row = ledger.rows[i]
    flipped = bytearray(row.data)
    flipped[at % len(flipped)] ^= 0x01
    ledger.rows[i] = LedgerEntry(row.index, bytes(flipped), row.leaf_hash)
    by_entry, by_row = _verdicts(ledger, external, deep=False)
    assert by_entry == by_row == ("leaf", i, "entry bytes do not hash to the stored leaf hash")


def test_clean_ledger_same_report() -> None:
    ledger, external = build()
    by_entry, by_row = _verdicts(ledger, external, deep=True)
    assert isinstance(by_row, AuditReport) and by_entry == by_row
