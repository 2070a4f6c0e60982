"""The SM3 tree beside the SHA-256 tree (DESIGN.md §4 国密 layer; docs/ledger-format.md §9):
the same entry bytes, RFC 9162 with SM3 as the hash, its state kept on each commit row
(``sm3_root``, ``sm3_frontier``: migration 0006) as ``root``/``frontier`` are for SHA-256.

SM3 leaf hashes are not stored: they are recomputed from the verbatim entry bytes (the only bytes
ever hashed), so the entry table keeps its shape and its append-only rows need no backfill.
Commits written before the 国密 layer carry no SM3 state; the first append after the upgrade
rebuilds the SM3 frontier from every entry (one pass, inside that append's writer lock) and every
commit from then on carries it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.engine import Connection

from evidence.errors import VerificationError
from integrity import merkle
from storage.ledger_tables import LedgerCommitRow, LedgerEntryRow

_E = LedgerEntryRow
_C = LedgerCommitRow
_PAGE_ROWS = 10_000  # entry bytes read at a time when rebuilding


def _entry_data(conn: Connection, start: int, stop: int) -> Iterator[bytes]:
    """Entry bytes ``start <= idx < stop`` in order; VerificationError at a missing row."""
    expected = start
    while expected < stop:
        page = conn.execute(select(_E.idx, _E.data).where(_E.idx >= expected, _E.idx < stop)
                            .order_by(_E.idx).limit(_PAGE_ROWS)).all()
        if not page:
            break
        for idx, data in page:
            if idx != expected:
                break
            yield bytes(data)
            expected += 1
        else:
            continue
        break
    if expected != stop:
        raise VerificationError("ledger row is missing", step="ledger", index=expected)


def _extend(tree: merkle.TreeBuilder, datas: Iterable[bytes]) -> merkle.TreeBuilder:
    for data in datas:
        tree.append_entry(data)
    return tree


def sm3_tree_at(conn: Connection, size: int) -> merkle.TreeBuilder:
    """The SM3 tree of the first ``size`` entries, resumed from the nearest commit at or below
    ``size`` that carries SM3 state (from the empty tree when none does): O(entries since)."""
    base = conn.execute(select(_C.size, _C.sm3_frontier)
                        .where(_C.size <= size, _C.sm3_frontier.is_not(None))
                        .order_by(_C.size.desc()).limit(1)).first()
    tree = (merkle.TreeBuilder(tree_hash=merkle.SM3) if base is None
            else merkle.TreeBuilder.from_frontier(base.size, bytes(base.sm3_frontier),
                                                  tree_hash=merkle.SM3))
    return _extend(tree, _entry_data(conn, tree.size, size))


def sm3_root_at(conn: Connection, size: int) -> bytes:
    """The SM3 root of the committed tree of ``size`` (the commit row's, when one ends there)."""
    row = conn.execute(select(_C.sm3_root).where(_C.size == size)).first()
    if row is not None and row.sm3_root is not None:
        return bytes(row.sm3_root)
    return sm3_tree_at(conn, size).root()


def sm3_leaves(datas: Iterable[bytes]) -> list[bytes]:
    """SM3(0x00 ‖ entry) of each entry (RFC 9162 §2.1.1 with SM3)."""
    return [merkle.leaf_hash(data, tree_hash=merkle.SM3) for data in datas]


__all__ = ["sm3_leaves", "sm3_root_at", "sm3_tree_at"]
