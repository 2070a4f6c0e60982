"""The SM3 tree rebuilt in a second process (ledger.sm3_worker) gives the audit the same result
as the in-process one: the same SM3 head on a clean ledger, and a forged sm3 line fails at the
same step and index (A6-SM3)."""

from __future__ import annotations

import pytest

from evidence.errors import VerificationError
from evidence.records import TreeHead
from integrity.audit import StoredCheckpoint, audit, audit_rows
from integrity.notes import parse_checkpoint_text, sign_checkpoint, split_note
from ledger import sm3_worker
from ledger.sm3_worker import Sm3Tee
from tests.support.keys import signer
from tests.support.memledger import MemLedger, sample_entry

STATION, LOG = signer("station-01", "station"), signer("log-1", "log")


def _ledger(n: int = 11) -> MemLedger:
    ledger = MemLedger(station=STATION, log=LOG)
    ledger.append([sample_entry(i) for i in range(5)])
    ledger.checkpoint()
    ledger.append([sample_entry(i) for i in range(5, n)])
    ledger.checkpoint()
    return ledger


def _in_worker(ledger: MemLedger, external: tuple[bytes, ...] = ()) -> TreeHead | None:
    sizes = [c.size for c in ledger.checkpoints] + [5]  # 5: where the external one is
    with Sm3Tee(sizes) as tee:
        return audit_rows(tee.rows((r.index, r.data, r.leaf_hash) for r in ledger.rows),
                          commits=ledger.commits, checkpoints=ledger.checkpoints,
                          origin=ledger.origin, keys=[STATION.public, LOG.public],
                          external=external, sm3_roots=tee.roots).sm3_head


def _in_process(ledger: MemLedger, external: tuple[bytes, ...] = ()) -> TreeHead | None:
    return audit(ledger.rows, commits=ledger.commits, checkpoints=ledger.checkpoints,
                 origin=ledger.origin, keys=[STATION.public, LOG.public],
                 external=external).sm3_head


def test_clean_ledger_same_sm3_head_in_either_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sm3_worker, "CHUNK_ROWS", 3)  # several chunks, one partial
    ledger = _ledger(n=23)
    assert _in_worker(ledger) == _in_process(ledger) == ledger.sm3_head()


@pytest.mark.parametrize("which", [0, 1])
def test_a_forged_sm3_line_fails_at_its_size_in_either_place(which: int) -> None:
    ledger = _ledger()
    size = ledger.checkpoints[which].size
    _, head, _ = parse_checkpoint_text(split_note(ledger.checkpoints[which].note)[0])
    forged = sign_checkpoint(ledger.origin, head, [LOG], sm3=TreeHead(size, bytes(32)))
    ledger.checkpoints[which] = StoredCheckpoint(size=size, note=forged.note)
    for run in (_in_worker, _in_process):
        with pytest.raises(VerificationError) as err:
            run(ledger)
        assert (err.value.step, err.value.index) == ("root-sm3", size)


def test_a_forged_external_checkpoint_fails_at_its_size() -> None:
    ledger = _ledger()
    small = MemLedger(station=STATION, log=LOG)
    small.append([sample_entry(i) for i in range(5)])
    forged = sign_checkpoint(ledger.origin, small.head(), [LOG], sm3=TreeHead(5, bytes(32)))
    for run in (_in_worker, _in_process):
        with pytest.raises(VerificationError) as err:
            run(ledger, (forged.note,))
        assert (err.value.step, err.value.index) == ("root-sm3", 5)
