"""The guarded stream: exact size, forward only, errors translated."""

from __future__ import annotations

import io

import pytest

from devices.stream import guarded_stream
from evidence.errors import ConflictError


def stream_of(data: bytes, expected: int) -> io.BufferedReader:
    return guarded_stream(io.BytesIO(data), name="A.MP4", expected_size=expected)


@pytest.mark.parametrize("size", [0, 1, 4095, 1 << 20, (1 << 20) + 7])
def test_exact_size_reads_back(size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    with stream_of(data, size) as stream:
        assert stream.read() == data
        assert stream.read() == b""


def test_readinto_fills_the_buffer() -> None:
    with stream_of(b"abcdef", 6) as stream:
        buffer = bytearray(4)
        assert stream.readinto(buffer) == 4
        assert bytes(buffer) == b"abcd"


def test_read_only_and_forward_only() -> None:
    with stream_of(b"abc", 3) as stream:
        assert stream.readable() and not stream.writable() and not stream.seekable()


def test_shorter_than_listed() -> None:
    with stream_of(b"abc", 10) as stream, pytest.raises(ConflictError, match="ended at byte 3"):
        stream.read()


def test_longer_than_listed() -> None:
    with stream_of(b"abcdef", 3) as stream, pytest.raises(ConflictError, match="longer than the 3"):
        stream.read()
