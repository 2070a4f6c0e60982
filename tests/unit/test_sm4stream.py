"""The SM4-GCM segmented envelope (integrity/sm4stream.py): offsets, round trips, and the STREAM
properties — a flipped byte names its segment, truncation, reordering and segments moved from
another object are refused."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrity import sm4stream as s4
from integrity.sm4stream import (
    HEADER_BYTES,
    SEGMENT_BYTES,
    TAG_BYTES,
    Header,
    SegmentError,
    open_all,
    seal,
    sealed_size,
    segment_count,
    span_for,
)

S = SEGMENT_BYTES
SEG = S + TAG_BYTES
KEY = bytes(range(16))
OTHER_KEY = bytes(range(1, 17))
HEADER = Header(prefix=b"\x01\x02\x03\x04\x05\x06\x07")


def _plain(n: int, seed: int = 0) -> bytes:
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{i}".encode()).digest()
        i += 1
    return out[:n]


@pytest.mark.parametrize(("size", "segments", "sealed"), [
    (0, 1, HEADER_BYTES + TAG_BYTES),
    (1, 1, HEADER_BYTES + 1 + TAG_BYTES),
    (S - 1, 1, HEADER_BYTES + S - 1 + TAG_BYTES),
    (S, 1, HEADER_BYTES + S + TAG_BYTES),
    (S + 1, 2, HEADER_BYTES + S + 1 + 2 * TAG_BYTES),
    (3 * S, 3, HEADER_BYTES + 3 * S + 3 * TAG_BYTES),
])
def test_sizes(size: int, segments: int, sealed: int) -> None:
    assert segment_count(size) == segments
    assert sealed_size(size) == sealed
    assert len(seal(KEY, HEADER, _plain(size))) == sealed


@pytest.mark.parametrize(("start", "length", "size", "expected"), [
    (0, 1, 10, (0, 0, HEADER_BYTES, 10 + TAG_BYTES, 0)),
    (S - 1, 2, 3 * S, (0, 1, HEADER_BYTES, 2 * SEG, S - 1)),
    (S, S, 3 * S, (1, 1, HEADER_BYTES + SEG, SEG, 0)),
    (2 * S + 5, 100, 2 * S + 10, (2, 2, HEADER_BYTES + 2 * SEG, 10 + TAG_BYTES, 5)),
    (5, 10 * S, 2 * S + 10, (0, 2, HEADER_BYTES, 2 * SEG + 10 + TAG_BYTES, 5)),
])
def test_span_for(start: int, length: int, size: int,
                  expected: tuple[int, int, int, int, int]) -> None:
    span = span_for(start, length, size)
    assert (span.first, span.last, span.offset, span.length, span.skip) == expected


def test_span_outside_refused() -> None:
    with pytest.raises(ValueError):
        span_for(10, 1, 10)


def test_open_span_decrypts_only_the_range() -> None:
    plain = _plain(3 * S + 77)
    sealed = seal(KEY, HEADER, plain)
    span = span_for(S + 3, S, len(plain))
    got = b"".join(s4.open_span(KEY, HEADER, span, sealed[span.offset:span.offset + span.length],
                                len(plain)))
    assert got[span.skip:span.skip + S] == plain[S + 3:2 * S + 3]


def test_known_answer_is_stable() -> None:
    # Pinned so that a change of format (nonce layout, AAD, header) cannot pass unnoticed.
    sealed = seal(KEY, HEADER, b"liuhen")
    assert sealed[:HEADER_BYTES].hex() == ("4c48534d3447434d011000000000000000"
                                           "01020304050607")
    assert hashlib.sha256(sealed).hexdigest() == KNOWN_SHA256


KNOWN_SHA256 = "adf79d8d7d5cbce393981bbad5f6f9ca59fd178c33c1ba8e49a100a734cc5587"


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 3 * S + 40), data=st.data())
def test_flip_any_byte_names_its_segment(size: int, data: st.DataObject) -> None:
    plain = _plain(size, seed=size)
    sealed = bytearray(seal(KEY, HEADER, plain))
    pos = data.draw(st.integers(0, len(sealed) - 1), label="pos")
    sealed[pos] ^= data.draw(st.integers(1, 255), label="mask")
    with pytest.raises(SegmentError) as err:
        open_all(KEY, bytes(sealed), size)
    if pos < HEADER_BYTES - s4.PREFIX_BYTES:  # magic, version, sizes, reserved: bad header
        assert err.value.segment is None
    elif pos < HEADER_BYTES:  # the nonce prefix: every segment's nonce, checked at segment 0
        assert err.value.segment == 0
    else:
        assert err.value.segment == (pos - HEADER_BYTES) // SEG


@settings(max_examples=40, deadline=None)
@given(size=st.integers(0, 4 * S))
def test_round_trip(size: int) -> None:
    plain = _plain(size, seed=7)
    assert open_all(KEY, seal(KEY, HEADER, plain), size) == plain


@settings(max_examples=30, deadline=None)
@given(segments=st.integers(2, 5), tail=st.integers(0, S - 1))
def test_dropping_the_last_segment_is_refused(segments: int, tail: int) -> None:
    size = (segments - 1) * S + tail if tail else segments * S
    plain = _plain(size)
    sealed = seal(KEY, HEADER, plain)
    cut = sealed[:s4.segment_offset(segments - 1)]
    # Against the recorded size: the object is short.
    with pytest.raises(SegmentError) as err:
        open_all(KEY, cut, size)
    assert err.value.segment == segments - 1
    # Against a size an attacker shortened too: the new last segment was not sealed final.
    with pytest.raises(SegmentError) as err:
        open_all(KEY, cut, (segments - 1) * S)
    assert err.value.segment == segments - 2


@settings(max_examples=30, deadline=None)
@given(segments=st.integers(2, 4), data=st.data())
def test_swapping_segments_is_refused(segments: int, data: st.DataObject) -> None:
    size = segments * S  # equal-length segments: a swap keeps every length
    sealed = seal(KEY, HEADER, _plain(size))
    i = data.draw(st.integers(0, segments - 2), label="i")
    j = data.draw(st.integers(i + 1, segments - 1), label="j")
    parts = [sealed[s4.segment_offset(k):s4.segment_offset(k) + SEG] for k in range(segments)]
    parts[i], parts[j] = parts[j], parts[i]
    with pytest.raises(SegmentError) as err:
        open_all(KEY, sealed[:HEADER_BYTES] + b"".join(parts), size)
    assert err.value.segment == i


def test_segment_from_another_object_is_refused() -> None:
    size = 2 * S
    mine = seal(KEY, HEADER, _plain(size, seed=1))
    theirs = seal(OTHER_KEY, HEADER, _plain(size, seed=2))  # same prefix, other data key
    mixed = mine[:s4.segment_offset(1)] + theirs[s4.segment_offset(1):]
    with pytest.raises(SegmentError) as err:
        open_all(KEY, mixed, size)
    assert err.value.segment == 1


def test_appended_segment_is_refused() -> None:
    sealed = seal(KEY, HEADER, _plain(S))
    with pytest.raises(SegmentError) as err:
        open_all(KEY, sealed + sealed[HEADER_BYTES:], S)
    assert err.value.segment == 1


def test_wrong_key_fails_at_segment_zero() -> None:
    with pytest.raises(SegmentError) as err:
        open_all(OTHER_KEY, seal(KEY, HEADER, b"x" * 10), 10)
    assert err.value.segment == 0


def test_short_final_segment_must_be_final() -> None:
    with pytest.raises(ValueError):
        s4.seal_segment(KEY, HEADER, 0, b"short", final=False)
