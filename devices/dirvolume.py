"""A recorder's files in a directory: a mounted volume or an SD card folder.

Threat model: the directory's contents come from the recorder (or whoever wrote the card). Every
lookup walks from the root one component at a time with ``openat``-style ``dir_fd`` and
``O_NOFOLLOW``, so a symlink, a ``..`` smuggled into a ``Recording`` or a renamed parent cannot lead
outside the root. Only regular files on the root's own file system are listed; symlinks, FIFOs,
sockets, device nodes and other mounts are skipped and logged. Opening rechecks that the name still
leads to the listed inode (``file_id``) and that it is a regular file (``O_NONBLOCK`` so a FIFO put
in its place cannot block the station).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from datetime import UTC, datetime

from devices.driver import Recording
from devices.fatcommon import MAX_DEPTH, MAX_FILES
from devices.stream import RawSource
from evidence.errors import ConflictError, NotFoundError, PolicyViolationError, UnavailableError

_log = logging.getLogger(__name__)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def special_kind(mode: int) -> str:
    """What a non-regular, non-directory file is, for the message that refuses or skips it."""
    kinds = ((stat.S_ISFIFO, "FIFO（命名管道）"), (stat.S_ISSOCK, "套接字"),
             (stat.S_ISCHR, "字符设备"), (stat.S_ISBLK, "块设备"), (stat.S_ISLNK, "符号链接"))
    return next((name for test, name in kinds if test(mode)), f"特殊文件（mode {mode:o}）")


def _check_component(component: bytes) -> bytes:
    if component in (b"", b".", b"..") or b"/" in component or b"\x00" in component:
        raise PolicyViolationError(f"refusing path component {component!r}")
    return component


def _display(raw: bytes) -> str:
    # Names are bytes on Linux; the display form never carries lone surrogates into the ledger.
    return raw.decode("utf-8", errors="replace")


class DirectoryVolume:
    """Read-mostly access to the files under ``root`` (deletion only through ``remove``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = os.fsencode(os.path.realpath(root))
        try:
            st = os.stat(self._root)
        except FileNotFoundError as exc:
            raise NotFoundError(f"recorder volume {self.description!r} does not exist") from exc
        except OSError as exc:
            raise UnavailableError(f"recorder volume {self.description!r}: {exc.strerror}") from exc
        if not stat.S_ISDIR(st.st_mode):
            raise PolicyViolationError(f"recorder volume {self.description!r} is not a directory")
        self._device = st.st_dev

    @property
    def description(self) -> str:
        return _display(self._root)

    def recordings(self) -> list[Recording]:
        found: list[Recording] = []
        root_fd = os.open(self._root, _DIR_FLAGS)
        try:
            self._walk(root_fd, (), found, depth=0)
        finally:
            os.close(root_fd)
        return found

    def _walk(
        self, dir_fd: int, parents: tuple[bytes, ...], found: list[Recording], *, depth: int
    ) -> None:
        names = sorted(os.fsencode(name) for name in os.listdir(dir_fd))
        for name in names:
            raw_path = b"/".join((*parents, name))
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if st.st_dev != self._device:
                _log.warning("skipping %r: another file system is mounted there", raw_path)
            elif stat.S_ISDIR(st.st_mode):
                if depth + 1 > MAX_DEPTH:
                    raise PolicyViolationError(
                        f"directories nest deeper than {MAX_DEPTH} at {raw_path!r}"
                    )
                child = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
                try:
                    self._walk(child, (*parents, name), found, depth=depth + 1)
                finally:
                    os.close(child)
            elif stat.S_ISREG(st.st_mode):
                if len(found) >= MAX_FILES:
                    raise PolicyViolationError(f"more than {MAX_FILES} files on one recorder")
                found.append(
                    Recording(
                        path=_display(raw_path),
                        size=st.st_size,
                        device_mtime=_utc(st.st_mtime_ns),
                        file_id=st.st_ino,
                        raw_path=raw_path,
                    )
                )
            else:  # never opened: a FIFO would block the read, a device is not a recording
                _log.warning("跳过 %s：是%s，不是普通文件，未打开", _display(raw_path),
                             special_kind(st.st_mode))

    def _parent_fd(self, recording: Recording) -> tuple[int, bytes]:
        """An fd of the recording's parent directory, reached without following links."""
        *parents, leaf = (_check_component(c) for c in recording.raw_path.split(b"/"))
        fd = os.open(self._root, _DIR_FLAGS)
        for component in parents:
            try:
                child = os.open(component, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                # O_DIRECTORY|O_NOFOLLOW on a symlink fails with ENOTDIR, not ELOOP: look.
                link = exc.errno == errno.ENOTDIR and _is_symlink(component, fd)
                os.close(fd)
                refused = PolicyViolationError(f"{recording.path!r}: a symlink on the way; refused")
                raise (refused if link else _translate(exc, recording)) from exc
            os.close(fd)
            fd = child
        return fd, leaf

    def open_raw(self, recording: Recording) -> RawSource:
        parent, leaf = self._parent_fd(recording)
        try:
            fd = os.open(leaf, _FILE_FLAGS, dir_fd=parent)
        except OSError as exc:
            raise _translate(exc, recording) from exc
        finally:
            os.close(parent)
        try:
            self._check_same(os.fstat(fd), recording)
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return open(fd, "rb", buffering=0, closefd=True)

    def remove(self, recording: Recording) -> None:
        parent, leaf = self._parent_fd(recording)
        try:
            self._check_same(os.stat(leaf, dir_fd=parent, follow_symlinks=False), recording)
            os.unlink(leaf, dir_fd=parent)
        except OSError as exc:
            raise _translate(exc, recording) from exc
        finally:
            os.close(parent)

    def _check_same(self, st: os.stat_result, recording: Recording) -> None:
        if not stat.S_ISREG(st.st_mode):
            raise PolicyViolationError(f"{recording.path!r} is not a regular file")
        if st.st_dev != self._device or st.st_ino != recording.file_id:
            raise ConflictError(f"{recording.path!r} was replaced since it was listed")

    def close(self) -> None:
        """Nothing is held open between calls."""


def _is_symlink(name: bytes, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _utc(nanoseconds: int) -> datetime:
    seconds, remainder = divmod(nanoseconds, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=remainder // 1000)


def _translate(exc: OSError, recording: Recording) -> Exception:
    if exc.errno == errno.ELOOP:
        return PolicyViolationError(f"{recording.path!r}: a symlink on the way; refused")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return NotFoundError(f"{recording.path!r} is no longer on the recorder")
    return UnavailableError(f"recorder I/O failed on {recording.path!r}: {exc.strerror}")
