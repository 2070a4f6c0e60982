"""Private signing keys on disk: PKCS#8 PEM, created once with O_EXCL and mode 0600.

Threat model: a key file readable by others lets them forge commits or checkpoints, so keys are
created private and a key file with group/other permissions is refused. Production stations
should keep the log key in an HSM; this file store is the embedded default.
"""

from __future__ import annotations

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
from integrity.notes import Signer


def load_or_create_signer(path: Path, *, name: str, role: str) -> Signer:
    """Load the Ed25519 key at ``path``, creating it (atomically, 0600) when it does not exist."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                                         NoEncryption())
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
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PolicyViolationError(f"key file {path} is readable by others (mode {mode:o}); "
                                   "chmod 600 it")
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise PolicyViolationError(f"key file {path} is not an Ed25519 key")
    return Signer(name, key, role=role)
