from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.errors import VerificationError
from integrity.merkle import (
    EMPTY_ROOT,
    TreeBuilder,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [leaf_hash(bytes([i])) for i in range(70)]


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH, written recursively as in the RFC, as an independent oracle."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def test_roots_match_the_rfc_definition() -> None:
    for n in range(len(LEAVES) + 1):
        builder = TreeBuilder()
        for h in LEAVES[:n]:
            builder.append(h)
        assert root(LEAVES[:n]) == _mth(LEAVES[:n]) == builder.root()


@given(st.integers(0, 70).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_extend_and_append_entry_build_the_same_tree_as_append(case: tuple[int, int]) -> None:
    """The fast paths (bulk ``extend``, ``append_entry`` hashing the entry itself) agree with
    ``append``, resuming from any frontier."""
    start, n = case
    more = n - start
    datas = [bytes([i]) for i in range(n)]
    one, bulk, entries = TreeBuilder(), TreeBuilder(), TreeBuilder()
    for h in LEAVES[:start]:
        one.append(h)
    bulk.extend(LEAVES[:start])
    for d in datas[:start]:
        entries.append_entry(d)
    assert one.frontier() == bulk.frontier() == entries.frontier()
    resumed = TreeBuilder.from_frontier(start, bulk.frontier())
    resumed.extend(LEAVES[start:start + more])
    got = [entries.append_entry(d) for d in datas[start:]]
    assert got == LEAVES[start:start + more]
    want = LEAVES[:start + more]
    assert resumed.size == entries.size == len(want)
    assert resumed.root() == entries.root() == _mth(want)


@given(st.integers(1, 70).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_generated_inclusion_proofs_verify(case: tuple[int, int]) -> None:
    n, i = case
    proof = inclusion_proof(LEAVES[:n], i)
    verify_inclusion(i, n, LEAVES[i], proof, root(LEAVES[:n]))
    with pytest.raises(VerificationError):
        verify_inclusion(i, n, LEAVES[(i + 1) % 70], proof, root(LEAVES[:n]))


@given(st.integers(1, 70).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))))
def test_generated_consistency_proofs_verify(case: tuple[int, int]) -> None:
    m, n = case
    proof = consistency_proof(LEAVES[:n], m)
    verify_consistency(m, n, proof, root(LEAVES[:m]), root(LEAVES[:n]))
    forged = list(LEAVES[:n])
    forged[m - 1] = leaf_hash(b"forged")
    with pytest.raises(VerificationError):
        verify_consistency(m, n, consistency_proof(forged, m), root(LEAVES[:m]), root(forged))


def test_proof_at_a_million_is_twenty_hashes() -> None:
    # log2(2^20) hashes of 32 bytes: 640 bytes, the figure bench/ measures time for.
    builder_size = 1 << 20
    from integrity.merkle import _decompose
    inner, border = _decompose(12345, builder_size)
    assert (inner + border) * 32 == 640
