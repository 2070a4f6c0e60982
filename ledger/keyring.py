"""The station's keyring (docs/ledger-format.md §Keys): ``keyring.json`` (the trust root: origin,
public keys with their validity by tree size, TSA roots) and one private key file per key under
``keys/``, and the planned rotation of the log key.

Private keys are read and made through the ``KeyFiles`` port (storage/keyfiles.py: PEM files,
0600; a 服务器密码机 in production). A rotation is a ``key_rotated`` entry, then a checkpoint at
size R signed by both keys; the old key stays valid for sizes < R+1, the new one from R on.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from evidence.bodies import KeyRotatedBody
from evidence.errors import ConflictError, NotFoundError
from evidence.ids import Origin
from evidence.records import Checkpoint, PublicKey
from integrity.notes import Signer, sign_checkpoint
from integrity.notes import vkey as format_vkey
from integrity.trust import TrustRoot
from ledger.appending import LedgerWriter
from ledger.files import write_atomic
from ledger.ports import CheckpointStore

KeyFiles = Callable[[Path, str, str], Signer]
"""(path, name, role) → the signer whose private key is at ``path``, made there if missing."""


@dataclass(frozen=True)
class Keyring:
    """The keyring files of one data dir."""

    data_dir: Path
    key_files: KeyFiles

    @property
    def path(self) -> Path:
        return self.data_dir / "keyring.json"

    def exists(self) -> bool:
        return self.path.is_file()

    def _key_path(self, key: PublicKey) -> Path:
        return self.data_dir / "keys" / f"{key.role}-{key.key_id}.pem"

    def load(self, *, origin: str, tsa_roots: Sequence[bytes]) -> TrustRoot:
        """The trust root, with this bureau's TSA roots; ConflictError for another origin."""
        trust = TrustRoot.from_json(self.path.read_bytes())
        if trust.origin != origin:
            raise ConflictError(f"{self.path} is for origin {trust.origin!r}, settings say "
                                f"{origin!r}")
        return TrustRoot(origin=trust.origin, keys=trust.keys, tsa_roots=tuple(tsa_roots))

    def load_or_create(self, *, origin: str, station_id: str,
                       tsa_roots: Sequence[bytes]) -> TrustRoot:
        """The trust root, created with fresh station and log keys on first use."""
        if self.exists():
            return self.load(origin=origin, tsa_roots=tsa_roots)
        station = self.new_signer(name=station_id, role="station")
        log = self.new_signer(name=origin.replace(" ", "_"), role="log")
        trust = TrustRoot(origin=Origin(origin), keys=(station.public, log.public),
                          tsa_roots=tuple(tsa_roots))
        self.save(trust)
        return trust

    def save(self, trust: TrustRoot) -> None:
        write_atomic(self.path, trust.to_json())

    def active_signer(self, trust: TrustRoot, role: str) -> Signer:
        """The private key of the one key of ``role`` still valid (no ``valid_until``)."""
        keys = [k for k in trust.keys if k.role == role and k.valid_until is None]
        if len(keys) != 1:
            raise ConflictError(f"keyring has {len(keys)} active {role} keys, want exactly one")
        key = keys[0]
        path = self._key_path(key)
        if not path.exists():
            raise NotFoundError(f"private key for {key.role} key {key.key_id} missing at {path}")
        signer = self.key_files(path, key.name, key.role)
        if signer.public.raw != key.raw:
            raise ConflictError(f"{path} does not hold the keyring's {key.role} key {key.key_id}")
        return signer

    def new_signer(self, *, name: str, role: str) -> Signer:
        """A fresh key, made under a staging name and then moved under its key id."""
        staging = self.data_dir / "keys" / f"new-{role}.pem"
        signer = self.key_files(staging, name, role)
        os.replace(staging, self._key_path(signer.public))
        return signer


@dataclass(frozen=True)
class Rotation:
    checkpoint: Checkpoint
    """Signed by the old and the new log key."""
    trust: TrustRoot
    log: Signer
    """The new log key."""


def rotate_log_key(keyring: Keyring, *, trust: TrustRoot, log: Signer, writer: LedgerWriter,
                   store: CheckpointStore, latest_note: Path, actor: str) -> Rotation:
    """Planned rotation (module docstring): returns the dual-signed checkpoint and the new trust
    root and log key, which the caller uses from now on."""
    new = keyring.new_signer(name=log.name, role="log")
    writer.append(KeyRotatedBody(role="log", old=format_vkey(log.public),
                                 new=format_vkey(new.public)),
                  subject=new.public.key_id, actor=actor)
    head = store.head()
    checkpoint = sign_checkpoint(trust.origin, head, [log, new], sm3=store.sm3_head(head.size))
    old_id = log.public.key_id
    keys = [dataclasses.replace(k, valid_until=head.size + 1)
            if k.role == "log" and k.key_id == old_id else k for k in trust.keys]
    keys.append(dataclasses.replace(new.public, valid_from=head.size))
    rotated = trust.with_keys(keys)
    keyring.save(rotated)
    store.add_checkpoint(checkpoint)
    write_atomic(latest_note, checkpoint.note)
    return Rotation(checkpoint=checkpoint, trust=rotated, log=new)
