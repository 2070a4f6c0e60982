"""国密 SM3 figures (DESIGN.md §4), each beside a peer measured in the same run:

- the SM3 implementations the issue names, over the same bytes in memory (which one
  ``integrity.hashing.new_sm3`` should be);
- acquisition with both digests (``digest_stream``: SHA-256 on the reader, SM3 on a second
  thread) against the slower of SM3 alone and SHA-256 alone over the same file (goal ≥ 0.9×:
  SHA-256 hidden under SM3, not added to it), and the same with the staging write of
  ``Dock._copy``; ``openssl dgst -sm3`` and ``sha256sum`` over the same file as peers;
- the full audit of a 1M-entry ledger with both trees against the SHA-256-only audit of the
  same ledger (goal ≤ 2×).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from gmalglib.sm3 import SM3 as GmSM3

from bench.common import make_entries, median_time, report
from evidence.records import LedgerEntry, TreeHead
from integrity.audit import StoredCheckpoint, StoredCommit, audit
from integrity.hashing import CHUNK_BYTES, digest_stream, new_sm3
from integrity.merkle import SM3, TreeBuilder, leaf_hash
from integrity.notes import commit_text, sign_checkpoint, sign_note
from tests.support.keys import signer
from tests.support.memledger import ORIGIN

FILE_BYTES = 256 << 20  # page-cached: measures hashing, not the disk
MEMORY_BYTES = 64 << 20
N = 1_000_000
COMMIT_EVERY = 1_000  # group-commit batch size
CHECKPOINT_EVERY = 100_000


def _mbps(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 1e6


def _one_digest(path: Path, *, sm3: bool = False) -> None:
    """One read pass with one digest, the same reads as digest_stream (1 MiB readinto)."""
    digest = new_sm3() if sm3 else hashlib.sha256()
    buffer = bytearray(CHUNK_BYTES)
    with path.open("rb", buffering=0) as fh, memoryview(buffer) as view:
        while n := fh.readinto(view):
            digest.update(view[:n])


def _both(path: Path) -> None:
    with path.open("rb", buffering=0) as fh:
        digest_stream(fh)


def _both_staged(path: Path, staging: Path) -> None:
    """Dock._copy's pass: read, both digests, write to staging, fsync."""
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        def stage(chunk: memoryview) -> None:
            os.write(fd, chunk)

        with path.open("rb", buffering=0) as fh:
            digest_stream(fh, on_chunk=stage)
        os.fsync(fd)
    finally:
        os.close(fd)


def _cli(argv: list[str], path: Path) -> None:
    subprocess.run([*argv, str(path)], check=True, capture_output=True)


def _candidates() -> None:
    data = os.urandom(MEMORY_BYTES)
    view = memoryview(data)
    chunks = [view[i:i + CHUNK_BYTES] for i in range(0, MEMORY_BYTES, CHUNK_BYTES)]

    def with_hashlib() -> None:
        h = hashlib.new("sm3")
        for c in chunks:
            h.update(c)

    def with_cryptography() -> None:
        h = hashes.Hash(hashes.SM3())
        for c in chunks:
            h.update(c)

    def with_gmalglib() -> None:
        h = GmSM3()
        for c in chunks:
            h.update(bytes(c))  # it takes bytes only

    def with_sha256() -> None:
        h = hashlib.sha256()
        for c in chunks:
            h.update(c)

    sha = _mbps(MEMORY_BYTES, median_time(with_sha256))
    for name, fn in (("hashlib sm3 (system OpenSSL; the one liuhen uses)", with_hashlib),
                     ("cryptography hashes.SM3", with_cryptography),
                     ("gmalglib SM3 (C extension)", with_gmalglib)):
        report(f"SM3 in memory: {name}", _mbps(MEMORY_BYTES, median_time(fn)), "MB/s",
               peer="hashlib sha256", peer_value=sha)


def _acquisition(work: Path) -> None:
    path = work / "clip.bin"
    with path.open("wb") as fh:
        for _ in range(FILE_BYTES // (16 << 20)):
            fh.write(os.urandom(16 << 20))
    _one_digest(path)  # warm the page cache
    mb = FILE_BYTES
    sha = _mbps(mb, median_time(lambda: _one_digest(path)))
    sm3 = _mbps(mb, median_time(lambda: _one_digest(path, sm3=True)))
    both = _mbps(mb, median_time(lambda: _both(path)))
    slower, which = (sm3, "SM3 alone") if sm3 <= sha else (sha, "SHA-256 alone")
    report("acquire-hash, SHA-256 + SM3 in one pass (digest_stream), 256 MiB", both, "MB/s",
           peer=f"the slower single digest ({which})", peer_value=slower, goal=">= 0.9x")
    print(f"   (SHA-256 alone {sha:,.0f} MB/s, SM3 alone {sm3:,.0f} MB/s, same file, same reads)",
          flush=True)
    staging = work / "staged.part"
    staged = _mbps(mb, median_time(lambda: _both_staged(path, staging)))
    report("acquire (read + both digests + staging write + fsync)", staged, "MB/s",
           peer="SM3 alone, no write", peer_value=sm3)
    report("acquire-hash, both digests", both, "MB/s", peer="openssl dgst -sm3 FILE",
           peer_value=_mbps(mb, median_time(lambda: _cli(["openssl", "dgst", "-sm3"], path))))
    report("acquire-hash, both digests", both, "MB/s", peer="sha256sum FILE",
           peer_value=_mbps(mb, median_time(lambda: _cli(["sha256sum"], path))))


def _audit() -> None:
    datas = make_entries(N)
    leaves = [leaf_hash(d) for d in datas]
    rows = [LedgerEntry(i, d, h) for i, (d, h) in enumerate(zip(datas, leaves, strict=True))]
    station, log = signer("station-01", "station"), signer("log", "log")
    commits, checkpoints = [], []
    tree, sm3_tree = TreeBuilder(), TreeBuilder(tree_hash=SM3)
    for start in range(0, N, COMMIT_EVERY):
        tree.extend(leaves[start:start + COMMIT_EVERY])
        for d in datas[start:start + COMMIT_EVERY]:
            sm3_tree.append_entry(d)
        head = TreeHead(tree.size, tree.root())
        commits.append(StoredCommit(start, head.size, sign_note(
            commit_text(ORIGIN, start, head), [station])))
        if head.size % CHECKPOINT_EVERY == 0:
            cp = sign_checkpoint(ORIGIN, head, [log], sm3=TreeHead(head.size, sm3_tree.root()))
            checkpoints.append(StoredCheckpoint(head.size, cp.note))
    keys = [station.public, log.public]

    def full_audit(check_sm3: bool) -> None:
        audit(rows, commits=commits, checkpoints=checkpoints, origin=ORIGIN, keys=keys,
              external=[checkpoints[-1].note], check_sm3=check_sm3)

    both = median_time(lambda: full_audit(True))
    sha_only = median_time(lambda: full_audit(False))
    report(f"full audit of {N // 1_000_000}M entries, SHA-256 and SM3 trees", both, "s",
           peer="the same audit, SHA-256 tree only", peer_value=sha_only, goal="<= 2x")


def run() -> None:
    print("-- 国密 SM3: implementations, acquisition with both digests, audit with both trees",
          flush=True)
    _candidates()
    with tempfile.TemporaryDirectory(prefix="liuhen-guomi-") as tmp:
        _acquisition(Path(tmp))
    _audit()
