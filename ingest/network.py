"""Network ingest for 4G recorders and phones (issue 19): resumable uploads (the tus 1.0 protocol
at the HTTP edge, api/http/rest_uploads.py) that end in the same pipeline as a dock.

A device authenticates with its own credential (an API token of role ``device`` named by its
serial, ``liuhen devices add``) and must be assigned to an officer. An upload announces its
length, its file name and the device's clock; its bytes go to ``folder/<id>.part`` as they
arrive, hashed as they stream in (SHA-256 and SM3; after a restart the part already received is
hashed again first). The upload that reaches its length is ingested by ``Dock`` over the file
(``driver_for``: devices/uploaded.py): ``acquired`` (the device's clock against the server's as
the clock offset), ``stored``, ``verified`` — one ``acquired`` entry however often the upload was
cut and resumed; the streamed digests must equal what the dock hashed on its own read, or the
upload fails with nothing recorded as complete. Then the part file is removed.

Errors: an unknown upload, or another device's, is ``NotFoundError`` (the same answer: nobody
learns of others' uploads); an offset other than the bytes received is ``ConflictError``; a
length past ``max_length`` or more bytes than announced is ``PolicyViolationError``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from evidence.errors import ConflictError, NotFoundError, PolicyViolationError, VerificationError
from evidence.records import Upload
from ingest.context import IngestContext
from ingest.ports import Recorder
from ingest.station import Dock, DockResult
from integrity.hashing import CHUNK_BYTES, new_sm3

log = logging.getLogger("liuhen.uploads")
MAX_LENGTH = 64 << 30
MAX_NAME_CHARS = 255


class LoggedProgress:
    """``Progress`` of an upload's ingest, as log lines (nobody watches a console)."""

    def dock_started(self, serial: str, *, files: int, total_bytes: int) -> None:
        log.info("[%s] ingesting an upload of %d bytes", serial, total_bytes)

    def advanced(self, serial: str, nbytes: int) -> None:
        return None

    def file_done(self, serial: str, path: str, state: str, note: str = "") -> None:
        log.info("[%s] %r: %s %s", serial, path, state, note)

    def dock_finished(self, serial: str, *, ok: bool, summary: str) -> None:
        log.info("[%s] %s: %s", serial, "done" if ok else "FAILED", summary)

    def media(self, sha256: str, action: str, *, done_ms: int, total_ms: int) -> None:
        return None


class UploadRepo(Protocol):
    def create(self, upload: Upload) -> None: ...

    def get(self, upload_id: str) -> Upload | None: ...

    def complete(self, upload_id: str, *, sha256: str, at: datetime) -> None: ...


@dataclass
class _Hashing:
    offset: int
    sha256: Any = field(default_factory=hashlib.sha256)
    sm3: Any = field(default_factory=new_sm3)

    def update(self, data: bytes) -> None:
        self.sha256.update(data)
        self.sm3.update(data)
        self.offset += len(data)


@dataclass
class NetworkIngest:
    ctx: IngestContext
    uploads: UploadRepo
    folder: Path
    driver_for: Callable[[Upload, Path], Recorder[Any]]
    max_length: int = MAX_LENGTH
    _hashing: dict[str, _Hashing] = field(default_factory=dict)
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def create(self, *, serial: str, length: int, name: str,
               device_time: datetime | None) -> Upload:
        if not 0 < length <= self.max_length:
            raise PolicyViolationError(f"上传长度须在 1 至 {self.max_length} 字节之间 "
                                       f"(Upload-Length {length})")
        name = name.strip() or "upload.bin"
        if len(name) > MAX_NAME_CHARS or any(ord(c) < 32 for c in name):
            raise PolicyViolationError("文件名过长或含控制字符 (the file name is too long or has "
                                       "control characters)")
        if self.ctx.repo.assignment(serial) is None:
            raise PolicyViolationError(f"设备 {serial} 未分配给民警 (not assigned to an "
                                       "officer: liuhen devices add)")
        upload = Upload(id=secrets.token_hex(16), serial=serial, length=length, name=name,
                        device_time=device_time, created_at=self.ctx.clock())
        self.folder.mkdir(parents=True, exist_ok=True)
        self._part(upload).touch(exist_ok=False)
        self.uploads.create(upload)
        return upload

    def status(self, upload_id: str, serial: str) -> tuple[Upload, int]:
        """The upload and the bytes received so far (its length once it is complete)."""
        upload = self._own(upload_id, serial)
        if upload.completed_at is not None:
            return upload, upload.length
        return upload, self._part(upload).stat().st_size

    def append(self, upload_id: str, serial: str, offset: int,
               chunks: Callable[[], bytes | None]) -> tuple[int, Upload]:
        """Write what ``chunks`` yields (None: the request's end) at ``offset``; the new
        offset, and the upload (completed and ingested when it reached its length). Whatever
        arrived before a connection dropped stays: the client resumes from there."""
        with self._lock(upload_id):
            upload = self._own(upload_id, serial)
            part = self._part(upload)
            have = upload.length if upload.completed_at else part.stat().st_size
            if offset != have:
                raise ConflictError(f"Upload-Offset {offset}，已收到 {have} 字节 "
                                    f"(the server has {have} bytes)")
            if upload.completed_at is not None:
                return have, upload
            hashing = self._hashing.get(upload_id)
            if hashing is None or hashing.offset != have:
                hashing = self._hashing[upload_id] = self._rehash(part)
            try:
                with part.open("ab") as fh:
                    while (data := chunks()) is not None:
                        if hashing.offset + len(data) > upload.length:
                            raise PolicyViolationError(
                                f"超出声明的长度 {upload.length} 字节 (more bytes than "
                                "Upload-Length)")
                        fh.write(data)
                        hashing.update(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            except BaseException:
                self._hashing.pop(upload_id, None)  # the file decides what arrived
                raise
            if hashing.offset < upload.length:
                return hashing.offset, upload
            return upload.length, self._finish(upload, part, hashing)

    def _finish(self, upload: Upload, part: Path, hashing: _Hashing) -> Upload:
        assignment = self.ctx.repo.assignment(upload.serial)
        result: DockResult = Dock(self.driver_for(upload, part), ctx=self.ctx, password=None,
                                  assignment=assignment).run()
        sha256 = result.contents.get(upload.name)
        streamed = hashing.sha256.hexdigest()
        if result.failed or sha256 is None:
            raise VerificationError(f"上传 {upload.id} 未能入库：{result.failed}", step="ingest")
        if sha256 != streamed:
            raise VerificationError(f"上传 {upload.id}：接收时的 SHA-256 {streamed} 与入库时 "
                                    f"{sha256} 不一致", step="ingest")
        at = self.ctx.clock()
        self.uploads.complete(upload.id, sha256=sha256, at=at)
        self._hashing.pop(upload.id, None)
        with self._guard:  # a complete upload needs no lock: later calls see completed_at
            self._locks.pop(upload.id, None)
        part.unlink(missing_ok=True)
        return replace(upload, completed_at=at, sha256=sha256)

    def _own(self, upload_id: str, serial: str) -> Upload:
        upload = self.uploads.get(upload_id) if len(upload_id) == 32 else None
        if upload is None or upload.serial != serial:
            raise NotFoundError("没有这个上传 (no such upload)")
        return upload

    def _part(self, upload: Upload) -> Path:
        return self.folder / f"{upload.id}.part"  # named by its id, never by the device

    def _lock(self, upload_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(upload_id, threading.Lock())

    @staticmethod
    def _rehash(part: Path) -> _Hashing:
        hashing = _Hashing(offset=0)
        with part.open("rb") as fh:
            while data := fh.read(CHUNK_BYTES):
                hashing.update(data)
        return hashing
