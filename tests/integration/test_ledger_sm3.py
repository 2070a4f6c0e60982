"""The SM3 tree beside the SHA-256 tree in SqlLedgerStore (DESIGN.md §4 国密 layer), on real
SQLite and PostgreSQL: its state on every commit, the checkpoint's ``sm3`` line, SM3 inclusion
proofs, a split view in the SM3 tree refused, and a ledger from before migration 0006."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import create_engine, text

from evidence.errors import VerificationError
from evidence.records import TreeHead
from integrity import merkle
from integrity.notes import Signer, commit_text, open_checkpoint, sign_checkpoint, sign_note
from ledger.publishing import publish_checkpoint
from storage.ledger_store import SqlLedgerStore
from storage.migrations import upgrade
from tests.integration.conftest import AT, ORIGIN, make_items, pinned_clock


def _sm3_root(datas: list[bytes]) -> bytes:
    return merkle.root([merkle.leaf_hash(d, tree_hash=merkle.SM3) for d in datas],
                       tree_hash=merkle.SM3)


def test_checkpoints_commit_both_trees(store: SqlLedgerStore, station_signer: Signer,
                                       log_signer: Signer) -> None:
    items = make_items(5, prefix="a") + make_items(6, prefix="b")
    store.append_batch(items[:5], signers=[station_signer])
    store.append_batch(items[5:], signers=[station_signer])
    datas = [d for d, _, _ in items]
    for size in (0, 3, 5, 11):  # at a commit, between commits, and the empty tree
        assert store.sm3_head(size).root == _sm3_root(datas[:size])
    cp = publish_checkpoint(store, origin=ORIGIN, signers=[log_signer], now=AT)
    assert cp is not None and cp.sm3 is not None
    assert (cp.sm3.size, cp.sm3.root) == (11, _sm3_root(datas))
    opened = open_checkpoint(cp.note, origin=ORIGIN, keys=[log_signer.public])
    assert opened.sm3 == cp.sm3 and store.checkpoints()[-1].sm3 == cp.sm3
    for index in (0, 4, 10):
        path = store.inclusion_proof(index, 11, tree_hash=merkle.SM3)
        merkle.verify_inclusion(index, 11, merkle.leaf_hash(datas[index], tree_hash=merkle.SM3),
                                path, cp.sm3.root, tree_hash=merkle.SM3)
        assert path != store.inclusion_proof(index, 11)  # the SHA-256 path is another


def test_a_checkpoint_with_another_sm3_root_is_a_split_view(
        store: SqlLedgerStore, station_signer: Signer, log_signer: Signer) -> None:
    store.append_batch(make_items(4), signers=[station_signer])
    head = store.head()
    forged_sm3 = dataclasses.replace(store.sm3_head(4), root=bytes(32))
    forged = sign_checkpoint(ORIGIN, head, [log_signer], sm3=forged_sm3)
    with pytest.raises(VerificationError) as info:
        store.add_checkpoint(forged)
    assert (info.value.step, info.value.index) == ("checkpoint-sm3", 4)
    # the note must say what the Checkpoint says: an sm3 head not in the note is refused
    honest = sign_checkpoint(ORIGIN, head, [log_signer], sm3=store.sm3_head(4))
    with pytest.raises(VerificationError, match="roots"):
        store.add_checkpoint(dataclasses.replace(honest, sm3=forged_sm3))
    store.add_checkpoint(honest)


def test_a_ledger_from_before_0006_gets_its_sm3_tree_rebuilt(
        ledger_url: str, station_signer: Signer, log_signer: Signer) -> None:
    """Commits written before the 国密 layer carry no SM3 state: the first append rebuilds it
    from the entry bytes, and the checkpoint then covers every entry in both trees."""
    upgrade(ledger_url, revision="0005")
    old = make_items(3, prefix="legacy")
    leaves = [merkle.leaf_hash(d) for d, _, _ in old]
    tree = merkle.TreeBuilder()
    tree.extend(leaves)
    old_head = TreeHead(tree.size, tree.root())
    note = sign_note(commit_text(ORIGIN, 0, old_head), [station_signer])
    engine = create_engine(ledger_url)
    with engine.begin() as conn:
        for i, (data, kind, subject) in enumerate(old):
            conn.execute(text("INSERT INTO ledger_entries (idx, data, leaf_hash, kind, subject) "
                              "VALUES (:i, :d, :l, :k, :s)"),
                         {"i": i, "d": data, "l": leaves[i], "k": kind, "s": subject})
        conn.execute(text("INSERT INTO ledger_commits (size, first, root, frontier, note, "
                          "station, committed_at) VALUES (3, 0, :r, :f, :n, :st, :at)"),
                     {"r": old_head.root, "f": tree.frontier(), "n": note,
                      "st": station_signer.public.name, "at": AT})
    engine.dispose()
    with SqlLedgerStore.open(ledger_url, origin=ORIGIN, clock=pinned_clock) as store:
        assert store.sm3_head(3).root == _sm3_root([d for d, _, _ in old])
        new = make_items(2, prefix="new")
        store.append_batch(new, signers=[station_signer])
        cp = publish_checkpoint(store, origin=ORIGIN, signers=[log_signer], now=AT)
        assert cp is not None and cp.sm3 is not None
        assert cp.sm3.root == _sm3_root([d for d, _, _ in old + new])

