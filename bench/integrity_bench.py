"""Pure-core figures at 1M entries: the full audit beside hashlib over the same bytes, and
inclusion proof size and verification time."""

from __future__ import annotations

import hashlib
import random
import timeit

from bench.common import make_entries, median_time, report
from evidence.records import LedgerEntry, TreeHead
from integrity.audit import StoredCheckpoint, StoredCommit, audit
from integrity.merkle import MerkleLevels, TreeBuilder, leaf_hash, verify_inclusion
from integrity.notes import commit_text, sign_checkpoint, sign_note
from tests.support.keys import signer
from tests.support.memledger import ORIGIN

N = 1_000_000
COMMIT_EVERY = 1_000  # group-commit batch size
CHECKPOINT_EVERY = 100_000


def run() -> None:
    print(f"-- integrity core, {N:,} entries", flush=True)
    datas = make_entries(N)
    leaves = [leaf_hash(d) for d in datas]
    rows = [LedgerEntry(i, d, h) for i, (d, h) in enumerate(zip(datas, leaves, strict=True))]
    station, log = signer("station-01", "station"), signer("log", "log")
    commits, checkpoints = [], []
    builder = TreeBuilder()
    for start in range(0, N, COMMIT_EVERY):
        for h in leaves[start:start + COMMIT_EVERY]:
            builder.append(h)
        head = TreeHead(builder.size, builder.root())
        commits.append(StoredCommit(start, head.size, sign_note(
            commit_text(ORIGIN, start, head), [station])))
        if head.size % CHECKPOINT_EVERY == 0:
            checkpoints.append(StoredCheckpoint(head.size, sign_checkpoint(ORIGIN, head,
                                                                           [log]).note))
    keys = [station.public, log.public]

    def full_audit() -> None:
        audit(rows, commits=commits, checkpoints=checkpoints, origin=ORIGIN, keys=keys,
              external=[checkpoints[-1].note])

    def hashlib_only() -> None:
        sha = hashlib.sha256
        for d in datas:
            sha(d).digest()

    t_audit = median_time(full_audit)
    t_hash = median_time(hashlib_only)
    report("full audit of 1M entries", t_audit, "s", peer="hashlib sha256 of the same bytes",
           peer_value=t_hash, goal="<= 2.5 s")
    print(f"   ({len(commits):,} station commits and {len(checkpoints)} checkpoints verified; "
          f"{sum(map(len, datas)) / N:.0f} bytes/entry)")

    levels = MerkleLevels(leaves)
    tree_root = levels.root(N)
    rng = random.Random(7)  # noqa: S311 - picks proof indices, not secrets
    picks = [rng.randrange(N) for _ in range(50)]
    proofs = [(i, levels.inclusion_proof(i, N)) for i in picks]
    sizes = {32 * len(p) for _, p in proofs}
    report("inclusion proof size at 1M", max(sizes), "B", goal="<= 640 B")
    per = []
    for i, proof in proofs:
        leaf = leaves[i]
        t = timeit.Timer(lambda: verify_inclusion(i, N, leaf, proof, tree_root))  # noqa: B023
        per.append(min(t.repeat(repeat=5, number=200)) / 200)
    per.sort()
    verify_us = per[len(per) // 2] * 1e6
    node = timeit.Timer(lambda: hashlib.sha256(b"\x01" + leaves[0] + leaves[1]).digest())
    twenty_hashes_us = min(node.repeat(repeat=5, number=20_000)) / 20_000 * 20 * 1e6
    report("inclusion proof verify at 1M (median)", verify_us, "us",
           peer="20 bare hashlib node hashes", peer_value=twenty_hashes_us, goal="<= 20 us")
