"""The audit rebuilds the SM3 tree beside the SHA-256 one and checks every checkpoint's sm3
line against it (docs/verification.md A6-SM3), naming the step and the size."""

from __future__ import annotations

import base64

import pytest

from evidence.errors import VerificationError
from evidence.ids import Origin
from evidence.records import TreeHead
from integrity.audit import StoredCheckpoint, audit
from integrity.notes import checkpoint_text, parse_checkpoint_text, sign_checkpoint
from tests.support.keys import signer
from tests.support.memledger import MemLedger, sample_entry

STATION, LOG = signer("station-01", "station"), signer("log-1", "log")


def _ledger() -> MemLedger:
    ledger = MemLedger(station=STATION, log=LOG)
    ledger.append([sample_entry(i) for i in range(5)])
    ledger.checkpoint()
    ledger.append([sample_entry(i) for i in range(5, 11)])
    ledger.checkpoint()
    return ledger


def _run(ledger: MemLedger, *, check_sm3: bool = True) -> TreeHead | None:
    return audit(ledger.rows, commits=ledger.commits, checkpoints=ledger.checkpoints,
                 origin=ledger.origin, keys=[STATION.public, LOG.public],
                 check_sm3=check_sm3).sm3_head


def test_clean_ledger_rebuilds_both_trees() -> None:
    ledger = _ledger()
    assert _run(ledger) == ledger.sm3_head() != None  # noqa: E711 - both, and not None
    assert b"\nsm3 11 " in ledger.checkpoints[-1].note


def test_a_signed_checkpoint_with_another_sm3_root_fails_at_root_sm3() -> None:
    ledger = _ledger()
    head = ledger.head()
    forged = sign_checkpoint(ledger.origin, head, [LOG], sm3=TreeHead(head.size, bytes(32)))
    ledger.checkpoints[-1] = StoredCheckpoint(size=head.size, note=forged.note)
    with pytest.raises(VerificationError) as err:
        _run(ledger)
    assert (err.value.step, err.value.index) == ("root-sm3", 11)
    assert _run(ledger, check_sm3=False) is None  # the measuring mode does not look


def test_an_altered_sm3_line_breaks_the_signature() -> None:
    ledger = _ledger()
    cp = ledger.checkpoints[0]
    line = f"sm3 5 {base64.b64encode(ledger.sm3_head().root).decode()}"  # another tree's root
    text, _, sigs = cp.note.partition(b"\n\n")
    head_lines = text.split(b"\n")
    assert head_lines[3].startswith(b"sm3 5 ")
    head_lines[3] = line.encode()
    ledger.checkpoints[0] = StoredCheckpoint(size=5, note=b"\n".join(head_lines) + b"\n\n" + sigs)
    with pytest.raises(VerificationError) as err:
        _run(ledger)
    assert (err.value.step, err.value.index) == ("signature", 5)


def test_checkpoints_from_before_the_sm3_tree_still_audit() -> None:
    ledger = _ledger()
    head = ledger.head()
    legacy = sign_checkpoint(ledger.origin, head, [LOG])  # no sm3 line
    ledger.checkpoints[-1] = StoredCheckpoint(size=head.size, note=legacy.note)
    assert b"sm3" not in legacy.note
    assert _run(ledger) == ledger.sm3_head()


ROOT_B64 = base64.b64encode(bytes(range(32))).decode()


@pytest.mark.parametrize(("extensions", "error"), [
    ([f"sm3 3 {ROOT_B64}"], None),
    ([f"sm3 3 {ROOT_B64}", "other-ext 1"], None),  # unknown extension lines are skipped
    ([f"sm3 3 {ROOT_B64}", f"sm3 3 {ROOT_B64}"], "more than one sm3 line"),
    ([f"sm3 4 {ROOT_B64}"], "sm3 line names size 4"),
    ([f"sm3 3 {ROOT_B64} x"], "malformed sm3 line"),
    (["sm3 3 AAAA"], "root is not 32 bytes"),
])
def test_the_sm3_line_is_parsed_strictly(extensions: list[str], error: str | None) -> None:
    text = "\n".join(["liuhen.test/ledger/v1", "3", ROOT_B64, *extensions]).encode() + b"\n"
    if error is None:
        _, head, sm3 = parse_checkpoint_text(text)
        assert sm3 == TreeHead(3, bytes(range(32))) and head.size == 3
        return
    with pytest.raises(VerificationError, match=error):
        parse_checkpoint_text(text)


def test_the_sm3_line_round_trips_and_must_have_the_checkpoint_size() -> None:
    head, sm3 = TreeHead(3, bytes(32)), TreeHead(3, bytes(range(32)))
    text = checkpoint_text(Origin("o"), head, sm3=sm3)
    assert text == f"o\n3\n{base64.b64encode(bytes(32)).decode()}\nsm3 3 {ROOT_B64}\n".encode()
    assert parse_checkpoint_text(text) == ("o", head, sm3)
    with pytest.raises(ValueError, match="SM3 tree size"):
        checkpoint_text(Origin("o"), head, sm3=TreeHead(2, bytes(32)))
