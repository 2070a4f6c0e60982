"""Private signing keys on disk (the default ``KeyFiles`` adapter behind the ``Signer`` port):
PKCS#8 PEM, created once with O_EXCL and mode 0600. Ed25519 keys through ``cryptography``, SM2
keys in the PKCS#8 layout ``openssl genpkey -algorithm SM2`` writes (integrity/sm2.py), so
``openssl pkey -in`` reads them and a key made by the CLI can be used here.

Threat model: a key file readable by others lets them forge commits or checkpoints, so keys are
created private and a key file with group/other permissions is refused. Production stations
should keep the log key in a certified 服务器密码机 (docs/guomi-keys.md); this file store is
the embedded default.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from evidence.errors import PolicyViolationError
from integrity import sm2
from integrity.notes import ED25519, SM2, Ed25519Signer, Signer, Sm2Signer

_PEM_BEGIN, _PEM_END = "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----"


def load_or_create_signer(path: Path, *, name: str, role: str,
                          algorithm: str = ED25519) -> Signer:
    """Load the ``algorithm`` key at ``path``, creating it (atomically, 0600) when it does not
    exist. PolicyViolationError for a key readable by others or of another algorithm."""
    if not path.exists():
        _create(path, _new_pem(algorithm))
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PolicyViolationError(f"key file {path} is readable by others (mode {mode:o}); "
                                   "chmod 600 it")
    pem = path.read_bytes()
    if algorithm == SM2:
        try:
            return Sm2Signer(name, sm2.private_from_pkcs8(_pem_body(pem)), role=role)
        except ValueError as exc:
            raise PolicyViolationError(f"key file {path} is not an SM2 key: {exc}") from exc
    key = load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise PolicyViolationError(f"key file {path} is not an Ed25519 key")
    return Ed25519Signer(name, key, role=role)


def sm2_pem(private: bytes) -> bytes:
    """PKCS#8 PEM of an SM2 scalar, as ``openssl genpkey -algorithm SM2`` writes it."""
    b64 = base64.b64encode(sm2.pkcs8_der(private)).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "\n".join([_PEM_BEGIN, *lines, _PEM_END, ""]).encode()


def sm2_private_from_pem(pem: bytes) -> bytes:
    """The SM2 scalar of a PKCS#8 PEM key as ``openssl genpkey -algorithm SM2`` writes it;
    ValueError for anything else."""
    return sm2.private_from_pkcs8(_pem_body(pem))


def _new_pem(algorithm: str) -> bytes:
    if algorithm == SM2:
        return sm2_pem(sm2.generate_private_key())
    if algorithm == ED25519:
        return Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                                          NoEncryption())
    raise PolicyViolationError(f"unknown key algorithm {algorithm!r}")


def _pem_body(pem: bytes) -> bytes:
    lines = pem.decode("ascii", errors="replace").strip().splitlines()
    if len(lines) < 3 or lines[0] != _PEM_BEGIN or lines[-1] != _PEM_END:
        raise ValueError("not a PEM PRIVATE KEY")
    try:
        return base64.b64decode("".join(lines[1:-1]), validate=True)
    except binascii.Error as exc:
        raise ValueError("PEM body is not base64") from exc


def _create(path: Path, pem: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # never overwrite: if another process won the race, use its key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
