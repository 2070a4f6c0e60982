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

import multiprocessing
from collections.abc import Iterable, Iterator, Mapping
from multiprocessing.connection import Connection
from types import TracebackType

from evidence.errors import UnavailableError
from integrity.audit import EntryRow
from integrity.merkle import SM3, TreeBuilder

CHUNK_ROWS = 8192
"""Entry bytes per message (~2.7 MB at ~330 bytes): large enough that pickling and the pipe cost
little per row, small enough that the worker starts early and the pipe never holds much."""


def _work(conn: Connection, sizes: frozenset[int]) -> None:
    """The worker: append every received chunk's entries to an SM3 tree, note the root at each
    of ``sizes`` reached, and on the end marker (None) send back ``{size: root}`` with the final
    size included."""
    tree = TreeBuilder(tree_hash=SM3)
    roots: dict[int, bytes] = {}
    if 0 in sizes:
        roots[0] = tree.root()
    append = tree.append_entry
    while (chunk := conn.recv()) is not None:
        size = tree.size
        for data in chunk:
            append(data)
            size += 1
            if size in sizes:
                roots[size] = tree.root()
    roots[tree.size] = tree.root()
    conn.send(roots)
    conn.close()


class Sm3Tee:
    """A context manager around one audit: :meth:`rows` passes the rows through and feeds the
    worker; :meth:`roots` (the audit's ``sm3_roots``) ends the stream and waits for the roots.
    Leaving the block stops the worker whatever happened (an audit failing half-way)."""

    def __init__(self, sizes: Iterable[int]) -> None:
        # spawn, not fork: the caller holds database connections and driver threads.
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_work, args=(child, frozenset(sizes)),
                                    name="liuhen-sm3-audit", daemon=True)
        self._process.start()
        child.close()
        self._ended = False

    def __enter__(self) -> Sm3Tee:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._conn.close()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def rows(self, rows: Iterable[EntryRow]) -> Iterator[EntryRow]:
        """``rows`` unchanged; their entry bytes go to the worker in chunks of CHUNK_ROWS."""
        chunk: list[bytes] = []
        add, send = chunk.append, self._conn.send
        for row in rows:
            add(row[1])
            if len(chunk) >= CHUNK_ROWS:
                send(chunk)
                chunk.clear()
            yield row
        if chunk:
            send(chunk)

    def roots(self) -> Mapping[int, bytes]:
        """End the stream and return the worker's ``{size: SM3 root}``."""
        if self._ended:
            raise RuntimeError("Sm3Tee.roots called twice")
        self._ended = True
        try:
            self._conn.send(None)
            result: dict[int, bytes] = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise UnavailableError("SM3 审计子进程意外退出 (the SM3 audit worker died: "
                                   f"exit code {self._process.exitcode})") from exc
        return result
