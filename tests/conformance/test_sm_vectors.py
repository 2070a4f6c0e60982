"""国密 vectors made with the openssl CLI (../shared/conformance/sm): SM2 signatures with and
without the user ID, SM3 digests and the SM3 tree (RFC 9162 with SM3 as the hash)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest

from evidence.errors import VerificationError
from integrity import merkle, sm2
from integrity.hashing import digest_stream, sm3_hex

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "sm"
SM = json.loads((VECTORS / "vectors.json").read_text())
SIGNATURES = SM["sm2"]["signatures"]


def _public() -> bytes:
    pem = SM["sm2"]["public_key_pem"].strip().splitlines()
    return sm2.point_from_spki(base64.b64decode("".join(pem[1:-1])))


@pytest.mark.parametrize("case", SIGNATURES, ids=lambda c: f"{c['msg_hex'][:12]}-id{c['distid']}")
def test_sm2_vector(case: dict[str, str | bool]) -> None:
    message, der = bytes.fromhex(str(case["msg_hex"])), bytes.fromhex(str(case["sig_der_hex"]))
    if case["distid"] == "1234567812345678":
        sm2.verify(_public(), message, der)
        with pytest.raises(VerificationError, match="bad SM2 signature"):
            sm2.verify(_public(), message + b"!", der)  # a tampered message fails
    else:  # made without the ID: must not verify under the default ID, only under the empty one
        with pytest.raises(VerificationError, match="bad SM2 signature"):
            sm2.verify(_public(), message, der)
        sm2.verify(_public(), message, der, uid=b"")


def test_both_kinds_of_vector_present() -> None:
    ids = sorted(str(c["distid"]) for c in SIGNATURES)
    assert ids == ["", "", "1234567812345678", "1234567812345678"]


def test_sign_then_verify_and_strict_der() -> None:
    private = sm2.generate_private_key()
    der = sm2.sign(private, b"liuhen")
    sm2.verify(sm2.public_key(private), b"liuhen", der)
    with pytest.raises(VerificationError, match="DER"):
        sm2.verify(sm2.public_key(private), b"liuhen", der + b"\x00")
    assert sm2.point_from_spki(sm2.spki_der(sm2.public_key(private))) == sm2.public_key(private)


@pytest.mark.parametrize("case", SM["sm3"], ids=lambda c: c["msg_hex"][:12] or "empty")
def test_sm3_vector(case: dict[str, str]) -> None:
    message = bytes.fromhex(case["msg_hex"])
    assert sm3_hex(message) == case["sm3"]
    assert digest_stream(io.BytesIO(message), chunk_bytes=7).sm3 == case["sm3"]


def test_sm3_tree_vector() -> None:
    tree = SM["sm3_merkle"]
    entries = [e.encode() for e in tree["entries"]]
    leaves = [merkle.leaf_hash(e, tree_hash=merkle.SM3) for e in entries]
    assert [h.hex() for h in leaves] == tree["leaf_hashes"]
    assert merkle.root(leaves, tree_hash=merkle.SM3).hex() == tree["root_size_3"]
    builder = merkle.TreeBuilder(tree_hash=merkle.SM3)
    for e in entries:
        builder.append_entry(e)
    assert builder.root().hex() == tree["root_size_3"]
    assert merkle.root(leaves).hex() != tree["root_size_3"]  # the SHA-256 tree differs
