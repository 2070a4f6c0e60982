"""The station's keyring (docs/ledger-format.md §Keys): ``keyring.json`` (the trust root: origin,
public keys with their validity by tree size, TSA roots) and one private key file per key under
``keys/``, and the planned rotation of the log keys.

Each role (station, log) holds one active key per algorithm, Ed25519 and SM2, under one name.
Private keys are read and made through the ``KeyFiles`` port (storage/keyfiles.py: PEM files,
0600; a 服务器密码机 in production, docs/guomi-keys.md), which hands back ``Signer`` ports. A
rotation is a ``key_rotated`` entry per algorithm, then a checkpoint at size R signed by the old
and the new key of each; the old keys stay valid for sizes < R+1, the new ones from R on.
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
from integrity.notes import ALGORITHMS, ED25519, SM2, sign_checkpoint
from integrity.notes import vkey as format_vkey
from integrity.trust import TrustRoot
from ledger.appending import LedgerWriter
from ledger.files import write_atomic
from ledger.ports import CheckpointStore, Signer

KeyFiles = Callable[[Path, str, str, str], Signer]
"""(path, name, role, algorithm) → the signer whose private key is at ``path``, made there if
missing."""


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
        """The trust root, created with fresh station and log keys (Ed25519 and SM2 each) on
        first use."""
        if self.exists():
            return self.load(origin=origin, tsa_roots=tsa_roots)
        keys = [self.new_signer(name=name, role=role, algorithm=algorithm).public
                for role, name in (("station", station_id), ("log", origin.replace(" ", "_")))
                for algorithm in ALGORITHMS]
        trust = TrustRoot(origin=Origin(origin), keys=tuple(keys), tsa_roots=tuple(tsa_roots))
        self.save(trust)
        return trust

    def save(self, trust: TrustRoot) -> None:
        write_atomic(self.path, trust.to_json())

    def active_signers(self, trust: TrustRoot, role: str) -> list[Signer]:
        """The private keys of ``role`` still valid (no ``valid_until``): exactly one Ed25519
        key and at most one SM2 key (a data dir made before SM2 has none until ``liuhen keys
        add-sm2``), Ed25519 first, all under one name."""
        keys = [k for k in trust.keys if k.role == role and k.valid_until is None]
        counts = {a: sum(k.algorithm == a for k in keys) for a in ALGORITHMS}
        if counts[ED25519] != 1 or counts[SM2] > 1 or len({k.name for k in keys}) != 1:
            raise ConflictError(f"keyring has active {role} keys {counts} under names "
                                f"{sorted({k.name for k in keys})}; want one Ed25519 key, at most "
                                "one SM2 key, one name")
        return [self._signer(key) for key in sorted(keys, key=lambda k: k.algorithm != ED25519)]

    def _signer(self, key: PublicKey) -> Signer:
        path = self._key_path(key)
        if not path.exists():
            raise NotFoundError(f"private key for {key.role} key {key.key_id} missing at {path}")
        signer = self.key_files(path, key.name, key.role, key.algorithm)
        if signer.public != dataclasses.replace(key, valid_from=0, valid_until=None):
            raise ConflictError(f"{path} does not hold the keyring's {key.role} key {key.key_id}")
        return signer

    def new_signer(self, *, name: str, role: str, algorithm: str) -> Signer:
        """A fresh key, made under a staging name and then moved under its key id."""
        staging = self.data_dir / "keys" / f"new-{role}-{algorithm}.pem"
        signer = self.key_files(staging, name, role, algorithm)
        os.replace(staging, self._key_path(signer.public))
        return signer


@dataclass(frozen=True)
class Rotation:
    checkpoint: Checkpoint
    """Signed by the old and the new log keys."""
    trust: TrustRoot
    logs: list[Signer]
    """The new log keys."""


def rotate_log_key(keyring: Keyring, *, trust: TrustRoot, logs: Sequence[Signer],
                   writer: LedgerWriter, store: CheckpointStore, latest_note: Path,
                   actor: str) -> Rotation:
    """Planned rotation of every active log key (module docstring): returns the checkpoint
    signed by old and new keys of each algorithm, and the new trust root and log keys, which the
    caller uses from now on."""
    new = [keyring.new_signer(name=log.public.name, role="log", algorithm=log.public.algorithm)
           for log in logs]
    for old_signer, new_signer in zip(logs, new, strict=True):
        writer.append(KeyRotatedBody(role="log", old=format_vkey(old_signer.public),
                                     new=format_vkey(new_signer.public)),
                      subject=new_signer.public.key_id, actor=actor)
    head = store.head()
    checkpoint = sign_checkpoint(trust.origin, head, [*logs, *new], sm3=store.sm3_head(head.size))
    old_ids = {log.public.key_id for log in logs}
    keys = [dataclasses.replace(k, valid_until=head.size + 1)
            if k.role == "log" and k.key_id in old_ids else k for k in trust.keys]
    keys.extend(dataclasses.replace(n.public, valid_from=head.size) for n in new)
    rotated = trust.with_keys(keys)
    keyring.save(rotated)
    store.add_checkpoint(checkpoint)
    write_atomic(latest_note, checkpoint.note)
    return Rotation(checkpoint=checkpoint, trust=rotated, logs=new)


@dataclass(frozen=True)
class Sm2Added:
    checkpoint: Checkpoint
    """At size R, signed by the Ed25519 and the new SM2 log key."""
    trust: TrustRoot


def add_sm2_keys(keyring: Keyring, *, trust: TrustRoot, station: Signer, log: Signer,
                 writer: LedgerWriter, store: CheckpointStore, latest_note: Path,
                 actor: str) -> Sm2Added:
    """Give a data dir made before SM2 an SM2 station key and an SM2 log key, under the names of
    its Ed25519 ``station`` and ``log`` keys (docs/ledger-format.md §5).

    One ``key_rotated`` entry per role with an empty ``old`` records each new key; the ledger is
    then at size R. The SM2 log key is valid from R on and signs, with the Ed25519 log key, a
    checkpoint at R; the SM2 station key is valid from R+1 on (the commit ending at R was signed
    before it existed). From then on every checkpoint and commit must carry both signatures.
    Run with the station stopped, as a rotation: other processes keep the keys they loaded.
    ConflictError when the data dir already has SM2 keys."""
    if any(k.algorithm == SM2 and k.valid_until is None for k in trust.keys):
        raise ConflictError("keyring already has active SM2 keys")
    new = {role: keyring.new_signer(name=ed.public.name, role=role, algorithm=SM2)
           for role, ed in (("station", station), ("log", log))}
    for role, signer in new.items():
        writer.append(KeyRotatedBody(role=role, old="", new=format_vkey(signer.public)),
                      subject=signer.public.key_id, actor=actor)
    head = store.head()
    checkpoint = sign_checkpoint(trust.origin, head, [log, new["log"]])
    added = trust.with_keys([*trust.keys,
                             dataclasses.replace(new["station"].public, valid_from=head.size + 1),
                             dataclasses.replace(new["log"].public, valid_from=head.size)])
    keyring.save(added)
    store.add_checkpoint(checkpoint)
    write_atomic(latest_note, checkpoint.note)
    return Sm2Added(checkpoint=checkpoint, trust=added)
