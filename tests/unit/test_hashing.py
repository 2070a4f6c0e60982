"""integrity.hashing.digest_stream: SHA-256 and SM3 of the same bytes in one pass, SM3 on a
second thread over reused buffers."""

from __future__ import annotations

import hashlib
import io
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrity.hashing import BUFFERS, digest_stream, sm3_hex


class _Chunky(io.BytesIO):
    """Returns short reads of varying length, as a device does."""

    def __init__(self, data: bytes, step: int) -> None:
        super().__init__(data)
        self._step = step

    def readinto(self, buffer: bytearray | memoryview, /) -> int:  # type: ignore[override]
        view = memoryview(buffer)[: self._step]
        return super().readinto(view)


@given(st.binary(max_size=5000), st.integers(1, 300), st.integers(1, 97))
@settings(max_examples=60, deadline=None)
def test_both_digests_match_one_shot(data: bytes, chunk: int, step: int) -> None:
    got = digest_stream(_Chunky(data, step), chunk_bytes=chunk)
    assert got.sha256 == hashlib.sha256(data).hexdigest()
    assert got.sm3 == sm3_hex(data)
    assert got.size == len(data)


def test_chunks_seen_in_order_and_buffers_not_overwritten() -> None:
    # Many distinct chunks through few buffers: if the reader refilled a buffer SM3 still
    # held, the SM3 digest would differ from the one-shot digest.
    data = b"".join(i.to_bytes(4, "big") * 256 for i in range(4000))
    seen: list[bytes] = []
    got = digest_stream(io.BytesIO(data), chunk_bytes=1024, on_chunk=lambda c: seen.append(
        bytes(c)))
    assert b"".join(seen) == data
    assert got.sm3 == sm3_hex(data)
    assert len(seen) > 10 * BUFFERS


def test_an_error_in_on_chunk_stops_the_sm3_thread() -> None:
    before = threading.active_count()

    def fail(_: memoryview) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        digest_stream(io.BytesIO(b"x" * 10_000), chunk_bytes=100, on_chunk=fail)
    assert threading.active_count() == before


def test_empty_stream() -> None:
    got = digest_stream(io.BytesIO(b""))
    assert (got.sha256, got.sm3, got.size) == (hashlib.sha256(b"").hexdigest(), sm3_hex(b""), 0)


def test_an_sm3_failure_reaches_the_caller_and_the_reader_never_hangs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def update(self, _: object) -> None:
            raise MemoryError("sm3 worker failed")

        def hexdigest(self) -> str:
            return ""

    monkeypatch.setattr("integrity.hashing.new_sm3", Broken)
    with pytest.raises(MemoryError, match="sm3 worker failed"):
        digest_stream(io.BytesIO(b"y" * 100_000), chunk_bytes=100)  # far more chunks than buffers
