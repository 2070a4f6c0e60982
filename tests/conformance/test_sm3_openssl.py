"""SM3 digests and SM3 trees of our own, checked against the real ``openssl dgst -sm3`` (the 国密
interop peer, DESIGN.md §9): every hash below is computed by the CLI, never by liuhen."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from evidence.errors import VerificationError
from integrity import merkle
from integrity.hashing import digest_stream

ENTRIES = [b"", b"liuhen/entry/v1\n{}", "执法全过程记录".encode(), b"\x00" * 1000, b"e4", b"e5",
           b"e6"]


def _openssl_sm3(data: bytes, tmp: Path) -> bytes:
    path = tmp / "in.bin"
    path.write_bytes(data)
    out = subprocess.run(["openssl", "dgst", "-sm3", "-r", str(path)], check=True,
                         capture_output=True, text=True).stdout
    return bytes.fromhex(out.split()[0])


def _mth(leaves: list[bytes], tmp: Path) -> bytes:
    """RFC 9162 §2.1.1 MTH, every node hashed by the CLI."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return _openssl_sm3(b"\x01" + _mth(leaves[:k], tmp) + _mth(leaves[k:], tmp), tmp)


def test_stream_digests_equal_openssl(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000 + b"tail"  # not a multiple of the chunk size
    got = digest_stream(io.BytesIO(data), chunk_bytes=4096)
    assert got.sm3 == _openssl_sm3(data, tmp_path).hex()
    assert got.size == len(data)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_sm3_tree_equals_openssl(size: int, tmp_path: Path) -> None:
    entries = ENTRIES[:size]
    cli_leaves = [_openssl_sm3(b"\x00" + e, tmp_path) for e in entries]
    leaves = [merkle.leaf_hash(e, tree_hash=merkle.SM3) for e in entries]
    assert leaves == cli_leaves
    cli_root = _mth(cli_leaves, tmp_path)
    assert merkle.root(leaves, tree_hash=merkle.SM3) == cli_root
    for index in range(size):
        proof = merkle.inclusion_proof(leaves, index, tree_hash=merkle.SM3)
        merkle.verify_inclusion(index, size, leaves[index], proof, cli_root,
                                tree_hash=merkle.SM3)
        if proof:  # an SM3 path checked as if it were SHA-256 fails
            with pytest.raises(VerificationError, match="inclusion"):
                merkle.verify_inclusion(index, size, leaves[index], proof, cli_root)


def test_empty_sm3_tree_is_sm3_of_nothing(tmp_path: Path) -> None:
    assert merkle.SM3.empty_root == _openssl_sm3(b"", tmp_path)
