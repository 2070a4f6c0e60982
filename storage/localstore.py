"""The embedded default object store: a local write-once directory (DESIGN.md §5).

Layout under ``root``::

    objects/<key>                 the bytes, mode 0400, created once by temp + fsync + link
    meta/<key>/<n:06d>.json       sidecar versions 1, 2, ...: SHA-256, size, mtime, retain-until,
                                  legal hold; each written once (0400), never edited; the highest
                                  number is current. Retention and legal-hold changes add one.

Every folder is 0700 and every file 0400: owner-only, since originals and thumbnails show people
at enforcement scenes (``verify`` narrows a file that was opened up again; the root is narrowed
when the store is opened).

``version_id`` is the SHA-256 (content-addressed): a key holds one content for ever.

Threat model — this is WEAKER than S3 Object Lock, and says so (``UnsafeStoreWarning``): read-only
modes and no delete method stop mistakes and ordinary users, not root, who can chmod, edit, unlink
or rewrite sidecars. What it does offer: ``verify`` notices a replaced or edited file (size and
mtime against the sidecar without reading; ``rehash=True`` recomputes SHA-256), and the ledger
holds the hashes outside this directory. Retention here is a record, not an enforcement.

Durability: an object is durable when ``put`` returns (file and directory fsynced before the
sidecar is written). A crash between link and sidecar leaves a file without sidecar; the next
``put`` of that key re-hashes it and writes the missing sidecar (or raises ConflictError).

Concurrency: two processes putting the same key race on ``os.link``; the loser compares
hashes. Two metadata updates race on the next sidecar number; the loser re-reads and retries.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import stat
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from evidence.errors import ConflictError, NotFoundError, PolicyViolationError, VerificationError
from evidence.ids import Sha256Hex, is_sha256_hex
from evidence.records import ObjectVersion, StoredObject
from storage.blobio import (
    PRIVATE_DIR_MODE,
    READ_ONLY_MODE,
    mkdir_private,
    verified_reader,
    whole_seconds,
    write_new,
)

log = logging.getLogger(__name__)

LOCK_MODE = "LOCAL-WORM"
SIDECAR_FORMAT = "liuhen/local-worm/v1"
STEP = "store.verify"
MAX_KEY_CHARS = 512  # bound path lengths well under PATH_MAX
RETENTION_SLACK = timedelta(hours=1)  # callers compute retain-until from their own clock, earlier
MAX_SIDECAR_RETRIES = 16  # concurrent metadata writers; more means something is wrong
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


class UnsafeStoreWarning(UserWarning):
    """A store is in use whose guarantees are weaker than the production one (STYLE.md §5)."""


@dataclass(frozen=True, slots=True)
class _Sidecar:
    number: int
    key: str
    sha256: Sha256Hex
    size: int
    mtime_ns: int
    retain_until: datetime
    legal_hold: bool
    released: str | None = None
    """Why the bytes were released (``release``): the file is gone on purpose."""

    def encode(self) -> bytes:
        doc: dict[str, object] = {
            "format": SIDECAR_FORMAT, "key": self.key, "sha256": self.sha256, "size": self.size,
            "mtime_ns": self.mtime_ns, "retain_until": self.retain_until.isoformat(),
            "legal_hold": self.legal_hold}
        if self.released is not None:
            doc["released"] = self.released
        return json.dumps(doc, sort_keys=True).encode() + b"\n"

    @classmethod
    def decode(cls, number: int, data: bytes) -> _Sidecar:
        doc = json.loads(data)
        if doc.get("format") != SIDECAR_FORMAT or not is_sha256_hex(doc["sha256"]):
            raise ValueError("not a liuhen local-worm sidecar")
        return cls(number=number, key=str(doc["key"]), sha256=Sha256Hex(doc["sha256"]),
                   size=int(doc["size"]), mtime_ns=int(doc["mtime_ns"]),
                   retain_until=datetime.fromisoformat(doc["retain_until"]),
                   legal_hold=bool(doc["legal_hold"]),
                   released=None if doc.get("released") is None else str(doc["released"]))


class LocalWormStore:
    """Write-once directory store satisfying ``ingest.ports.BlobStore``; no delete exists.

    ``min_retention_days`` is the policy floor: ``put`` refuses a retain-until earlier than
    now + that many days, now as ``clock`` tells it (aware UTC: the composition root passes the
    real clock or the jobs' clock, tests a pinned one). No server holds a clock of its own here.
    """

    def __init__(self, root: Path, *, min_retention_days: int = 180,
                 clock: Callable[[], datetime]) -> None:
        if min_retention_days < 1:
            raise ValueError("min_retention_days must be at least 1")
        self.root = root.resolve()
        self.min_retention_days = min_retention_days
        self._clock = clock
        self._objects = self.root / "objects"
        self._meta = self.root / "meta"
        mkdir_private(self._objects)
        mkdir_private(self._meta)
        if stat.S_IMODE(self.root.stat().st_mode) & 0o077:
            self.root.chmod(PRIVATE_DIR_MODE)  # a store made before folders were owner-only
        self.url = self.root.as_uri()
        message = (f"LocalWormStore at {self.root} is weaker than S3 Object Lock: files are only "
                   "read-only, and a root user can delete or change them (verify() detects "
                   "changes; use S3 Object Lock in production)")
        warnings.warn(message, UnsafeStoreWarning, stacklevel=2)
        log.warning(message)

    def __repr__(self) -> str:
        return f"LocalWormStore({self.root!s})"

    # -- BlobStore -------------------------------------------------------------------------

    def put(self, key: str, source: Path, *, sha256: Sha256Hex, size: int,
            retain_until: datetime) -> StoredObject:
        """Copy ``source`` in under ``key`` once; see ``BlobStore.put``."""
        path = self._object_path(key)
        retain_until = whole_seconds(retain_until)
        if not path.exists():
            floor = self._clock() + timedelta(days=self.min_retention_days) - RETENTION_SLACK
            if retain_until < floor:
                raise PolicyViolationError(
                    f"retain-until {retain_until.isoformat()} for {key} is earlier than the "
                    f"policy minimum of {self.min_retention_days} days from now")
            mkdir_private(path.parent)
            try:
                write_new(path, lambda out: self._copy(source, out, key=key, sha256=sha256,
                                                       size=size))
            except FileExistsError:
                pass  # another writer linked it first: judged below like any existing file
            else:
                st = path.stat()
                # A concurrent put of the same key may have settled it first: judged below.
                with contextlib.suppress(FileExistsError):
                    self._write_sidecar(key, _Sidecar(1, key, sha256, size, st.st_mtime_ns,
                                                      retain_until, legal_hold=False))
        return self._settle_existing(key, sha256=sha256, retain_until=retain_until)

    def verify(self, obj: StoredObject, *, rehash: bool = False) -> StoredObject:
        """Check the file against its sidecar (and with ``rehash``, its SHA-256); see
        ``BlobStore.verify``. A writable mode is re-set to 0444 (the local "lock") and logged."""
        self._own(obj)
        path = self._object_path(obj.key)
        try:
            st = path.stat()
        except FileNotFoundError as exc:
            gone = self._latest_sidecar(obj.key)
            if gone is not None and gone.released is not None:
                raise NotFoundError(f"{obj.key} 的本地副本已释放（{gone.released}）：原件在局端 "
                                    "(the local copy was released; the bureau holds it)"
                                    ) from exc
            raise NotFoundError(f"{self.url} has no object {obj.key}") from exc
        side = self._latest_sidecar(obj.key)
        if side is None:
            raise VerificationError(f"{obj.key}: the object has no metadata sidecar", step=STEP)
        if side.sha256 != obj.sha256 or obj.version_id != obj.sha256:
            raise VerificationError(
                f"{obj.key}: the store records SHA-256 {side.sha256}, the caller "
                f"{obj.sha256} (version {obj.version_id})", step=STEP)
        if not stat.S_ISREG(st.st_mode):
            raise VerificationError(f"{obj.key}: not a regular file any more", step=STEP)
        if st.st_size != side.size or st.st_mtime_ns != side.mtime_ns:
            raise VerificationError(
                f"{obj.key}: the file was modified or replaced after it was stored (size "
                f"{st.st_size}, mtime_ns {st.st_mtime_ns}; recorded {side.size}, "
                f"{side.mtime_ns})", step=STEP)
        if stat.S_IMODE(st.st_mode) != READ_ONLY_MODE:
            log.warning("%s: %s had mode %o; made owner-read-only again", self.url,
                        obj.key, stat.S_IMODE(st.st_mode))
            path.chmod(READ_ONLY_MODE)
        if rehash:
            digest, seen = self._hash_file(path)
            if digest != side.sha256 or seen != side.size:
                raise VerificationError(
                    f"{obj.key}: the file's content changed: SHA-256 {digest} over {seen} bytes, "
                    f"recorded {side.sha256} over {side.size}", step=STEP)
        return self._stored(side)

    def open(self, obj: StoredObject) -> BinaryIO:
        """The object's bytes; reading to the end raises VerificationError if they changed."""
        self.verify(obj)
        fh = self._object_path(obj.key).open("rb")
        return verified_reader(fh.read, fh.close, sha256=obj.sha256, size=obj.size,
                               what=f"{self.url} {obj.key}")

    def read_range(self, obj: StoredObject, offset: int, length: int) -> bytes:
        """Bytes ``[offset, offset + length)`` of the object (fewer at its end), read without
        rehashing: the caller authenticates them (the sealing store's segments)."""
        self._own(obj)
        with self._object_path(obj.key).open("rb") as fh:
            fh.seek(offset)
            return fh.read(length)

    def extend_retention(self, obj: StoredObject, retain_until: datetime) -> StoredObject:
        """Record a later retain-until in a new sidecar version; earlier → PolicyViolationError."""
        wanted = whole_seconds(retain_until)

        def change(side: _Sidecar) -> _Sidecar | None:
            if wanted < side.retain_until:
                raise PolicyViolationError(
                    f"{obj.key}: retention can only be extended; it runs until "
                    f"{side.retain_until.isoformat()}, asked for {wanted.isoformat()}")
            return None if wanted == side.retain_until else replace(side, retain_until=wanted)

        return self._update(obj, change)

    def set_legal_hold(self, obj: StoredObject, on: bool) -> None:
        """Record the legal hold in a new sidecar version (none when it is already so)."""
        self._update(obj, lambda side: None if side.legal_hold == on
                     else replace(side, legal_hold=on))

    def legal_hold(self, obj: StoredObject) -> bool:
        """Whether ``obj`` is under a legal hold (as recorded)."""
        self._own(obj)
        side = self._latest_sidecar(obj.key)
        if side is None:
            raise NotFoundError(f"{self.url} has no object {obj.key}")
        return side.legal_hold

    def release(self, obj: StoredObject, *, reason: str) -> None:
        """Remove a station's local copy once its bureau holds it (ledger/copyrelease.py, which
        ledgers the release first): a sidecar version records ``reason``, then the file goes.
        Idempotent (a crash between the two is finished by the next call). Refused while a
        legal hold is on. Only a station's copies are released: the archive is the bureau's."""
        self._own(obj)
        for _ in range(MAX_SIDECAR_RETRIES):
            side = self._latest_sidecar(obj.key)
            if side is None:
                raise NotFoundError(f"{self.url} has no object {obj.key}")
            if side.sha256 != obj.sha256:
                raise VerificationError(f"{obj.key}: the store records SHA-256 {side.sha256}, "
                                        f"the caller {obj.sha256}", step=STEP)
            if side.legal_hold:
                raise PolicyViolationError(f"{obj.key} 处于法律保全中，本地副本不释放 "
                                           "(under a legal hold: not released)")
            if side.released is not None:
                break
            try:
                self._write_sidecar(obj.key, replace(side, number=side.number + 1,
                                                     released=reason))
            except FileExistsError:
                continue
            break
        else:
            raise ConflictError(f"{obj.key}: metadata kept changing under concurrent writers")
        self._object_path(obj.key).unlink(missing_ok=True)

    def released(self, obj: StoredObject) -> str | None:
        """Why ``obj``'s bytes were released, or None while the store keeps them."""
        self._own(obj)
        side = self._latest_sidecar(obj.key)
        return None if side is None else side.released

    def inventory(self) -> Iterator[ObjectVersion]:
        """What the directory holds, in key order, in the terms of an S3 version listing
        (``evidence.records.ObjectVersion``), for the fixity audit:

        - a file matching its latest sidecar (size, mtime) is the version named by the
          sidecar's SHA-256 (versions are content-addressed);
        - a file that does not match is a version nobody recorded: ``unrecorded-<mtime_ns>``,
          latest (the recorded content is gone: it was edited or replaced);
        - every other content the key's sidecars name follows as a non-latest version (so a
          replaced file, or a sidecar rewritten to name other bytes, shows two versions);
        - a key whose sidecars remain but whose file is gone shows as a delete marker;
        - a file without any sidecar is listed with an ``unrecorded-`` version as well.
        """
        keys = {p.relative_to(self._objects).as_posix() for p in self._objects.rglob("*")
                if p.is_file() and not p.name.startswith(".")}
        keys |= {p.parent.relative_to(self._meta).as_posix()
                 for p in self._meta.rglob("[0-9]*.json") if p.stem.isdigit()}
        for key in sorted(keys):
            yield from self._key_versions(key)

    def _key_versions(self, key: str) -> Iterator[ObjectVersion]:
        try:
            folder, path = self._sidecar_dir(key), self._object_path(key)
        except PolicyViolationError:  # a name liuhen never writes: someone else put it there
            folder, path = self._meta / "-", self._objects / key
        sides: list[_Sidecar] = []
        for side_path in sorted(folder.glob("[0-9]*.json")) if folder.is_dir() else []:
            try:
                sides.append(_Sidecar.decode(int(side_path.stem), side_path.read_bytes()))
            except (ValueError, KeyError, TypeError):
                log.warning("%s: sidecar %s of %s is unreadable", self.url, side_path.name, key)
        try:
            st: os.stat_result | None = path.stat()
        except FileNotFoundError:
            st = None
        latest = sides[-1] if sides else None
        if st is None:
            current = ""
            yield ObjectVersion(key=key, version_id="", is_latest=True, delete_marker=True,
                               size=0, modified=None)
        else:
            intact = (latest is not None and st.st_size == latest.size
                      and st.st_mtime_ns == latest.mtime_ns)
            current = latest.sha256 if intact and latest else f"unrecorded-{st.st_mtime_ns}"
            yield ObjectVersion(key=key, version_id=current, is_latest=True, delete_marker=False,
                               size=st.st_size,
                               modified=datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC))
        recorded = {side.sha256: side.size for side in sides}  # in sidecar order
        for sha, size in recorded.items():
            if sha != current:
                yield ObjectVersion(key=key, version_id=sha, is_latest=False,
                                   delete_marker=False, size=size, modified=None)

    # -- internals -------------------------------------------------------------------------

    def _own(self, obj: StoredObject) -> None:
        if obj.store != self.url:
            raise ValueError(f"{obj.key} belongs to {obj.store}, not {self.url}")

    def _object_path(self, key: str) -> Path:
        return self._objects / self._checked_key(key)

    def _sidecar_dir(self, key: str) -> Path:
        return self._meta / self._checked_key(key)

    @staticmethod
    def _checked_key(key: str) -> str:
        # Keys become paths: relative, '/'-separated segments that cannot climb out of the
        # store or hide as dotfiles (temp files start with '.').
        parts = key.split("/")
        if len(key) > MAX_KEY_CHARS or not all(_SEGMENT.fullmatch(p) for p in parts):
            raise PolicyViolationError(
                f"object key {key!r} is not allowed: use '/'-separated segments of letters, "
                "digits, '.', '_' and '-' that do not start with '.' or '-'")
        return key

    @staticmethod
    def _copy(source: Path, out: BinaryIO, *, key: str, sha256: Sha256Hex, size: int) -> None:
        digest = hashlib.sha256()
        seen = 0
        with source.open("rb") as src:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
                seen += len(chunk)
        if seen != size or digest.hexdigest() != sha256:
            raise VerificationError(
                f"{key}: {source} holds {seen} bytes with SHA-256 {digest.hexdigest()}, the "
                f"caller expected {size} bytes with SHA-256 {sha256}", step="store.put")

    @staticmethod
    def _hash_file(path: Path) -> tuple[str, int]:
        digest = hashlib.sha256()
        seen = 0
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
                seen += len(chunk)
        return digest.hexdigest(), seen

    def _settle_existing(self, key: str, *, sha256: Sha256Hex,
                         retain_until: datetime) -> StoredObject:
        """``key`` exists: same bytes → that object (retention extended if asked for later);
        other bytes → ConflictError. Writes a missing sidecar after a crash."""
        path = self._object_path(key)
        side = self._latest_sidecar(key)
        if side is None:  # crash between link and sidecar: the file's own hash decides
            digest, seen = self._hash_file(path)
            if digest != sha256:
                raise ConflictError(f"{self.url} already holds other bytes under {key} "
                                    f"(SHA-256 {digest})")
            path.chmod(READ_ONLY_MODE)
            side = _Sidecar(1, key, sha256, seen, path.stat().st_mtime_ns, retain_until,
                            legal_hold=False)
            try:
                self._write_sidecar(key, side)
            except FileExistsError:  # the first writer finished its sidecar meanwhile
                side = self._latest_sidecar(key) or side
        if side.sha256 != sha256:
            raise ConflictError(f"{self.url} already holds other bytes under {key} "
                                f"(SHA-256 {side.sha256}, not {sha256})")
        obj = self.verify(self._stored(side), rehash=True)
        if retain_until > obj.retain_until:
            obj = self.extend_retention(obj, retain_until)
        return obj

    def _stored(self, side: _Sidecar) -> StoredObject:
        return StoredObject(store=self.url, key=side.key, version_id=side.sha256, size=side.size,
                            sha256=side.sha256, lock_mode=LOCK_MODE,
                            retain_until=side.retain_until)

    def _latest_sidecar(self, key: str) -> _Sidecar | None:
        folder = self._sidecar_dir(key)
        numbers = sorted((int(p.stem) for p in folder.glob("[0-9]*.json") if p.stem.isdigit()),
                         reverse=True) if folder.is_dir() else []
        if not numbers:
            return None
        path = folder / f"{numbers[0]:06d}.json"
        try:
            side = _Sidecar.decode(numbers[0], path.read_bytes())
        except (ValueError, KeyError, TypeError) as exc:
            raise VerificationError(f"{key}: sidecar {path.name} is unreadable: {exc}",
                                    step=STEP) from exc
        if side.key != key:
            raise VerificationError(f"{key}: sidecar {path.name} names key {side.key}", step=STEP)
        return side

    def _write_sidecar(self, key: str, side: _Sidecar) -> None:
        folder = self._sidecar_dir(key)
        mkdir_private(folder)
        data = side.encode()

        def fill(out: BinaryIO) -> None:
            out.write(data)

        write_new(folder / f"{side.number:06d}.json", fill)

    def _update(self, obj: StoredObject,
                change: Callable[[_Sidecar], _Sidecar | None]) -> StoredObject:
        """Apply ``change`` to the current sidecar as a new sidecar version (retrying when a
        concurrent writer took the number); ``change`` returns None for "nothing to do"."""
        self.verify(obj)
        for _ in range(MAX_SIDECAR_RETRIES):
            side = self._latest_sidecar(obj.key)
            if side is None:
                raise NotFoundError(f"{self.url} has no object {obj.key}")
            new = change(side)
            if new is None:
                return self._stored(side)
            new = replace(new, number=side.number + 1)
            try:
                self._write_sidecar(obj.key, new)
            except FileExistsError:
                continue
            return self._stored(new)
        raise ConflictError(f"{obj.key}: metadata kept changing under concurrent writers")

