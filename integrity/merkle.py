"""RFC 9162 Merkle tree hashing, proofs and their verification, with the hash as a parameter:
SHA-256 (RFC 9162, the default) or SM3 (GB/T 32905) for the 国密 second tree over the same
entry bytes (DESIGN.md §4; docs/ledger-format.md §9).

Verification follows transparency-dev/merkle's decomposition of RFC 9162 §2.1.3.2 and §2.1.4.2,
which the conformance vectors in shared/conformance/rfc9162 exercise. Trees are built two ways:
``TreeBuilder`` streams a root in O(log n) memory (appends, the audit); ``MerkleLevels`` keeps
every level, for proofs of any tree size in O(log n) (the ledger store's proof cache).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from hashlib import sha256

from evidence.errors import VerificationError
from integrity.hashing import Hash, new_sm3

HASH_SIZE = 32  # both SHA-256 and SM3 give 32 bytes
_PAIRS_PER_CHUNK = 4096  # MerkleLevels.extend: bounds the digests held at once (~300 KB)


def _primed(new: Hash, prefix: bytes) -> Hash:
    new.update(prefix)
    return new


@dataclass(frozen=True, slots=True)
class TreeHash:
    """The tree's hash H: leaf = H(0x00 ‖ entry), node = H(0x01 ‖ left ‖ right) (RFC 9162
    §2.1.1 with H swapped). Copying a primed hash beats hashing a concatenation."""

    name: str
    leaf: Hash = field(repr=False)
    node: Hash = field(repr=False)
    empty_root: bytes = field(repr=False)  # RFC 9162 §2.1.1: MTH({}) = HASH()


SHA256 = TreeHash("sha256", _primed(sha256(), b"\x00"), _primed(sha256(), b"\x01"),
                  sha256(b"").digest())
SM3 = TreeHash("sm3", _primed(new_sm3(), b"\x00"), _primed(new_sm3(), b"\x01"),
               new_sm3().digest())
EMPTY_ROOT = SHA256.empty_root


def leaf_hash(data: bytes, *, tree_hash: TreeHash = SHA256) -> bytes:
    """H(0x00 ‖ data) (RFC 9162 §2.1.1)."""
    h = tree_hash.leaf.copy()
    h.update(data)
    return h.digest()


def node_hash(left: bytes, right: bytes, *, tree_hash: TreeHash = SHA256) -> bytes:
    """H(0x01 ‖ left ‖ right) (RFC 9162 §2.1.1)."""
    h = tree_hash.node.copy()
    h.update(left + right)
    return h.digest()


class TreeBuilder:
    """Streaming root computation in O(log n) memory: a compact range of perfect subtrees.

    Each ``append`` costs amortised one node hash; ``root()`` folds the O(log n) stack.
    """

    __slots__ = ("_hash", "_stack", "size")

    def __init__(self, *, tree_hash: TreeHash = SHA256) -> None:
        self._hash = tree_hash
        self._stack: list[bytes] = []
        self.size = 0

    @classmethod
    def from_frontier(cls, size: int, frontier: bytes, *,
                      tree_hash: TreeHash = SHA256) -> TreeBuilder:
        """Resume from :meth:`frontier` bytes saved at ``size`` (one hash per set bit of size)."""
        if len(frontier) != 32 * size.bit_count():
            raise VerificationError(f"frontier of {len(frontier)} bytes does not fit size {size}",
                                    step="frontier", index=size)
        builder = cls(tree_hash=tree_hash)
        builder.size = size
        builder._stack = [frontier[i:i + 32] for i in range(0, len(frontier), 32)]
        return builder

    def frontier(self) -> bytes:
        """The compact range of perfect subtrees, largest first: enough to continue appending."""
        return b"".join(self._stack)

    def append(self, leaf: bytes) -> None:
        self.size += 1
        h, n = leaf, self.size
        stack = self._stack
        while not n & 1:
            h = node_hash(stack.pop(), h, tree_hash=self._hash)
            n >>= 1
        stack.append(h)

    def extend(self, leaves: Iterable[bytes]) -> None:
        """:meth:`append` each of ``leaves`` in order (the same loop, calls inlined)."""
        size, stack, node = self.size, self._stack, self._hash.node.copy
        for leaf in leaves:
            size += 1
            h, n = leaf, size
            while not n & 1:
                parent = node()
                parent.update(stack.pop() + h)
                h = parent.digest()
                n >>= 1
            stack.append(h)
        self.size = size

    def append_entry(self, data: bytes) -> bytes:
        """Append the leaf of entry bytes ``data`` and return its :func:`leaf_hash`: both in one
        call, for loops over millions of entries (the audit)."""
        leaf = self._hash.leaf.copy()
        leaf.update(data)
        h = digest = leaf.digest()
        self.size = n = self.size + 1
        stack = self._stack
        while not n & 1:
            parent = self._hash.node.copy()
            parent.update(stack.pop() + h)
            h = parent.digest()
            n >>= 1
        stack.append(h)
        return digest

    def root(self) -> bytes:
        if not self._stack:
            return self._hash.empty_root
        it = reversed(self._stack)
        acc = next(it)
        for h in it:
            acc = node_hash(h, acc, tree_hash=self._hash)
        return acc


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): RFC 9162 §2.1.1's k."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges ``[lo, hi)`` whose MTH form PATH(index, D[size]) (RFC 9162 §2.1.3.1),
    bottom-up; ValueError outside ``0 <= index < size``."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} outside a tree of size {size}")
    ranges = []
    lo, hi = 0, size
    # PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) for m < k, else
    # PATH(m - k, D[k:n]) : MTH(D[0:k]); collected top-down, reversed at the end.
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTH form PROOF(old, D[new]) (RFC 9162 §2.1.4.1), bottom-up; empty
    when ``old`` is 0 or ``new``; ValueError unless ``0 <= old <= new``."""
    if not 0 <= old <= new:
        raise ValueError(f"old size {old} outside 0..{new}")
    if old in (0, new):
        return []
    ranges = []
    # SUBPROOF(m, D[lo:hi], whole), m relative to lo; collected top-down.
    lo, hi, m, whole = 0, new, old, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


class MerkleLevels:
    """Every level of the RFC 9162 tree over the leaf hashes held, for roots and proofs of the
    tree at *any* size up to :attr:`size` in O(log n) hashes.

    Level ``k`` holds the roots of the perfect subtrees of ``2**k`` leaves that the leaves held so
    far complete: ``size >> k`` hashes of 32 bytes, packed in one bytearray (all levels together
    are about twice the leaf hashes: 64 MB at a million leaves, where lists of ``bytes`` objects
    took 147 MB). A tree of size ``n`` tiles into the perfect subtrees of the set bits of ``n``,
    largest first (RFC 9162 §2.1.1's split applied down its right edge): every node a proof
    names is either one of the stored perfect subtrees or the root of a run of those tiles at
    the right edge, folded from the right, so a root or proof costs at most ``popcount(n) - 1``
    node hashes beside O(log n) lookups, however old the size.

    Leaves are only ever appended (the ledger is append-only), so stored levels never go stale.
    Not thread-safe: a caller that shares one instance between threads serialises
    :meth:`extend` against everything else (``storage.ledger_store`` holds a lock).
    """

    __slots__ = ("_hash", "_levels")

    def __init__(self, leaf_hashes: Iterable[bytes] = (), *,
                 tree_hash: TreeHash = SHA256) -> None:
        self._hash = tree_hash
        self._levels = [bytearray()]
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        """The number of leaves held: roots and proofs exist for every tree size up to it."""
        return len(self._levels[0]) // HASH_SIZE

    @property
    def nbytes(self) -> int:
        """Bytes of hashes held, all levels together."""
        return sum(map(len, self._levels))

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append the 32-byte ``leaf_hashes`` in order and hash the new nodes they complete:
        amortised one node hash per leaf. A hash of another length raises ValueError and
        appends nothing."""
        new = leaf_hashes if isinstance(leaf_hashes, list | tuple) else list(leaf_hashes)
        if any(len(h) != HASH_SIZE for h in new):
            raise ValueError("a leaf hash is not 32 bytes")
        levels, node = self._levels, self._hash.node.copy
        levels[0] += b"".join(new)
        for k in itertools.count():
            lower = levels[k]
            # Pair the nodes of level k not yet paired: level k+1 holds len(lower) // 64 nodes
            # when complete; bytes [start, end) of level k are the pairs still to hash.
            if len(lower) < 2 * HASH_SIZE:
                return
            if k + 1 == len(levels):
                levels.append(bytearray())
            upper = levels[k + 1]
            start, end = 2 * len(upper), len(lower) - len(lower) % (2 * HASH_SIZE)
            if start == end:
                return  # nothing new at this level, so nothing new above it
            with memoryview(lower) as view:  # released before level k can grow again
                for chunk in range(start, end, _PAIRS_PER_CHUNK * 2 * HASH_SIZE):
                    parents = []
                    for offset in range(chunk, min(end, chunk + _PAIRS_PER_CHUNK * 2 * HASH_SIZE),
                                        2 * HASH_SIZE):
                        parent = node()
                        parent.update(view[offset:offset + 2 * HASH_SIZE])  # left ‖ right
                        parents.append(parent.digest())
                    upper += b"".join(parents)

    def _node(self, level: int, position: int) -> bytes:
        """The root of the perfect subtree of leaves [position·2^level, (position+1)·2^level)."""
        offset = position * HASH_SIZE
        return bytes(self._levels[level][offset:offset + HASH_SIZE])

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} outside 0..{self.size} (the leaves held)")

    def _right_edge(self, size: int) -> dict[int, bytes]:
        """MTH(D[start:size]) for each ``start`` where a tile of the tree of ``size`` begins
        (class docstring): the only nodes of that tree that are not stored perfect subtrees."""
        tiles = []
        start = 0
        for level in reversed(range(size.bit_length())):
            if size >> level & 1:
                tiles.append((start, self._node(level, start >> level)))
                start += 1 << level
        roots: dict[int, bytes] = {}
        acc = b""
        for start, tile in reversed(tiles):
            acc = node_hash(tile, acc, tree_hash=self._hash) if acc else tile
            roots[start] = acc
        return roots

    def _subtree(self, lo: int, hi: int, edge: dict[int, bytes]) -> bytes:
        """MTH(D[lo:hi]) for a node [lo, hi) of the tree whose :meth:`_right_edge` is ``edge``:
        a stored perfect subtree, or else (hi is then that tree's size, and lo where one of its
        tiles begins) a folded run of tiles."""
        width = hi - lo
        if width & (width - 1):  # not a power of two: a node on the right edge
            return edge[lo]
        level = width.bit_length() - 1  # RFC 9162 nodes of width 2^level start at a multiple of it
        return self._node(level, lo >> level)

    def root(self, size: int) -> bytes:
        """MTH(D[size]) (RFC 9162 §2.1.1): the root of the tree of the first ``size`` leaves."""
        self._check_size(size)
        return self._right_edge(size)[0] if size else self._hash.empty_root

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[size]) of RFC 9162 §2.1.3.1; ValueError outside ``0 <= index < size``
        or beyond the leaves held."""
        self._check_size(size)
        ranges = inclusion_ranges(index, size)
        edge = self._right_edge(size)
        return [self._subtree(lo, hi, edge) for lo, hi in ranges]

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """PROOF(old, D[new]) of RFC 9162 §2.1.4.1 (empty when ``old`` is 0 or ``new``);
        ValueError unless ``0 <= old <= new`` and ``new`` is within the leaves held."""
        self._check_size(new)
        ranges = consistency_ranges(old, new)
        if not ranges:
            return []
        edge = self._right_edge(new)
        return [self._subtree(lo, hi, edge) for lo, hi in ranges]


def root(leaves: Sequence[bytes], *, tree_hash: TreeHash = SHA256) -> bytes:
    """MTH over all of ``leaves`` (leaf hashes), in O(n): see :class:`MerkleLevels` to ask
    again."""
    return MerkleLevels(leaves, tree_hash=tree_hash).root(len(leaves))


def inclusion_proof(leaves: Sequence[bytes], index: int, *,
                    tree_hash: TreeHash = SHA256) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162 §2.1.3.1 over all of ``leaves``, in O(n): see
    :class:`MerkleLevels` to ask again."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"index {index} outside a tree of size {len(leaves)}")
    return MerkleLevels(leaves, tree_hash=tree_hash).inclusion_proof(index, len(leaves))


def consistency_proof(leaves: Sequence[bytes], old_size: int, *,
                      tree_hash: TreeHash = SHA256) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 §2.1.4.1, m = ``old_size``, n = ``len(leaves)``, in O(n): see
    :class:`MerkleLevels` to ask again."""
    if not 0 <= old_size <= len(leaves):
        raise ValueError(f"old size {old_size} outside 0..{len(leaves)}")
    return MerkleLevels(leaves, tree_hash=tree_hash).consistency_proof(old_size, len(leaves))


def _decompose(index: int, size: int) -> tuple[int, int]:
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int, th: TreeHash) -> bytes:
    for i, h in enumerate(proof):
        seed = (node_hash(seed, h, tree_hash=th) if not (index >> i) & 1
                else node_hash(h, seed, tree_hash=th))
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int, th: TreeHash) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1:
            seed = node_hash(h, seed, tree_hash=th)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes], th: TreeHash) -> bytes:
    for h in proof:
        seed = node_hash(h, seed, tree_hash=th)
    return seed


def _check_hashes(proof: Sequence[bytes]) -> None:
    if any(len(h) != HASH_SIZE for h in proof):
        raise VerificationError("proof element is not a 32-byte hash", step="proof")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes], *,
                              tree_hash: TreeHash = SHA256) -> bytes:
    """The root that ``proof`` implies for ``leaf`` at ``index`` in a tree of ``size``."""
    if not 0 <= index < size:
        raise VerificationError(f"index {index} is beyond tree size {size}", step="inclusion")
    if len(leaf) != HASH_SIZE:
        raise VerificationError("leaf hash is not 32 bytes", step="inclusion")
    _check_hashes(proof)
    inner, border = _decompose(index, size)
    if len(proof) != inner + border:
        raise VerificationError(f"inclusion proof has {len(proof)} hashes, want {inner + border}",
                                step="inclusion")
    res = _chain_inner(leaf, proof[:inner], index, tree_hash)
    return _chain_border_right(res, proof[inner:], tree_hash)


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes],
                     root_hash: bytes, *, tree_hash: TreeHash = SHA256) -> None:
    """Raise VerificationError unless ``proof`` shows ``leaf`` at ``index`` under ``root_hash``."""
    if root_from_inclusion_proof(index, size, leaf, proof, tree_hash=tree_hash) != root_hash:
        raise VerificationError("inclusion proof does not lead to the checkpoint root",
                                step="inclusion", index=index)


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes,
                       root2: bytes, *, tree_hash: TreeHash = SHA256) -> None:
    """Raise VerificationError unless the tree (size2, root2) extends (size1, root1)."""
    step = "consistency"
    if size1 > size2:
        raise VerificationError(f"size2 {size2} is smaller than size1 {size1}", step=step)
    if size1 <= 0:
        # RFC 9162 §2.1.4 defines proofs for 0 < size1 only: every tree extends the empty one,
        # so a "proof" from size 0 proves nothing and is refused rather than accepted blindly.
        raise VerificationError("consistency from an empty tree is meaningless", step=step)
    _check_hashes(proof)
    if size1 == size2:
        if proof:
            raise VerificationError("equal sizes need an empty proof", step=step)
        if root1 != root2:
            raise VerificationError(f"two different roots for tree size {size1}: split view",
                                    step=step, index=size1)
        return
    if not proof:
        raise VerificationError("empty consistency proof", step=step)
    inner, border = _decompose(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift
    seed, start = proof[0], 1
    if size1 == 1 << shift:
        seed, start = root1, 0
    if len(proof) != start + inner + border:
        raise VerificationError(f"consistency proof has {len(proof)} hashes, "
                                f"want {start + inner + border}", step=step)
    path = proof[start:]
    mask = (size1 - 1) >> shift
    th = tree_hash
    hash1 = _chain_border_right(_chain_inner_right(seed, path[:inner], mask, th), path[inner:], th)
    if hash1 != root1:
        raise VerificationError(f"tree of size {size2} is not consistent with the old root",
                                step=step, index=size1)
    hash2 = _chain_border_right(_chain_inner(seed, path[:inner], mask, th), path[inner:], th)
    if hash2 != root2:
        raise VerificationError(f"consistency proof does not lead to the root of size {size2}",
                                step=step, index=size2)
