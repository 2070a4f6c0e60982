"""Bundles verify offline, and each broken part fails at its step of docs/verification.md B."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from evidence.errors import VerificationError
from integrity.bundle import TlogProof, make_bundle, verify_bundle
from integrity.merkle import SM3, inclusion_proof, leaf_hash
from integrity.notes import sign_checkpoint
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
    sm3_path = inclusion_proof([leaf_hash(r.data, tree_hash=SM3) for r in ledger.rows], index,
                               tree_hash=SM3)
    return make_bundle(entry=ledger.rows[index].data, proof=proof, timestamps=[],
                       trust=trust, sm3_hashes=sm3_path), trust


def _edit(bundle: bytes, **changes: object) -> bytes:
    value = json.loads(bundle)
    value.update(changes)
    return json.dumps(value).encode()


def test_bundle_verifies_and_is_small() -> None:
    bundle, trust = _bundle()
    report = verify_bundle(bundle, trust=trust, clip_sha256=f"{5:064x}")
    assert report.index == 5 and report.checkpoint.head.size == 9 and not report.embedded_trust
    assert report.sm3_checked and report.checkpoint.sm3 is not None
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


def _sm3_path_altered(bundle: bytes) -> bytes:
    path = json.loads(bundle)["sm3_proof"]
    first = bytearray(base64.b64decode(path[0]))
    first[0] ^= 1
    return _edit(bundle, sm3_proof=[base64.b64encode(bytes(first)).decode(), *path[1:]])


def _sm3_path_swapped_for_sha256(bundle: bytes) -> bytes:
    """A valid-looking path of the right length: the SHA-256 one, offered as the SM3 one."""
    proof = json.loads(bundle)["proof"].split("\n")
    return _edit(bundle, sm3_proof=[line for line in proof[2:] if line][:3])


def _checkpoint_sm3_line_altered(bundle: bytes) -> bytes:
    value = json.loads(bundle)
    proof = value["proof"]
    start = proof.index("\nsm3 9 ") + len("\nsm3 9 ")
    root = bytearray(base64.b64decode(proof[start:start + 44]))
    root[-1] ^= 1
    return _edit(bundle, proof=proof[:start] + base64.b64encode(bytes(root)).decode()
                 + proof[start + 44:])


def _sm3_path_dropped(bundle: bytes) -> bytes:
    value = json.loads(bundle)
    del value["sm3_proof"]
    return json.dumps(value).encode()


@pytest.mark.parametrize(("name", "tamper", "step"), [
    ("sm3_path_altered", _sm3_path_altered, "B4-SM3"),
    ("sm3_path_swapped_for_sha256", _sm3_path_swapped_for_sha256, "B4-SM3"),
    ("sm3_path_dropped", _sm3_path_dropped, "B4-SM3"),
    ("checkpoint_sm3_line_altered", _checkpoint_sm3_line_altered, "B3"),
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
    if step == "B4-SM3":
        assert err.value.index == 5


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
        sm3_path = inclusion_proof([leaf_hash(r.data, tree_hash=SM3) for r in ledger.rows], 5,
                                   tree_hash=SM3)
        return make_bundle(entry=ledger.rows[5].data, proof=proof, timestamps=[], trust=trust,
                           sm3_hashes=sm3_path)

    assert verify_bundle(bundle(cp.note), trust=trust).checkpoint.head.size == 9
    assert verify_bundle(bundle(cp.note)).embedded_trust  # the SM2 vkey round-trips in JSON
    sm2_line = next(line for line in cp.note.decode().splitlines()
                    if line.startswith("\u2014 log-1 ")
                    and base64.b64decode(line.split(" ")[2])[:4].hex() == log_sm2.public.key_id)
    stripped = cp.note.replace(sm2_line.encode() + b"\n", b"")
    with pytest.raises(VerificationError, match="no sm2 signature") as err:
        verify_bundle(bundle(stripped), trust=trust)
    assert (err.value.step, err.value.index) == ("B3", 9)


def test_a_bundle_from_before_the_sm3_tree_still_verifies() -> None:
    """A checkpoint without an sm3 line and a bundle without an SM3 path: SHA-256 only, and the
    report says so; an SM3 path offered with such a checkpoint is refused."""
    ledger = MemLedger(station=STATION, log=LOG)
    ledger.append([sample_entry(i) for i in range(4)])
    legacy = sign_checkpoint(ledger.origin, ledger.head(), [LOG])
    proof = TlogProof(index=2, hashes=tuple(inclusion_proof([r.leaf_hash for r in ledger.rows],
                                                            2)), checkpoint=legacy.note)
    trust = TrustRoot(origin=ledger.origin, keys=(STATION.public, LOG.public))
    bundle = make_bundle(entry=ledger.rows[2].data, proof=proof, timestamps=[], trust=trust)
    assert not verify_bundle(bundle, trust=trust).sm3_checked
    with pytest.raises(VerificationError) as err:
        verify_bundle(_edit(bundle, sm3_proof=[]), trust=trust)
    assert (err.value.step, err.value.index) == ("B4-SM3", 2)
