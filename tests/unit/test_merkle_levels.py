"""MerkleLevels (cached levels: roots and proofs of any older tree size) against RFC 9162 written
out recursively, against the verifiers, and against the transparency-dev vectors' own proofs."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.errors import VerificationError
from integrity import merkle
from integrity.merkle import (
    EMPTY_ROOT,
    MerkleLevels,
    TreeBuilder,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.conformance.test_rfc9162 import VECTORS

MAX_LEAVES = 300  # past 2^8: trees with up to nine levels and every popcount up to 8
LEAVES = [leaf_hash(i.to_bytes(2, "big")) for i in range(MAX_LEAVES)]


# --- the oracle: RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1 written recursively, as in the RFC ------


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _mth(d: list[bytes]) -> bytes:
    if not d:
        return EMPTY_ROOT
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return node_hash(_mth(d[:k]), _mth(d[k:]))


def _path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*_path(m, d[:k]), _mth(d[k:])]
    return [*_path(m - k, d[k:]), _mth(d[:k])]


def _subproof(m: int, d: list[bytes], whole: bool) -> list[bytes]:
    if m == len(d):
        return [] if whole else [_mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*_subproof(m, d[:k], whole), _mth(d[k:])]
    return [*_subproof(m - k, d[k:], False), _mth(d[:k])]


def _proof(m: int, d: list[bytes]) -> list[bytes]:
    return [] if m in (0, len(d)) else _subproof(m, d, True)


# --- strategies -------------------------------------------------------------------------------


@st.composite
def _grown(draw: st.DrawFn) -> MerkleLevels:
    """Levels over LEAVES[:n], grown by 1 to 5 extends of random lengths (some empty)."""
    n = draw(st.integers(0, MAX_LEAVES))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
    levels = MerkleLevels()
    for lo, hi in zip([0, *cuts], [*cuts, n], strict=True):
        levels.extend(iter(LEAVES[lo:hi]))  # any iterable, not only lists
    assert levels.size == n
    return levels


@st.composite
def _inclusion_case(draw: st.DrawFn) -> tuple[MerkleLevels, int, int]:
    levels = draw(_grown().filter(lambda lv: lv.size > 0))
    size = draw(st.integers(1, levels.size))
    return levels, draw(st.integers(0, size - 1)), size


@st.composite
def _consistency_case(draw: st.DrawFn) -> tuple[MerkleLevels, int, int]:
    levels = draw(_grown())
    new = draw(st.integers(0, levels.size))
    return levels, draw(st.integers(0, new)), new


# --- properties -------------------------------------------------------------------------------


@given(_grown(), st.data())
def test_roots_of_every_older_size_match_the_rfc(levels: MerkleLevels, data: st.DataObject) -> None:
    size = data.draw(st.integers(0, levels.size))
    builder = TreeBuilder()
    builder.extend(LEAVES[:size])
    assert levels.root(size) == _mth(LEAVES[:size]) == builder.root()


@given(_inclusion_case())
def test_inclusion_proofs_match_the_rfc_and_verify(case: tuple[MerkleLevels, int, int]) -> None:
    levels, index, size = case
    proof = levels.inclusion_proof(index, size)
    assert proof == _path(index, LEAVES[:size])
    verify_inclusion(index, size, LEAVES[index], proof, levels.root(size))
    with pytest.raises(VerificationError):
        verify_inclusion(index, size, leaf_hash(b"not a leaf"), proof, levels.root(size))


@given(_consistency_case())
def test_consistency_proofs_match_the_rfc_and_verify(case: tuple[MerkleLevels, int, int]) -> None:
    levels, old, new = case
    proof = levels.consistency_proof(old, new)
    assert proof == _proof(old, LEAVES[:new])
    if old == 0:
        return  # nothing to verify: verify_consistency refuses size 0 (merkle.py)
    verify_consistency(old, new, proof, levels.root(old), levels.root(new))
    if old < new:
        forked = MerkleLevels([*LEAVES[:old - 1], leaf_hash(b"forked"), *LEAVES[old:new]])
        with pytest.raises(VerificationError):
            verify_consistency(old, new, forked.consistency_proof(old, new), levels.root(old),
                               forked.root(new))


@given(_grown())
def test_incremental_extends_store_what_one_extend_stores(levels: MerkleLevels) -> None:
    at_once = MerkleLevels(LEAVES[:levels.size])
    assert levels.nbytes == at_once.nbytes
    assert [levels.root(n) for n in range(levels.size + 1)] == \
        [at_once.root(n) for n in range(at_once.size + 1)]


def test_pairs_hashed_in_chunks_build_the_same_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    """``extend`` hashes a level's new pairs a chunk at a time (thousands of pairs in production:
    more than these trees have); small chunks must not change a node."""
    monkeypatch.setattr(merkle, "_PAIRS_PER_CHUNK", 3)
    levels = MerkleLevels()
    for lo, hi in ((0, 1), (1, 40), (40, 41), (41, 200), (200, MAX_LEAVES)):
        levels.extend(LEAVES[lo:hi])
    assert levels.nbytes == MerkleLevels(LEAVES).nbytes
    assert all(levels.root(n) == _mth(LEAVES[:n]) for n in range(MAX_LEAVES + 1))
    assert levels.inclusion_proof(37, 211) == _path(37, LEAVES[:211])


def test_levels_hold_about_twice_the_leaves() -> None:
    levels = MerkleLevels(LEAVES[:256])
    assert levels.nbytes == 32 * (2 * 256 - 1)  # a perfect tree: every node exactly once


# --- the transparency-dev vectors' own proofs -------------------------------------------------

# transparency-dev/merkle testdata: the leaves its happy-path vectors are built from.
_VECTOR_LEAVES = [leaf_hash(bytes.fromhex(h)) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
HAPPY = sorted(VECTORS.rglob("happy-path.json"))


def test_happy_path_vectors_present() -> None:
    assert len(HAPPY) == 10


@pytest.mark.parametrize("path", HAPPY, ids=lambda p: str(p.relative_to(VECTORS)))
def test_levels_reproduce_the_happy_path_vectors(path: Path) -> None:
    case = json.loads(path.read_text())
    want = [base64.b64decode(h) for h in case["proof"] or []]
    levels = MerkleLevels(_VECTOR_LEAVES)
    if "leafIdx" in case:
        assert levels.inclusion_proof(case["leafIdx"], case["treeSize"]) == want
        assert levels.root(case["treeSize"]) == base64.b64decode(case["root"])
    else:
        assert levels.consistency_proof(case["size1"], case["size2"]) == want
        assert levels.root(case["size1"]) == base64.b64decode(case["root1"])
        assert levels.root(case["size2"]) == base64.b64decode(case["root2"])


# --- bounds -----------------------------------------------------------------------------------


def test_the_empty_tree() -> None:
    levels = MerkleLevels()
    assert (levels.size, levels.nbytes, levels.root(0)) == (0, 0, EMPTY_ROOT)
    assert levels.consistency_proof(0, 0) == []


@pytest.mark.parametrize(("call", "args"), [
    ("root", (6,)),                       # beyond the leaves held
    ("root", (-1,)),
    ("inclusion_proof", (5, 5)),          # index not in the tree
    ("inclusion_proof", (-1, 5)),
    ("inclusion_proof", (0, 6)),          # tree beyond the leaves held
    ("consistency_proof", (4, 3)),        # old after new
    ("consistency_proof", (-1, 3)),
    ("consistency_proof", (3, 6)),
])
def test_out_of_range_is_a_value_error(call: str, args: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="outside"):
        getattr(MerkleLevels(LEAVES[:5]), call)(*args)


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33, b"\x00" * 64],
                         ids=["empty", "31", "33", "64"])
def test_a_leaf_hash_of_another_length_is_refused_and_nothing_appended(bad: bytes) -> None:
    levels = MerkleLevels(LEAVES[:3])
    with pytest.raises(ValueError, match="32 bytes"):
        levels.extend([LEAVES[3], bad])
    assert (levels.size, levels.root(3)) == (3, _mth(LEAVES[:3]))
