"""SM2 interop (issue 14 item 7): liuhen's SM2 signature lines verify with the ``openssl`` CLI
(OpenSSL 3.0, ``-pkeyopt distid:1234567812345678``) and with the pure-Python ``gmssl`` package,
signatures made by both verify in liuhen, key files cross between liuhen and ``openssl``, and a
tampered message fails everywhere. An SM2 signature made without the ID fails in liuhen."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from gmssl import sm2 as gmssl_sm2

from evidence.errors import PolicyViolationError, VerificationError
from evidence.ids import Origin
from evidence.records import TreeHead
from integrity import sm2
from integrity.notes import checkpoint_text, open_checkpoint, sign_checkpoint, split_note
from storage.keyfiles import load_or_create_signer, sm2_pem
from tests.support.keys import signer, sm2_signer

OPENSSL = "/usr/bin/openssl"
DISTID = "distid:1234567812345678"
ORIGIN = Origin("liuhen.interop-bureau/ledger/v1")
HEAD = TreeHead(1234, bytes.fromhex("5e" * 32))
LOG_ED, LOG_SM2 = signer("interop/log", "log"), sm2_signer("interop/log", "log")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OPENSSL, *args], capture_output=True, text=True, check=False)


def _pub_pem(point: bytes, path: Path) -> Path:
    b64 = base64.b64encode(sm2.spki_der(point)).decode()
    path.write_text(f"-----BEGIN PUBLIC KEY-----\n{b64[:64]}\n{b64[64:]}\n"
                    "-----END PUBLIC KEY-----\n")
    return path


def _liuhen_sm2_line() -> tuple[bytes, bytes]:
    """The checkpoint text and the DER SM2 signature from a real dual-signed checkpoint note."""
    note = sign_checkpoint(ORIGIN, HEAD, [LOG_ED, LOG_SM2]).note
    text, sigs = split_note(note)
    (line,) = [s for s in sigs if s.key_id.hex() == LOG_SM2.public.key_id]
    return text, line.signature


def _openssl_verify(tmp: Path, point: bytes, message: bytes, der: bytes,
                    *opts: str) -> tuple[bool, bool]:
    """(pkeyutl, dgst -sm3) verdicts of the CLI over ``message``."""
    pub, msg, sig = _pub_pem(point, tmp / "pub.pem"), tmp / "msg", tmp / "sig"
    msg.write_bytes(message)
    sig.write_bytes(der)
    pkeyutl = _run("pkeyutl", "-verify", "-pubin", "-inkey", str(pub), "-rawin", "-in", str(msg),
                   "-sigfile", str(sig), *[a for o in opts for a in ("-pkeyopt", o)])
    dgst = _run("dgst", "-sm3", "-verify", str(pub), *[a for o in opts for a in ("-sigopt", o)],
                "-signature", str(sig), str(msg))
    assert ("Signature Verified Successfully" in pkeyutl.stdout) == (pkeyutl.returncode == 0)
    assert ("Verified OK" in dgst.stdout) == (dgst.returncode == 0)
    return pkeyutl.returncode == 0, dgst.returncode == 0


def _gmssl(point: bytes, private: bytes | None = None) -> gmssl_sm2.CryptSM2:
    crypt = gmssl_sm2.CryptSM2(private_key=private.hex() if private else "",
                               public_key=point[1:].hex())
    # gmssl 3.2.2 lstrip("04")s a key given with its 04 prefix, eating leading 0/4 digits of x;
    # given without it, set it again after construction so no digit is ever stripped.
    crypt.public_key = point[1:].hex()
    return crypt


def _raw(der: bytes) -> str:
    r, s = decode_dss_signature(der)
    return f"{r:064x}{s:064x}"


def test_liuhen_checkpoint_signature_verifies_with_openssl(tmp_path: Path) -> None:
    text, der = _liuhen_sm2_line()
    assert _openssl_verify(tmp_path, LOG_SM2.public.raw, text, der, DISTID) == (True, True)
    tampered = text.replace(b"1234", b"1235")
    assert _openssl_verify(tmp_path, LOG_SM2.public.raw, tampered, der, DISTID) == (False, False)
    # Without the ID the CLI uses an empty one: the interop trap the explicit ID avoids.
    assert _openssl_verify(tmp_path, LOG_SM2.public.raw, text, der) == (False, False)


def test_liuhen_checkpoint_signature_verifies_with_gmssl() -> None:
    text, der = _liuhen_sm2_line()
    peer = _gmssl(LOG_SM2.public.raw)
    assert peer.verify_with_sm3(_raw(der), text)
    assert not peer.verify_with_sm3(_raw(der), text.replace(b"1234", b"1235"))


def test_openssl_signatures_verify_in_liuhen_and_make_a_valid_note(tmp_path: Path) -> None:
    key = tmp_path / "openssl-sm2.pem"
    assert _run("genpkey", "-algorithm", "SM2", "-out", str(key)).returncode == 0
    key.chmod(0o600)
    # A key made by the CLI is a liuhen key file as it is.
    liuhen_signer = load_or_create_signer(key, name="interop/log", role="log", algorithm="sm2")
    text = checkpoint_text(ORIGIN, HEAD)
    msg, sig = tmp_path / "msg", tmp_path / "sig"
    msg.write_bytes(text)
    made = _run("pkeyutl", "-sign", "-inkey", str(key), "-rawin", "-in", str(msg),
                "-out", str(sig), "-pkeyopt", DISTID)
    assert made.returncode == 0, made.stderr
    der = sig.read_bytes()
    point = liuhen_signer.public.raw
    sm2.verify(point, text, der)
    with pytest.raises(VerificationError, match="bad SM2 signature"):
        sm2.verify(point, text + b"x", der)
    # The CLI's signature as a signature line of a checkpoint note, opened by liuhen.
    line = base64.b64encode(bytes.fromhex(liuhen_signer.public.key_id) + der).decode()
    note = text + f"\n\u2014 interop/log {line}\n".encode()
    assert open_checkpoint(note, origin=ORIGIN, keys=[liuhen_signer.public]).head == HEAD
    # The same CLI key without the ID: its signature fails in liuhen.
    nodist = _run("pkeyutl", "-sign", "-inkey", str(key), "-rawin", "-in", str(msg),
                  "-out", str(sig))
    assert nodist.returncode == 0, nodist.stderr
    with pytest.raises(VerificationError, match="bad SM2 signature"):
        sm2.verify(point, text, sig.read_bytes())


def test_gmssl_signatures_verify_in_liuhen() -> None:
    text = checkpoint_text(ORIGIN, HEAD)
    private = sm2.generate_private_key()
    raw = _gmssl(sm2.public_key(private), private).sign_with_sm3(text)
    der = encode_dss_signature(int(raw[:64], 16), int(raw[64:], 16))
    sm2.verify(sm2.public_key(private), text, der)
    with pytest.raises(VerificationError, match="bad SM2 signature"):
        sm2.verify(sm2.public_key(private), text.replace(b"1234", b"1243"), der)


def test_liuhen_key_files_are_openssl_key_files(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "log.pem"
    made = load_or_create_signer(path, name="interop/log", role="log", algorithm="sm2")
    assert path.stat().st_mode & 0o777 == 0o600
    der = subprocess.run([OPENSSL, "pkey", "-in", str(path), "-pubout", "-outform", "DER"],
                         capture_output=True, check=True).stdout
    assert sm2.point_from_spki(der) == made.public.raw
    # And the CLI signs with liuhen's key file; liuhen verifies.
    msg, sig = tmp_path / "msg", tmp_path / "sig"
    msg.write_bytes(b"liuhen\n")
    assert _run("pkeyutl", "-sign", "-inkey", str(path), "-rawin", "-in", str(msg), "-out",
                str(sig), "-pkeyopt", DISTID).returncode == 0
    sm2.verify(made.public.raw, b"liuhen\n", sig.read_bytes())
    assert load_or_create_signer(path, name="interop/log", role="log",
                                 algorithm="sm2").public == made.public  # loaded, not remade
    wrong = tmp_path / "ed.pem"
    load_or_create_signer(wrong, name="x", role="log")  # an Ed25519 key file
    with pytest.raises(PolicyViolationError, match="not an SM2 key"):
        load_or_create_signer(wrong, name="x", role="log", algorithm="sm2")
    (tmp_path / "k2.pem").write_bytes(sm2_pem(sm2.generate_private_key()))
    (tmp_path / "k2.pem").chmod(0o644)
    with pytest.raises(PolicyViolationError, match="readable by others"):
        load_or_create_signer(tmp_path / "k2.pem", name="x", role="log", algorithm="sm2")
