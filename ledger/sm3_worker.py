"""The SM3 tree of an audit in a second process (DESIGN.md §4 国密 layer; issue 14 benchmark:
the audit with both trees ≤ 2× the SHA-256-only audit).

SM3 runs in OpenSSL, but on the audit's small updates (one ~330-byte entry, one 65-byte node)
hashlib holds the GIL, so a thread does not help: the SM3 tree costs as much as the SHA-256 tree
and the signatures together. :class:`Sm3Tee` streams the audit's rows through unchanged and ships
their entry bytes in large chunks over a pipe to a worker process, which rebuilds the SM3 tree
(``integrity.merkle``, the same code as the in-process audit) and records its root at the sizes
asked for. The pure audit (``integrity.audit.audit_rows``) takes those roots through its
``sm3_roots`` input and checks them as it would its own (A6-SM3: same step, same index).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from array import array
from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType
from typing import IO, BinaryIO

from evidence.errors import UnavailableError
from integrity.audit import EntryRow
from integrity.merkle import SM3, TreeBuilder

CHUNK_ROWS = 8192
"""Entries per message (~2.7 MB at ~330 bytes): large enough that framing costs little per row,
small enough that the worker starts early and the pipe never holds much."""

# Wire format (a private pipe between two liuhen processes, not a file format): a chunk is
# ``count`` (u32) then ``count`` u32 lengths then the entry bytes back to back; count 0 ends the
# stream. The reply is, per size, ``size`` (u64) and the 32-byte root.
_U32, _U64 = "I", "Q"


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise EOFError("SM3 worker input ended early")
    return data


def _u32s(raw: bytes) -> array[int]:
    values = array(_U32)
    values.frombytes(raw)
    return values


def work(source: BinaryIO, sink: BinaryIO, sizes: frozenset[int]) -> None:
    """The worker: append every received entry to an SM3 tree, note the root at each of
    ``sizes`` reached and at the end, and write ``{size: root}`` back."""
    tree = TreeBuilder(tree_hash=SM3)
    roots: dict[int, bytes] = {}
    if 0 in sizes:
        roots[0] = tree.root()
    append = tree.append_entry
    itemsize = array(_U32).itemsize
    while count := _u32s(_read_exact(source, itemsize))[0]:
        lengths = _u32s(_read_exact(source, itemsize * count))
        data = _read_exact(source, sum(lengths))
        at, size = 0, tree.size
        for n in lengths:
            append(data[at:at + n])
            at += n
            size += 1
            if size in sizes:
                roots[size] = tree.root()
    roots[tree.size] = tree.root()
    for size, root in sorted(roots.items()):
        sink.write(array(_U64, [size]).tobytes() + root)
    sink.flush()


class Sm3Tee:
    """A context manager around one audit: :meth:`rows` passes the rows through and feeds the
    worker; :meth:`roots` (the audit's ``sm3_roots``) ends the stream and waits for the roots.
    Leaving the block stops the worker whatever happened (an audit failing half-way).

    The worker is a fresh interpreter (``python -m ledger.sm3_worker``), not a multiprocessing
    child: nothing of the caller (database connections, threads, its ``__main__``) is copied
    or re-imported."""

    def __init__(self, sizes: Iterable[int]) -> None:
        argv = [sys.executable, "-m", "ledger.sm3_worker", *map(str, sorted(set(sizes)))]
        self._process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        if self._process.stdin is None or self._process.stdout is None:
            raise RuntimeError("Popen without pipes")
        self._stdin: IO[bytes] = self._process.stdin
        self._stdout: IO[bytes] = self._process.stdout
        self._ended = False

    def __enter__(self) -> Sm3Tee:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for stream in (self._stdin, self._stdout):
            with contextlib.suppress(BrokenPipeError):
                stream.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _send(self, chunk: list[bytes]) -> None:
        stdin = self._stdin
        try:
            stdin.write(array(_U32, [len(chunk)]).tobytes()
                        + array(_U32, map(len, chunk)).tobytes())
            stdin.write(b"".join(chunk))
        except BrokenPipeError as exc:
            raise self._died() from exc

    def _died(self) -> UnavailableError:
        return UnavailableError("SM3 审计子进程意外退出 (the SM3 audit worker died: exit code "
                                f"{self._process.poll()})")

    def rows(self, rows: Iterable[EntryRow]) -> Iterator[EntryRow]:
        """``rows`` unchanged; their entry bytes go to the worker in chunks of CHUNK_ROWS."""
        chunk: list[bytes] = []
        add = chunk.append
        for row in rows:
            add(row[1])
            if len(chunk) >= CHUNK_ROWS:
                self._send(chunk)
                chunk.clear()
            yield row
        if chunk:
            self._send(chunk)

    def roots(self) -> Mapping[int, bytes]:
        """End the stream and return the worker's ``{size: SM3 root}``."""
        if self._ended:
            raise RuntimeError("Sm3Tee.roots called twice")
        self._ended = True
        stdin, stdout = self._stdin, self._stdout
        try:
            stdin.write(array(_U32, [0]).tobytes())
            stdin.close()
        except BrokenPipeError as exc:
            raise self._died() from exc
        reply = stdout.read()
        if self._process.wait() != 0 or len(reply) % 40:
            raise self._died()
        return {int(array(_U64, reply[i:i + 8])[0]): reply[i + 8:i + 40]
                for i in range(0, len(reply), 40)}


if __name__ == "__main__":
    work(sys.stdin.buffer, sys.stdout.buffer, frozenset(int(a) for a in sys.argv[1:]))
