"""The auditor's full audit of a ledger (docs/verification.md, part A).

Pure: the caller streams stored rows in; nothing here reads a database or a clock. The audit
raises VerificationError at the first failure, naming the step and the ledger index; on success
it returns an AuditReport.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter

from evidence.errors import VerificationError
from evidence.ids import Origin
from evidence.records import Checkpoint, Entry, LedgerEntry, PublicKey, TreeHead
from integrity.entry import decode_entry
from integrity.merkle import SM3, TreeBuilder
from integrity.notes import open_checkpoint, parse_commit_text, verify_note

EntryRow = tuple[int, bytes, bytes]
"""A stored entry as a plain tuple ``(index, data, leaf_hash)``: what a database driver yields,
without building a LedgerEntry per row (the audit reads millions)."""

_NEVER = 1 << 64  # beyond any ledger size: "no commit or checkpoint ahead"
_as_row = attrgetter("index", "data", "leaf_hash")


@dataclass(frozen=True, slots=True)
class AuditReport:
    head: TreeHead
    sm3_head: TreeHead | None
    """The rebuilt SM3 tree (国密 layer); None when the audit ran with ``check_sm3=False``."""
    commits: int
    checkpoints: int
    external_checkpoints: int
    latest_checkpoint: int
    """Size of the latest stored checkpoint; entries above it are signed by stations only."""
    deep: bool
    timestamps: int = 0
    """RFC 3161 tokens verified (A8, ``ledger.audit.run_audit``); the pure audit counts none."""


@dataclass(frozen=True, slots=True)
class StoredCommit:
    first: int
    size: int
    note: bytes


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    size: int
    note: bytes


def _open_checkpoints(rows: Sequence[StoredCheckpoint], *, origin: Origin,
                      keys: Sequence[PublicKey], external: bool) -> list[Checkpoint]:
    opened = []
    for row in rows:
        # (A5) each checkpoint is a note over our origin, signed by a log key valid at its size.
        try:
            cp = open_checkpoint(row.note, origin=origin, keys=keys)
        except VerificationError as exc:
            raise VerificationError(exc.reason, step=exc.step or "checkpoint",
                                    index=row.size) from exc
        if cp.head.size != row.size and not external:
            raise VerificationError(f"checkpoint row says size {row.size} but its note says "
                                    f"{cp.head.size}", step="checkpoint", index=row.size)
        opened.append(cp)
    return opened


def audit(entries: Iterable[LedgerEntry], *, commits: Iterable[StoredCommit],
          checkpoints: Sequence[StoredCheckpoint], origin: Origin, keys: Sequence[PublicKey],
          external: Sequence[bytes] = (), deep: bool = False,
          check_sm3: bool = True) -> AuditReport:
    """Recompute every leaf, rebuild the tree, and check every commit and checkpoint against it.

    ``external`` are checkpoint notes saved outside the database (by an auditor, a witness, a
    bundle); the database must still contain and agree with each of them. ``deep`` also parses
    every entry as a v1 entry and checks its ``prev_checkpoint`` against the rebuilt tree.

    The SM3 tree (国密 layer) is rebuilt from the same entry bytes beside the SHA-256 one, and
    every checkpoint's ``sm3`` line is checked against it (A6-SM3); checkpoints signed before
    the 国密 layer have no such line. ``check_sm3=False`` skips the SM3 tree and leaves those
    lines unchecked: for measuring what it costs (bench/guomi_hash.py), not for an audit.
    """
    return audit_rows(map(_as_row, entries), commits=commits, checkpoints=checkpoints,
                      origin=origin, keys=keys, external=external, deep=deep,
                      check_sm3=check_sm3)


def audit_rows(rows: Iterable[EntryRow], *, commits: Iterable[StoredCommit],
               checkpoints: Sequence[StoredCheckpoint], origin: Origin,
               keys: Sequence[PublicKey], external: Sequence[bytes] = (),
               deep: bool = False, check_sm3: bool = True) -> AuditReport:
    """:func:`audit` over entries given as ``(index, data, leaf_hash)`` tuples, as a database
    driver streams them; the same checks, errors, steps and indices."""
    station_keys = [k for k in keys if k.role == "station"]
    stored = _open_checkpoints(checkpoints, origin=origin, keys=keys, external=False)
    outside = _open_checkpoints([StoredCheckpoint(0, n) for n in external], origin=origin,
                                keys=keys, external=True)
    want: dict[int, list[tuple[str, Checkpoint]]] = {}
    for kind, cps in (("checkpoint", stored), ("external checkpoint", outside)):
        for cp in cps:
            want.setdefault(cp.head.size, []).append((kind, cp))
    published: dict[int, bytes] = {}  # stored checkpoint roots, for prev_checkpoint (A3)
    builder = TreeBuilder()
    sm3_builder = TreeBuilder(tree_hash=SM3) if check_sm3 else None
    commit_iter = iter(commits)
    next_commit = next(commit_iter, None)
    n_commits = 0
    committed = 0

    def reached(size: int) -> None:
        nonlocal next_commit, n_commits, committed
        tree_root = builder.root()
        if next_commit is not None and next_commit.size == size:
            _check_commit(next_commit, origin=origin, keys=station_keys, root=tree_root)
            n_commits += 1
            committed = size
            next_commit = next(commit_iter, None)
            if next_commit is not None and next_commit.first != size:
                raise VerificationError(
                    f"commit covering [{next_commit.first}, {next_commit.size}) does not start "
                    f"where the previous ended ({size})", step="commit", index=size)
        for kind, cp in want.pop(size, ()):
            if cp.head.root != tree_root:
                # (A6) a signed root that the stored entries do not reproduce: some entry below
                # this size was changed, removed, inserted or reordered, or the log showed two
                # views.
                raise VerificationError(f"{kind} root for size {size} does not match the rebuilt "
                                        "tree (entries rewritten, reordered or a split view)",
                                        step="root", index=size)
            if cp.sm3 is not None and sm3_builder is not None \
                    and cp.sm3.root != sm3_builder.root():
                # (A6-SM3) the same for the SM3 tree the checkpoint's sm3 line commits to.
                raise VerificationError(f"{kind} SM3 root for size {size} does not match the "
                                        "rebuilt SM3 tree (entries rewritten, reordered or a "
                                        "split view)", step="root-sm3", index=size)
            if kind == "checkpoint":
                published[size] = tree_root

    if next_commit is not None and next_commit.first != 0:
        raise VerificationError("first commit does not start at index 0", step="commit", index=0)
    if 0 in want:
        reached(0)
    # The hot loop, once per entry: locals only, the tree's leaf hash and append in one call, and
    # commits and checkpoints looked at only from ``event``, the next size where one is due (or
    # overdue). Sizes are reached in increasing order, so ``wanted`` (ascending) is consumed in
    # step with ``want``.
    append_entry = builder.append_entry
    sm3_append = sm3_builder.append_entry if sm3_builder is not None else None
    wanted = iter(sorted(want))
    next_wanted = next(wanted, _NEVER)
    while next_wanted <= 0:
        next_wanted = next(wanted, _NEVER)
    event = next_wanted if next_commit is None else min(next_wanted, next_commit.size)
    size = 0
    for index, data, stored_leaf in rows:
        # (A1) indices are dense: a gap is a deleted row, a repeat a duplicated one.
        if index != size:
            raise VerificationError(f"expected entry {size}, found {index} (row deleted, "
                                    "duplicated or reordered)", step="sequence", index=size)
        # (A2) the stored leaf hash is recomputed from the verbatim entry bytes. (It is appended
        # to the tree at once; a mismatch raises before anything reads the tree.)
        if append_entry(data) != stored_leaf:
            raise VerificationError("entry bytes do not hash to the stored leaf hash",
                                    step="leaf", index=size)
        if sm3_append is not None:
            sm3_append(data)  # the SM3 leaf of the same bytes; nothing stored to compare to
        if deep:
            _check_entry(LedgerEntry(index, data, stored_leaf), published)
        size += 1
        if size < event:
            continue
        if size in want or (next_commit is not None and next_commit.size == size):
            reached(size)
        elif next_commit is not None and next_commit.size < size:
            raise VerificationError("commit does not end on an entry boundary", step="commit",
                                    index=next_commit.first)
        while next_wanted <= size:
            next_wanted = next(wanted, _NEVER)
        event = next_wanted if next_commit is None else min(next_wanted, next_commit.size)
    size = builder.size
    if next_commit is not None:
        raise VerificationError(f"commit up to size {next_commit.size} but the ledger has only "
                                f"{size} entries (truncated)", step="commit", index=size)
    # A commit must cover every entry: an entry appended outside a signed commit is forged.
    if committed != size:
        raise VerificationError(f"entries from {committed} to {size} are in no signed commit",
                                step="commit", index=committed)
    if want:
        # (A7) a checkpoint bigger than the ledger: rows were truncated or the DB rolled back.
        missing = max(want)
        kind = want[missing][0][0]
        raise VerificationError(f"{kind} of size {missing} but the ledger has only {size} "
                                "entries (truncated or rolled back)", step="rollback", index=size)
    sm3_head = None if sm3_builder is None else TreeHead(size, sm3_builder.root())
    return AuditReport(head=TreeHead(size, builder.root()), sm3_head=sm3_head, commits=n_commits,
                       checkpoints=len(stored), external_checkpoints=len(outside),
                       latest_checkpoint=max((c.head.size for c in stored), default=0), deep=deep)


def _check_commit(commit: StoredCommit, *, origin: Origin, keys: Sequence[PublicKey],
                  root: bytes) -> None:
    # (A4) every commit statement is signed by a station key valid at its size and names exactly
    # the tree the entries rebuild.
    try:
        text, _ = verify_note(commit.note, keys, size=commit.size)
        got_origin, first, head = parse_commit_text(text)
    except VerificationError as exc:
        raise VerificationError(exc.reason, step="commit", index=commit.first) from exc
    if got_origin != origin or first != commit.first or head.size != commit.size:
        raise VerificationError("commit statement does not match its row", step="commit",
                                index=commit.first)
    if head.root != root:
        raise VerificationError(f"entries [{commit.first}, {commit.size}) do not rebuild the root "
                                "the station signed", step="commit", index=commit.first)


def _check_entry(row: LedgerEntry, published: dict[int, bytes]) -> None:
    # (A3, deep) the bytes are a canonical v1 entry whose prev_checkpoint is a prefix of this log.
    entry = decode_entry_at(row)
    prev = entry.prev_checkpoint
    if prev is None:
        return
    if prev.size > row.index:
        raise VerificationError("entry refers to a checkpoint after itself", step="entry",
                                index=row.index)
    if published.get(prev.size) != prev.root:
        raise VerificationError(f"entry's prev_checkpoint (size {prev.size}) is not a checkpoint "
                                "of this tree (checkpoint deleted or entry moved)", step="entry",
                                index=row.index)


def decode_entry_at(row: LedgerEntry) -> Entry:
    """Decode a stored row, reporting a malformed entry at its index."""
    try:
        return decode_entry(row.data)
    except VerificationError as exc:
        raise VerificationError(exc.reason, step="entry", index=row.index) from exc
