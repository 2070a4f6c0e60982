"""SM2 signature lines in C2SP signed notes (docs/ledger-format.md §4, §5): verifier keys of both
algorithms, the key-id rule, and the rule that a signer holding an SM2 key valid at a size must
sign with it, so the SM2 line cannot be stripped from checkpoints, commits or the audit."""

from __future__ import annotations

import base64
import dataclasses
from hashlib import sha256

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from evidence.errors import VerificationError
from evidence.records import LedgerEntry, PublicKey, TreeHead
from integrity import sm2
from integrity.audit import StoredCheckpoint, StoredCommit, audit
from integrity.merkle import TreeBuilder, leaf_hash
from integrity.notes import (
    commit_text,
    open_checkpoint,
    parse_vkey,
    sign_checkpoint,
    sign_note,
    split_note,
    verify_note,
    vkey,
)
from integrity.trust import TrustRoot
from jobs.disposal import CERT_HEADER, verify_certificate
from tests.support.keys import signer, sm2_signer
from tests.support.memledger import ORIGIN, sample_entry

LOG_NAME = "liuhen.test-bureau/log"
LOG_ED, LOG_SM2 = signer(LOG_NAME, "log"), sm2_signer(LOG_NAME, "log")
STATION_ED, STATION_SM2 = signer("station-01", "station"), sm2_signer("station-01", "station")
HEAD = TreeHead(7, bytes(range(32)))


def _strip(note: bytes, key: PublicKey) -> bytes:
    """The note without ``key``'s signature line."""
    text, sigs = split_note(note)
    kept = [s for s in sigs if s.key_id.hex() != key.key_id]
    assert len(kept) == len(sigs) - 1
    lines = "".join(f"\u2014 {s.name} {base64.b64encode(s.key_id + s.signature).decode()}\n"
                    for s in kept)
    return text + b"\n" + lines.encode()


def test_sm2_vkey_round_trips_with_the_key_id_rule() -> None:
    key = LOG_SM2.public
    assert key.algorithm == "sm2" and len(key.raw) == 65 and key.raw[0] == 4
    want = sha256(key.name.encode() + b"\n\xffgbt32918-sm2-sm3" + key.raw).digest()[:4]
    assert key.key_id == want.hex()
    text = vkey(key)
    assert base64.b64decode(text.split("+")[2]) == b"\xffgbt32918-sm2-sm3" + key.raw
    assert parse_vkey(text, role="log") == key
    assert parse_vkey(vkey(LOG_ED.public), role="log") == LOG_ED.public  # Ed25519 unchanged
    trust = TrustRoot(origin=ORIGIN, keys=(LOG_ED.public, key))
    assert TrustRoot.from_json(trust.to_json()) == trust


@pytest.mark.parametrize(("mangle", "reason"), [
    (lambda name, hid, blob: (name, "00000000", blob), "wrong key id"),
    (lambda name, hid, blob: (name, hid, blob[:-1]), "neither Ed25519 nor SM2"),
    (lambda name, hid, blob: (name, hid, b"\x02" + blob[1:]), "neither Ed25519 nor SM2"),
    (lambda name, hid, blob: (name, hid, blob[:-1] + bytes([blob[-1] ^ 1])), "not a point"),
])
def test_bad_sm2_vkeys_are_refused(mangle: object, reason: str) -> None:
    name, hid, b64 = vkey(LOG_SM2.public).split("+")
    assert callable(mangle)
    name, hid, blob = mangle(name, hid, base64.b64decode(b64))
    with pytest.raises(VerificationError, match=reason) as err:
        parse_vkey(f"{name}+{hid}+{base64.b64encode(blob).decode()}", role="log")
    assert err.value.step == "keys"


def test_dual_signed_checkpoint_opens_and_neither_line_can_be_stripped() -> None:
    keys = [LOG_ED.public, LOG_SM2.public]
    cp = sign_checkpoint(ORIGIN, HEAD, [LOG_ED, LOG_SM2])
    assert open_checkpoint(cp.note, origin=ORIGIN, keys=keys) == cp
    for stripped, missing in ((LOG_SM2.public, "sm2"), (LOG_ED.public, "ed25519")):
        with pytest.raises(VerificationError, match=f"no {missing} signature") as err:
            open_checkpoint(_strip(cp.note, stripped), origin=ORIGIN, keys=keys)
        assert (err.value.step, err.value.index) == ("signature", 7)


def test_a_tampered_sm2_signature_fails_where_it_is() -> None:
    cp = sign_checkpoint(ORIGIN, HEAD, [LOG_ED, LOG_SM2])
    text, sigs = split_note(cp.note)
    sm2_sig = next(s for s in sigs if s.key_id.hex() == LOG_SM2.public.key_id)
    r, s = decode_dss_signature(sm2_sig.signature)
    forged = encode_dss_signature(r, s ^ 1)
    note = cp.note.replace(base64.b64encode(sm2_sig.key_id + sm2_sig.signature),
                           base64.b64encode(sm2_sig.key_id + forged))
    with pytest.raises(VerificationError, match=r"bad signature by .* \(sm2\)") as err:
        open_checkpoint(note, origin=ORIGIN, keys=[LOG_ED.public, LOG_SM2.public])
    assert (err.value.step, err.value.index) == ("signature", 7)
    with pytest.raises(VerificationError, match="bad SM2 signature"):  # tampered text
        sm2.verify(LOG_SM2.public.raw, text.replace(b"7", b"8"), sm2_sig.signature)


def test_sm2_key_not_yet_valid_is_not_required_and_unknown_sm2_keys_are_ignored() -> None:
    later = dataclasses.replace(LOG_SM2.public, valid_from=8)
    ed_only = sign_checkpoint(ORIGIN, HEAD, [LOG_ED])
    open_checkpoint(ed_only.note, origin=ORIGIN, keys=[LOG_ED.public, later])
    with pytest.raises(VerificationError, match="no sm2 signature"):
        open_checkpoint(ed_only.note, origin=ORIGIN, keys=[LOG_ED.public, LOG_SM2.public])
    both = sign_checkpoint(ORIGIN, HEAD, [LOG_ED, LOG_SM2])
    open_checkpoint(both.note, origin=ORIGIN, keys=[LOG_ED.public])  # an Ed25519-only verifier
    with pytest.raises(VerificationError, match="outside its validity"):
        open_checkpoint(both.note, origin=ORIGIN, keys=[LOG_ED.public, later])


def test_sm2_alone_verifies_a_note() -> None:
    note = sign_note(commit_text(ORIGIN, 0, HEAD), [STATION_SM2])
    text, good = verify_note(note, [STATION_SM2.public], size=7)
    assert good == [STATION_SM2.public] and text == commit_text(ORIGIN, 0, HEAD)


def _ledger(strip_sm2_from: int | None) -> tuple[list[LedgerEntry], list[StoredCommit],
                                                  list[StoredCheckpoint]]:
    rows, commits, tree = [], [], TreeBuilder()
    for n, batch in enumerate(([0, 1, 2], [3, 4], [5, 6])):
        first = tree.size
        for i in batch:
            data = sample_entry(i)
            rows.append(LedgerEntry(index=i, data=data, leaf_hash=leaf_hash(data)))
            tree.append(leaf_hash(data))
        note = sign_note(commit_text(ORIGIN, first, TreeHead(tree.size, tree.root())),
                         [STATION_ED, STATION_SM2])
        if n == strip_sm2_from:
            note = _strip(note, STATION_SM2.public)
        commits.append(StoredCommit(first=first, size=tree.size, note=note))
    cp = sign_checkpoint(ORIGIN, TreeHead(tree.size, tree.root()), [LOG_ED, LOG_SM2])
    return rows, commits, [StoredCheckpoint(size=tree.size, note=cp.note)]


KEYS = [STATION_ED.public, STATION_SM2.public, LOG_ED.public, LOG_SM2.public]


def test_audit_checks_sm2_commit_signatures() -> None:
    rows, commits, checkpoints = _ledger(strip_sm2_from=None)
    report = audit(rows, commits=commits, checkpoints=checkpoints, origin=ORIGIN, keys=KEYS)
    assert report.head.size == 7 and report.commits == 3
    rows, commits, checkpoints = _ledger(strip_sm2_from=1)
    with pytest.raises(VerificationError, match="station-01 holds a sm2 key valid at tree size 5 "
                                                "but the note has no sm2 signature") as err:
        audit(rows, commits=commits, checkpoints=checkpoints, origin=ORIGIN, keys=KEYS)
    assert (err.value.step, err.value.index) == ("commit", 3)


def test_disposal_certificates_carry_the_sm2_line_too() -> None:
    note = sign_note(CERT_HEADER + b'\n{"tree_size":5,"what":{"sha256":"ab"}}\n',
                     [STATION_ED, STATION_SM2])
    keys = [STATION_ED.public, STATION_SM2.public]
    assert verify_certificate(note, keys)["tree_size"] == 5
    with pytest.raises(VerificationError, match="no sm2 signature") as err:
        verify_certificate(_strip(note, STATION_SM2.public), keys)
    assert (err.value.step, err.value.index) == ("signature", 5)
