"""The default ``KeyService`` (ledger/ports.py): key-encryption keys (KEKs) in files, 0600.

Layout under ``folder`` (the data dir's ``keys/kek``)::

    <id>.kek     16 random bytes: one SM4 KEK, created once (O_EXCL), never rewritten
    current      the id of the KEK that wraps new data keys

A data key is wrapped with SM4-GCM under the KEK: ``nonce (12) | ciphertext (16) | tag (16)``,
the AAD ``liuhen/dek/v1\\n`` plus the caller's context (the object's key), so a wrapped key
moved to another object does not unwrap.

Rotation (``rotate``) makes a new KEK current; earlier KEKs are kept (retired, not destroyed):
the ``stored`` entries in the ledger still hold data keys wrapped by them, and those stay the
recovery path if the database's re-wrapped copies are lost.

Threat model: these files are software keys. 密评 credits certified modules only: a bureau puts
a GM/T 0018 SDF 服务器密码机 (or a KMS) behind the same three methods (``current_kek_id``,
``wrap``, ``unwrap``; ``SDF_Encrypt``/``SDF_Decrypt`` with an internal KEK index, or the KMS's
Encrypt/Decrypt), wired in ``api/compose.py``; no use case changes.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from evidence.errors import NotFoundError, PolicyViolationError, VerificationError
from storage.blobio import mkdir_private, write_new, write_replace

KEK_BYTES = 16
NONCE_BYTES = 12
TAG_BYTES = 16
WRAP_AAD = b"liuhen/dek/v1\n"
_ID = re.compile(r"kek-[0-9a-f]{16}")


class KekFileKeyService:
    """SM4 KEKs in ``folder``; the first use creates one."""

    def __init__(self, folder: Path) -> None:
        self.folder = mkdir_private(folder)
        if not (self.folder / "current").exists():
            self.rotate()

    def current_kek_id(self) -> str:
        kek_id = (self.folder / "current").read_text().strip()
        if not _ID.fullmatch(kek_id):
            raise PolicyViolationError(f"{self.folder}/current does not name a KEK: {kek_id!r}")
        return kek_id

    def kek_ids(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("kek-*.kek"))

    def rotate(self) -> str:
        """Create a new KEK and make it current; returns its id."""
        kek_id = f"kek-{secrets.token_hex(8)}"
        key = secrets.token_bytes(KEK_BYTES)

        def fill(out: BinaryIO) -> None:
            out.write(key)

        write_new(self.folder / f"{kek_id}.kek", fill, mode=0o600)
        write_replace(self.folder / "current", kek_id.encode() + b"\n")
        os.chmod(self.folder / "current", 0o600)
        return kek_id

    def wrap(self, data_key: bytes, *, context: bytes) -> tuple[str, bytes]:
        """``data_key`` wrapped by the current KEK: (kek id, wrapped bytes)."""
        kek_id = self.current_kek_id()
        nonce = secrets.token_bytes(NONCE_BYTES)
        enc = Cipher(algorithms.SM4(self._kek(kek_id)), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(WRAP_AAD + context)
        return kek_id, nonce + enc.update(data_key) + enc.finalize() + enc.tag

    def unwrap(self, kek_id: str, wrapped: bytes, *, context: bytes) -> bytes:
        """The data key; VerificationError when ``wrapped`` is not a key wrapped by ``kek_id``
        for ``context``."""
        if len(wrapped) < NONCE_BYTES + TAG_BYTES:
            raise VerificationError(f"wrapped key of {len(wrapped)} bytes", step="kek.unwrap")
        nonce, body, tag = (wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:-TAG_BYTES],
                            wrapped[-TAG_BYTES:])
        dec = Cipher(algorithms.SM4(self._kek(kek_id)), modes.GCM(nonce, tag)).decryptor()
        dec.authenticate_additional_data(WRAP_AAD + context)
        try:
            return dec.update(body) + dec.finalize()
        except InvalidTag:
            raise VerificationError(f"the data key wrapped by {kek_id} does not unwrap for "
                                    f"{context.decode(errors='replace')}",
                                    step="kek.unwrap") from None

    def _kek(self, kek_id: str) -> bytes:
        if not _ID.fullmatch(kek_id):
            raise NotFoundError(f"no KEK {kek_id!r}")
        path = self.folder / f"{kek_id}.kek"
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise NotFoundError(f"KEK {kek_id} is not in {self.folder}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PolicyViolationError(f"KEK file {path} is readable by others (mode "
                                       f"{stat.S_IMODE(mode):o}); chmod 600 it")
        key = path.read_bytes()
        if len(key) != KEK_BYTES:
            raise PolicyViolationError(f"KEK file {path} does not hold {KEK_BYTES} bytes")
        return key
