"""RFC 9162 Merkle tree hashing, proofs and their verification (SHA-256).

Verification follows transparency-dev/merkle's decomposition of RFC 9162 §2.1.3.2 and §2.1.4.2,
which the conformance vectors in shared/conformance/rfc9162 exercise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256

from evidence.errors import VerificationError

HASH_SIZE = 32
EMPTY_ROOT = sha256(b"").digest()  # RFC 9162 §2.1.1: MTH({}) = HASH()
_LEAF = sha256(b"\x00")  # copying a primed hash beats hashing a concatenation
_NODE = sha256(b"\x01")


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 ‖ data) (RFC 9162 §2.1.1)."""
    h = _LEAF.copy()
    h.update(data)
    return h.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right) (RFC 9162 §2.1.1)."""
    h = _NODE.copy()
    h.update(left + right)
    return h.digest()


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes. Pairing level by level and promoting a lone last node gives the
    same root as RFC 9162's split at the largest power of two smaller than n."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


class TreeBuilder:
    """Streaming root computation in O(log n) memory: a compact range of perfect subtrees.

    Each ``append`` costs amortised one node hash; ``root()`` folds the O(log n) stack.
    """

    __slots__ = ("_stack", "size")

    def __init__(self) -> None:
        self._stack: list[bytes] = []
        self.size = 0

    @classmethod
    def from_frontier(cls, size: int, frontier: bytes) -> TreeBuilder:
        """Resume from :meth:`frontier` bytes saved at ``size`` (one hash per set bit of size)."""
        if len(frontier) != 32 * size.bit_count():
            raise VerificationError(f"frontier of {len(frontier)} bytes does not fit size {size}",
                                    step="frontier", index=size)
        builder = cls()
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
            h = node_hash(stack.pop(), h)
            n >>= 1
        stack.append(h)

    def extend(self, leaves: Iterable[bytes]) -> None:
        """:meth:`append` each of ``leaves`` in order (the same loop, calls inlined)."""
        size, stack, node = self.size, self._stack, _NODE.copy
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
        leaf = _LEAF.copy()
        leaf.update(data)
        h = digest = leaf.digest()
        self.size = n = self.size + 1
        stack = self._stack
        while not n & 1:
            parent = _NODE.copy()
            parent.update(stack.pop() + h)
            h = parent.digest()
            n >>= 1
        stack.append(h)
        return digest

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        it = reversed(self._stack)
        acc = next(it)
        for h in it:
            acc = node_hash(h, acc)
        return acc


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162 §2.1.3.1 over all of ``leaves``."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"index {index} outside a tree of size {len(leaves)}")
    proof: list[bytes] = []
    lo, hi, m = 0, len(leaves), index
    stack: list[bytes] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            stack.append(root(leaves[lo + k:hi]))
            hi = lo + k
        else:
            stack.append(root(leaves[lo:lo + k]))
            lo, m = lo + k, m - k
    proof.extend(reversed(stack))
    return proof


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 §2.1.4.1, m = ``old_size``, n = ``len(leaves)``."""
    n = len(leaves)
    if not 0 <= old_size <= n:
        raise ValueError(f"old size {old_size} outside 0..{n}")
    if old_size in (0, n):
        return []
    stack: list[bytes] = []
    lo, hi, m, whole = 0, n, old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            stack.append(root(leaves[lo + k:hi]))
            hi = lo + k
        else:
            stack.append(root(leaves[lo:lo + k]))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        stack.append(root(leaves[lo:hi]))
    return list(reversed(stack))


def _decompose(index: int, size: int) -> tuple[int, int]:
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h) if not (index >> i) & 1 else node_hash(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1:
            seed = node_hash(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = node_hash(h, seed)
    return seed


def _check_hashes(proof: Sequence[bytes]) -> None:
    if any(len(h) != HASH_SIZE for h in proof):
        raise VerificationError("proof element is not a 32-byte hash", step="proof")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
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
    res = _chain_inner(leaf, proof[:inner], index)
    return _chain_border_right(res, proof[inner:])


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes],
                     root_hash: bytes) -> None:
    """Raise VerificationError unless ``proof`` shows ``leaf`` at ``index`` under ``root_hash``."""
    if root_from_inclusion_proof(index, size, leaf, proof) != root_hash:
        raise VerificationError("inclusion proof does not lead to the checkpoint root",
                                step="inclusion", index=index)


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes,
                       root2: bytes) -> None:
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
    hash1 = _chain_border_right(_chain_inner_right(seed, path[:inner], mask), path[inner:])
    if hash1 != root1:
        raise VerificationError(f"tree of size {size2} is not consistent with the old root",
                                step=step, index=size1)
    hash2 = _chain_border_right(_chain_inner(seed, path[:inner], mask), path[inner:])
    if hash2 != root2:
        raise VerificationError(f"consistency proof does not lead to the root of size {size2}",
                                step=step, index=size2)
