"""Encryption at rest (DESIGN.md §5, docs/adr/0010-sm4-envelope.md): a ``BlobStore`` that seals
each object with SM4-GCM (integrity/sm4stream.py) before it reaches the store underneath (the
local WORM directory or S3 Object Lock) and opens it again on reads.

- ``put``: a fresh random 128-bit data key and nonce prefix per object; the key is wrapped by
  the ``KeyService``'s current KEK and recorded in ``object_keys`` *before* the upload (so a
  resumed upload reproduces the same ciphertext and the inner store's idempotent ``put``
  recognises it); the plaintext is sealed into a spool file beside the source, its SHA-256 and
  size checked on the way, and the spool is uploaded. The returned ``StoredObject`` speaks of the
  plaintext (``sha256``, ``size``: the evidence's identity) and carries ``sealing`` (algorithm,
  KEK id, wrapped key, sealed SHA-256 and size) for the ``stored`` entry.
- ``verify``: the inner store's checks on the sealed bytes (``rehash``: the sealed SHA-256),
  without any key. ``open`` decrypts: a whole read authenticates every segment and then checks
  the plaintext SHA-256; a ``seek`` (HTTP Range for playback) fetches and decrypts only the
  segments the range needs, each authenticated as segment i of this object.
- An object without a key record (stored before encryption was on, or under
  ``LIUHEN_ENCRYPTION=none``) passes through unchanged.

Threat model: the object store (and whoever administers it) sees only ciphertext; the database
holds wrapped keys only; the KEK stays with the ``KeyService`` (key files by default, a
服务器密码机 in production). Someone holding the KEK and the database reads everything.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from evidence.errors import ConflictError, VerificationError
from evidence.ids import Sha256Hex
from evidence.records import ObjectVersion, Sealing, StoredObject
from integrity import sm4stream as s4
from storage.blobio import READ_BUFFER_BYTES
from storage.object_keys import ObjectKey, SqlObjectKeys

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

STEP = "store.decrypt"
FETCH_SEGMENTS = 16  # sealed bytes fetched per inner read: 1 MiB of plaintext
SEAL_BATCH_SEGMENTS = 64  # segments sealed per batch on the upload path: 4 MiB of plaintext


class KeyWrapper(Protocol):
    """What this store needs of ``ledger.ports.KeyService`` (structurally the same methods)."""

    def current_kek_id(self) -> str: ...

    def wrap(self, data_key: bytes, *, context: bytes) -> tuple[str, bytes]: ...

    def unwrap(self, kek_id: str, wrapped: bytes, *, context: bytes) -> bytes: ...


class RangedStore(Protocol):
    """The stores underneath: ``ingest.ports.BlobStore`` plus a ranged read of one version."""

    url: str

    def put(self, key: str, source: Path, *, sha256: Sha256Hex, size: int,
            retain_until: datetime) -> StoredObject: ...

    def verify(self, obj: StoredObject, *, rehash: bool = False) -> StoredObject: ...

    def open(self, obj: StoredObject) -> BinaryIO: ...

    def read_range(self, obj: StoredObject, offset: int, length: int) -> bytes: ...

    def extend_retention(self, obj: StoredObject, retain_until: datetime) -> StoredObject: ...

    def set_legal_hold(self, obj: StoredObject, on: bool) -> None: ...

    def inventory(self) -> Iterator[ObjectVersion]: ...


def wrap_context(object_key: str) -> bytes:
    """The AAD a data key is wrapped under: the object's key, so wrappings cannot be moved."""
    return object_key.encode()


class SealedStore:
    """SM4-GCM envelope around ``inner``; satisfies ``ingest.ports.BlobStore``."""

    def __init__(self, inner: RangedStore, *, keys: KeyWrapper, records: SqlObjectKeys) -> None:
        self.inner = inner
        self.keys = keys
        self.records = records
        self.url = inner.url

    def __repr__(self) -> str:
        return f"SealedStore({self.inner!r})"

    # -- BlobStore -------------------------------------------------------------------------

    def put(self, key: str, source: Path, *, sha256: Sha256Hex, size: int,
            retain_until: datetime) -> StoredObject:
        spool = source.with_name(f".{source.name}.sm4")
        try:
            record = self.records.get(self.url, key)
            for _ in range(2):  # a second round only when a concurrent put recorded first
                sealed_sha, sealed_size, fresh = self._seal(key, source, spool, record,
                                                            sha256=sha256, size=size)
                if fresh is not None:
                    record = self.records.add(fresh)
                if record is not None and record.sealed_sha256 == sealed_sha:
                    break
            else:
                raise ConflictError(f"{key}: its data key kept changing under concurrent puts")
            inner = self.inner.put(key, spool, sha256=Sha256Hex(sealed_sha), size=sealed_size,
                                   retain_until=retain_until)
        finally:
            spool.unlink(missing_ok=True)
        return self._outer(inner, record)

    def _seal(self, key: str, source: Path, spool: Path, record: ObjectKey | None, *,
              sha256: Sha256Hex, size: int) -> tuple[str, int, ObjectKey | None]:
        """Seal ``source`` into ``spool`` with the recorded key (a resumed put: the same
        ciphertext again), or with a fresh key, returned as a record still to be added."""
        if record is not None and record.plain_sha256 != sha256:
            raise ConflictError(f"{self.url} already holds another plaintext under {key} "
                                f"(SHA-256 {record.plain_sha256})")
        if record is None:
            data_key = secrets.token_bytes(s4.KEY_BYTES)
            header = s4.Header(prefix=secrets.token_bytes(s4.PREFIX_BYTES))
            kek_id, wrapped = self.keys.wrap(data_key, context=wrap_context(key))
        else:
            data_key = self.keys.unwrap(record.kek_id, record.wrapped_key,
                                        context=wrap_context(key))
            header = s4.Header.decode(record.header)
        sealed_sha, sealed_size = seal_file(source, spool, key=data_key, header=header,
                                            sha256=sha256, size=size)
        if record is not None:
            return sealed_sha, sealed_size, None
        return sealed_sha, sealed_size, ObjectKey(
            store_url=self.url, object_key=key, plain_sha256=sha256, plain_size=size,
            sealed_sha256=sealed_sha, sealed_size=sealed_size, algorithm=s4.ALGORITHM,
            kek_id=kek_id, wrapped_key=wrapped, header=header.encode())

    def verify(self, obj: StoredObject, *, rehash: bool = False) -> StoredObject:
        """The inner store's checks on the sealed bytes (no key needed)."""
        record = self.records.get(obj.store, obj.key)
        if record is None:
            return self.inner.verify(obj, rehash=rehash)
        return self._outer(self.inner.verify(self._inner(obj, record), rehash=rehash), record)

    def verify_plaintext(self, obj: StoredObject) -> None:
        """Decrypt the whole object and check every segment and the plaintext SHA-256 and size
        (``liuhen fixity --decrypt``); VerificationError naming the segment otherwise."""
        with self.open(obj) as stream:
            while stream.read(READ_BUFFER_BYTES):
                pass

    def open(self, obj: StoredObject) -> BinaryIO:
        record = self.records.get(obj.store, obj.key)
        if record is None:
            return self.inner.open(obj)
        data_key = self.keys.unwrap(record.kek_id, record.wrapped_key,
                                    context=wrap_context(obj.key))
        inner = self._inner(obj, record)
        self.inner.verify(inner)  # the exact version is there, unchanged in size and lock
        raw = _OpeningReader(self.inner, inner, record, data_key)
        # A one-segment buffer: larger reads go to the raw reader at the caller's size, so a
        # range fetches the segments it covers and no more (BufferedReader reads past its
        # buffer directly into the caller's).
        return io.BufferedReader(raw, buffer_size=s4.SEGMENT_BYTES)

    def extend_retention(self, obj: StoredObject, retain_until: datetime) -> StoredObject:
        record = self.records.get(obj.store, obj.key)
        if record is None:
            return self.inner.extend_retention(obj, retain_until)
        return self._outer(self.inner.extend_retention(self._inner(obj, record), retain_until),
                           record)

    def set_legal_hold(self, obj: StoredObject, on: bool) -> None:
        record = self.records.get(obj.store, obj.key)
        self.inner.set_legal_hold(obj if record is None else self._inner(obj, record), on)

    def inventory(self) -> Iterator[ObjectVersion]:
        return self.inner.inventory()

    # -- internals -------------------------------------------------------------------------

    def _inner(self, obj: StoredObject, record: ObjectKey) -> StoredObject:
        return StoredObject(store=obj.store, key=obj.key, version_id=obj.version_id,
                            size=record.sealed_size, sha256=Sha256Hex(record.sealed_sha256),
                            lock_mode=obj.lock_mode, retain_until=obj.retain_until)

    def _outer(self, inner: StoredObject, record: ObjectKey) -> StoredObject:
        return StoredObject(
            store=inner.store, key=inner.key, version_id=inner.version_id,
            size=record.plain_size, sha256=Sha256Hex(record.plain_sha256),
            lock_mode=inner.lock_mode, retain_until=inner.retain_until,
            sealing=Sealing(algorithm=record.algorithm, kek_id=record.kek_id,
                            wrapped_key=record.wrapped_key.hex(),
                            sealed_sha256=Sha256Hex(record.sealed_sha256),
                            sealed_size=record.sealed_size))


def seal_file(source: Path, target: Path, *, key: bytes, header: s4.Header, sha256: str,
              size: int) -> tuple[str, int]:
    """Seal ``source`` into ``target`` (replaced if present), checking on the way that the
    source is ``size`` bytes with SHA-256 ``sha256``; returns the sealed SHA-256 and size.

    One read pass, pipelined: while this thread seals a batch of segments, a worker thread
    hashes the previous batch (plaintext and sealed) and writes it out. SM4-GCM, SHA-256 and
    file writes all release the GIL, so hashing hides under encryption (bench/sm4_bench.py)."""
    plain_digest, sealed_digest = hashlib.sha256(), hashlib.sha256()
    count = s4.segment_count(size)
    sealer = s4.Sealer(key, header)
    written = 0

    def absorb(out: BinaryIO, plain: bytes, sealed: bytes | bytearray) -> None:
        plain_digest.update(plain)
        sealed_digest.update(sealed)
        out.write(sealed)

    with source.open("rb") as src, target.open("wb") as out, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="seal") as pool:
        head = header.encode()
        absorb(out, b"", head)
        written = len(head)
        pending: Future[None] | None = None
        short = False
        for first in range(0, count, SEAL_BATCH_SEGMENTS):
            last = min(first + SEAL_BATCH_SEGMENTS, count)
            want = sum(s4.segment_plain_len(i, size) for i in range(first, last))
            plain = src.read(want)
            if len(plain) != want:
                short = True
                break
            view = memoryview(plain)
            batch = bytearray(want + s4.TAG_BYTES * (last - first))
            into = memoryview(batch)
            pos = 0
            for i in range(first, last):
                start = (i - first) * s4.SEGMENT_BYTES
                pos += sealer.seal_into(i, view[start:start + s4.SEGMENT_BYTES], into[pos:],
                                        final=i == count - 1)
            if pending is not None:
                pending.result()
            pending = pool.submit(absorb, out, plain, batch)  # the worker only reads it
            written += len(batch)
        if pending is not None:
            pending.result()
        extra = src.read(1)
        out.flush()
    if short or extra or plain_digest.hexdigest() != sha256 or written != s4.sealed_size(size):
        target.unlink(missing_ok=True)
        raise VerificationError(f"{source} is not the {size} bytes with SHA-256 {sha256} the "
                                "caller named", step="store.put")
    return sealed_digest.hexdigest(), written


class _OpeningReader(io.RawIOBase):
    """Plaintext of a sealed object, seekable: reads fetch ``FETCH_SEGMENTS`` segments at a
    time from the inner store by range and authenticate each. A read from 0 to the end without
    a seek also checks the plaintext SHA-256 and size recorded for the object."""

    def __init__(self, inner: RangedStore, obj: StoredObject, record: ObjectKey,
                 data_key: bytes) -> None:
        super().__init__()
        self._inner = inner
        self._obj = obj
        self._size = record.plain_size
        self._sha256 = record.plain_sha256
        self._key = data_key
        self._header = s4.Header.decode(record.header)
        self._pos = 0
        self._digest: hashlib._Hash | None = hashlib.sha256()
        self._what = f"{obj.store} {obj.key}"

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        target = max(0, base + offset)
        if target != self._pos:
            self._digest = None  # no longer one sequential pass: segments still authenticate
        self._pos = target
        return self._pos

    def readall(self) -> bytes:
        chunks = []
        while chunk := self.read(FETCH_SEGMENTS * s4.SEGMENT_BYTES):
            chunks.append(chunk)
        return b"".join(chunks)

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        if self._pos >= self._size or not len(view):
            self._finish()
            return 0
        # Up to FETCH_SEGMENTS segments, ending on a segment boundary.
        want = min(len(view), FETCH_SEGMENTS * s4.SEGMENT_BYTES - self._pos % s4.SEGMENT_BYTES)
        span = s4.span_for(self._pos, want, self._size)
        sealed = self._inner.read_range(self._obj, span.offset, span.length)
        try:
            plain = b"".join(s4.open_span(self._key, self._header, span, sealed, self._size))
        except s4.SegmentError as exc:
            raise VerificationError(f"{self._what}: {exc.reason}", step=STEP) from exc
        chunk = plain[span.skip:span.skip + min(want, self._size - self._pos)]
        n = min(len(chunk), len(view))
        view[:n] = chunk[:n]
        if self._digest is not None:
            self._digest.update(chunk[:n])
        self._pos += n
        return n

    def _finish(self) -> None:
        if self._digest is not None and self._pos == self._size:
            got = self._digest.hexdigest()
            self._digest = None
            if got != self._sha256:
                raise VerificationError(f"{self._what}: decrypted plaintext has SHA-256 {got}, "
                                        f"recorded {self._sha256}", step=STEP)
