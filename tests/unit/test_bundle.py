"""Bundles verify offline, and each broken part fails at its step of docs/verification.md B."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from evidence.errors import VerificationError
from integrity.bundle import TlogProof, make_bundle, verify_bundle
from integrity.merkle import inclusion_proof
from integrity.trust import TrustRoot
from tests.support.keys import signer, sm2_signer
from tests.support.memledger import MemLedger, sample_entry

STATION, LOG = signer("station-01", "station"), signer("log-1", "log")


def _bundle(index: int = 5) -> tuple[bytes, TrustRoot]:
    ledger = MemLedger(station=STATION, log=LOG)
    ledger.append([sample_entry(i) for i in range(9)])
    cp = ledger.checkpoint()
    proof = TlogProof(index=index, hashes=tuple(inclusion_proof(
        [r.leaf_hash for r in ledger.rows], index)), checkpoint=cp.note)
    trust = TrustRoot(origin=ledger.origin, keys=(STATION.public, LOG.public))
    return make_bundle(entry=ledger.rows[index].data, proof=proof, timestamps=[],
                       trust=trust), trust


def _edit(bundle: bytes, **changes: object) -> bytes:
    value = json.loads(bundle)
    value.update(changes)
    return json.dumps(value).encode()


def test_bundle_verifies_and_is_small() -> None:
    bundle, trust = _bundle()
    report = verify_bundle(bundle, trust=trust, clip_sha256=f"{5:064x}")
    assert report.index == 5 and report.checkpoint.head.size == 9 and not report.embedded_trust
    assert verify_bundle(bundle).embedded_trust
    assert len(bundle) < 8 * 1024


def _flip_entry(bundle: bytes) -> bytes:
    entry = bytearray(base64.b64decode(json.loads(bundle)["entry"]))
    entry[40] ^= 1
    return _edit(bundle, entry=base64.b64encode(bytes(entry)).decode())


def _wrong_index(bundle: bytes) -> bytes:
    value = json.loads(bundle)
    return _edit(bundle, proof=value["proof"].replace("index 5", "index 4"))


def _other_origin(bundle: bytes) -> bytes:
    value = json.loads(bundle)
    return _edit(bundle, proof=value["proof"].replace("liuhen.test-bureau", "liuhen.other"))


@pytest.mark.parametrize(("name", "tamper", "step"), [
    ("entry_byte_flipped", _flip_entry, "B4"),
    ("index_changed", _wrong_index, "B4"),
    ("checkpoint_origin_changed", _other_origin, "B3"),
    ("not_json", lambda b: b[:-20], "B1"),
    ("token_garbage", lambda b: _edit(b, timestamps=[{"tsa": "x", "token": "AAAA"}]), "B6"),
])
def test_tampered_bundle_fails_at_its_step(name: str, tamper: Callable[[bytes], bytes],
                                           step: str) -> None:
    bundle, trust = _bundle()
    with pytest.raises(VerificationError) as err:
        verify_bundle(tamper(bundle), trust=trust)
    assert err.value.step == step, err.value


def test_wrong_clip_and_untrusted_log_key_are_refused() -> None:
    bundle, trust = _bundle()
    with pytest.raises(VerificationError) as err:
        verify_bundle(bundle, trust=trust, clip_sha256="ab" * 32)
    assert err.value.step == "B7"
    stranger = TrustRoot(origin=trust.origin, keys=(signer("log-2", "log").public,))
    with pytest.raises(VerificationError) as err:
        verify_bundle(bundle, trust=stranger)
    assert err.value.step == "B3" and "no signature from a trusted key" in err.value.reason


def test_sm2_signed_bundle_verifies_and_fails_at_b3_without_its_sm2_line() -> None:
    log_sm2 = sm2_signer("log-1", "log")
    ledger = MemLedger(station=STATION, log=LOG)
    ledger.append([sample_entry(i) for i in range(9)])
    cp = ledger.checkpoint(LOG, log_sm2)
    trust = TrustRoot(origin=ledger.origin, keys=(STATION.public, LOG.public, log_sm2.public))

    def bundle(note: bytes) -> bytes:
        proof = TlogProof(index=5, hashes=tuple(inclusion_proof(
            [r.leaf_hash for r in ledger.rows], 5)), checkpoint=note)
        return make_bundle(entry=ledger.rows[5].data, proof=proof, timestamps=[], trust=trust)

    assert verify_bundle(bundle(cp.note), trust=trust).checkpoint.head.size == 9
    assert verify_bundle(bundle(cp.note)).embedded_trust  # the SM2 vkey round-trips in JSON
    sm2_line = next(line for line in cp.note.decode().splitlines()
                    if line.startswith("\u2014 log-1 ")
                    and base64.b64decode(line.split(" ")[2])[:4].hex() == log_sm2.public.key_id)
    stripped = cp.note.replace(sm2_line.encode() + b"\n", b"")
    with pytest.raises(VerificationError, match="no sm2 signature") as err:
        verify_bundle(bundle(stripped), trust=trust)
    assert (err.value.step, err.value.index) == ("B3", 9)
