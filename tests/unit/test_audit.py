"""The audit catches each attack of DESIGN.md §4, and says where."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.errors import VerificationError
from evidence.records import LedgerEntry, PublicKey
from integrity.audit import StoredCheckpoint, audit
from integrity.merkle import leaf_hash
from tests.support.keys import signer
from tests.support.memledger import MemLedger, sample_entry

STATION, LOG, OTHER = signer("station-01", "station"), signer("log-1", "log"), signer("evil", "log")


def build(*, last: bytes | None = None) -> tuple[MemLedger, list[bytes]]:
    """13 entries in three commits; checkpoints at 5 and 10; an external copy of one at 13."""
    ledger = MemLedger(station=STATION, log=LOG)
    ledger.append([sample_entry(i) for i in range(5)])
    ledger.checkpoint()
    head5 = ledger.head()
    ledger.append([sample_entry(i, prev=head5) for i in range(5, 10)])
    ledger.checkpoint()
    ledger.append([sample_entry(i) for i in range(10, 12)] + [last or sample_entry(12)])
    external = [MemLedger.checkpoint(ledger).note]
    ledger.checkpoints.pop()  # the size-13 checkpoint was only ever held outside the database
    return ledger, external


def run(ledger: MemLedger, *, external: list[bytes] | None = None,
        keys: list[PublicKey] | None = None, deep: bool = False) -> None:
    audit(ledger.rows, commits=ledger.commits, checkpoints=ledger.checkpoints,
          origin=ledger.origin, keys=keys or [STATION.public, LOG.public],
          external=external or [], deep=deep)


def test_clean_ledger_passes() -> None:
    ledger, external = build()
    report = audit(ledger.rows, commits=ledger.commits, checkpoints=ledger.checkpoints,
                   origin=ledger.origin, keys=[STATION.public, LOG.public], external=external,
                   deep=True)
    assert (report.head.size, report.commits, report.checkpoints) == (13, 3, 2)
    assert report.head == ledger.head() and report.latest_checkpoint == 10


def _swap(rows: list[LedgerEntry], a: int, b: int) -> None:
    ra, rb = rows[a], rows[b]
    rows[a] = dataclasses.replace(rb, index=a)
    rows[b] = dataclasses.replace(ra, index=b)


def _rewrite(rows: list[LedgerEntry], i: int) -> None:
    data = rows[i].data.replace(b'"size":100', b'"size":999')
    rows[i] = LedgerEntry(index=i, data=data, leaf_hash=leaf_hash(data))


def _renumber_after_delete(rows: list[LedgerEntry], i: int) -> None:
    del rows[i]
    rows[i:] = [dataclasses.replace(r, index=r.index - 1) for r in rows[i:]]


def _truncate_everything(ledger: MemLedger) -> None:
    del ledger.rows[10:]
    del ledger.commits[2:]


def _resign_first_commit(ledger: MemLedger) -> None:
    """Rewrite entry 2, recompute every hash and re-sign the commit with a key not trusted."""
    forged = MemLedger(station=signer("station-01", "station-forged"), log=LOG)
    _rewrite(ledger.rows, 2)
    forged.append([r.data for r in ledger.rows[:5]], signer=signer("station-01x", "station"))
    ledger.commits[0] = forged.commits[0]
    ledger.checkpoints.clear()


Attack = Callable[[MemLedger], object]
ATTACKS: list[tuple[str, Attack, str, int, str]] = [
    # name, attack, failing step, index, words in the reason
    ("row_deleted", lambda g: g.rows.pop(3), "sequence", 3, "deleted"),
    ("row_deleted_renumbered", lambda g: _renumber_after_delete(g.rows, 3), "commit", 0,
     "do not rebuild"),
    ("rows_truncated", lambda g: g.rows.__delitem__(slice(11, None)), "commit", 11, "truncated"),
    ("rows_reordered", lambda g: _swap(g.rows, 6, 7), "commit", 5, "do not rebuild"),
    ("entry_rewritten_hashes_recomputed", lambda g: _rewrite(g.rows, 2), "commit", 0,
     "do not rebuild"),
    ("entry_rewritten_commit_resigned", _resign_first_commit, "commit", 0,
     "no signature from a trusted key"),
    ("commit_note_forged", lambda g: g.commits.__setitem__(
        0, dataclasses.replace(g.commits[0], note=g.commits[0].note.replace(b"\n5\n", b"\n4\n"))),
     "commit", 0, "bad signature"),
    ("entry_outside_any_commit", lambda g: g.rows.append(
        LedgerEntry(13, sample_entry(13), leaf_hash(sample_entry(13)))), "commit", 13,
     "no signed commit"),
]


@pytest.mark.parametrize(("name", "attack", "step", "index", "why"), ATTACKS,
                         ids=[a[0] for a in ATTACKS])
def test_attack_is_detected(name: str, attack: Attack, step: str, index: int, why: str) -> None:
    ledger, _ = build()
    attack(ledger)
    with pytest.raises(VerificationError) as err:
        run(ledger)
    assert (err.value.step, err.value.index) == (step, index), err.value
    assert why in err.value.reason


def test_deep_audit_catches_a_deleted_checkpoint_that_entries_refer_to() -> None:
    ledger, _ = build()
    run(ledger, deep=True)
    ledger.checkpoints.pop(0)
    run(ledger)  # the structure alone still holds...
    with pytest.raises(VerificationError) as err:
        run(ledger, deep=True)  # ...but entry 5 names the size-5 checkpoint, which is gone
    assert (err.value.step, err.value.index) == ("entry", 5)
    assert "checkpoint deleted" in err.value.reason


def test_rollback_below_an_external_checkpoint() -> None:
    ledger, external = build()
    run(ledger, external=external)
    _truncate_everything(ledger)  # a consistent-looking ledger of 10: only the outside copy knows
    run(ledger)
    with pytest.raises(VerificationError) as err:
        run(ledger, external=external)
    assert (err.value.step, err.value.index) == ("rollback", 10)
    assert "truncated or rolled back" in err.value.reason


def test_split_view_between_two_checkpoints() -> None:
    ledger, _ = build()
    _, fork_view = build(last=b"another entry 12")  # the log key signs a second tree of size 13...
    with pytest.raises(VerificationError) as err:
        run(ledger, external=fork_view)  # ...which this ledger cannot reproduce
    assert (err.value.step, err.value.index) == ("root", 13)
    assert "split view" in err.value.reason


def test_checkpoint_by_an_unknown_key_is_refused() -> None:
    ledger, _ = build()
    ledger.checkpoints[1] = MemLedger.checkpoint(dataclasses.replace(ledger, checkpoints=[]),
                                                 OTHER)
    ledger.checkpoints[1] = StoredCheckpoint(10, ledger.checkpoints[1].note)
    with pytest.raises(VerificationError) as err:
        run(ledger)
    assert (err.value.step, err.value.index) == ("signature", 10)
    assert "no signature from a trusted key" in err.value.reason


def test_key_used_outside_its_validity_is_refused() -> None:
    ledger, _ = build()
    expired = dataclasses.replace(LOG.public, valid_until=8)
    with pytest.raises(VerificationError) as err:
        run(ledger, keys=[STATION.public, expired])
    assert (err.value.step, err.value.index) == ("signature", 10)
    assert "outside its validity" in err.value.reason


def test_planned_rotation_with_a_checkpoint_signed_by_both_keys() -> None:
    new_log = signer("log-2", "log")
    ledger, _ = build()
    ledger.checkpoints.pop()
    ledger.checkpoint(LOG, new_log)  # rotation at size 13, signed by both
    ledger.append([sample_entry(13)])
    ledger.checkpoint(new_log)
    old = dataclasses.replace(LOG.public, valid_until=14)
    new = dataclasses.replace(new_log.public, valid_from=13)
    run(ledger, keys=[STATION.public, old, new])
    ledger.checkpoint(LOG)  # the retired key signs again: refused
    with pytest.raises(VerificationError, match="outside its validity"):
        run(ledger, keys=[STATION.public, old, new])


LEDGER, _ = build()
FLIPS = st.tuples(st.sampled_from(["data", "leaf_hash", "checkpoint"]), st.integers(0, 10**6),
                  st.integers(0, 10**6), st.integers(1, 255))


@settings(max_examples=300, deadline=None)
@given(FLIPS)
def test_any_flipped_byte_fails_at_its_index(flip: tuple[str, int, int, int]) -> None:
    where, which, offset, mask = flip
    ledger = dataclasses.replace(LEDGER, rows=list(LEDGER.rows),
                                 checkpoints=list(LEDGER.checkpoints))
    if where == "checkpoint":
        k = which % len(ledger.checkpoints)
        cp = ledger.checkpoints[k]
        note = bytearray(cp.note)
        note[offset % len(note)] ^= mask
        ledger.checkpoints[k] = StoredCheckpoint(cp.size, bytes(note))
        expected = cp.size
    else:
        i = which % len(ledger.rows)
        row = ledger.rows[i]
        value = bytearray(getattr(row, where))
        value[offset % len(value)] ^= mask
        flipped = bytes(value)
        ledger.rows[i] = (dataclasses.replace(row, data=flipped) if where == "data"
                          else dataclasses.replace(row, leaf_hash=flipped))
        expected = i
    with pytest.raises(VerificationError) as err:
        run(ledger, deep=False)
    assert err.value.index == expected, err.value
