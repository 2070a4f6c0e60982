"""SM4-GCM segmented envelope for objects at rest (docs/adr/0010-sm4-envelope.md, DESIGN.md §5).

Pure: keys, bytes and offsets in; bytes out or VerificationError raised. No I/O.

Format ``liuhen/sm4-gcm-stream/v1`` (all integers big-endian)::

    header   24 bytes   magic b"LHSM4GCM" | version 0x01 | segment log2 (16) | 7 zero bytes |
                        nonce prefix (7 random bytes, per object)
    segment  i = 0 .. n-1, each SM4-GCM(data key, nonce_i, aad=header) over up to 64 KiB of
             plaintext, followed by its 16-byte tag

    nonce_i = nonce prefix (7) | i (4 bytes) | final flag (1 byte: 0x01 on the last segment only)

As in age's STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015): the segment index
and the final flag are inside each segment's nonce, so

- reordering or duplicating segments fails (segment i opened at position j ≠ i uses another
  nonce);
- truncation at a segment boundary fails (the new last segment was not sealed as final), and
  appending fails (a segment after the final one has none to open with);
- a segment moved from another object fails (every object has its own random data key);
- the header is the AAD of every segment, so a changed nonce prefix fails at segment 0 (a
  changed magic, version, segment size or reserved byte is refused as a bad header).

Every object has at least one segment (an empty plaintext is one empty final segment); a
plaintext whose length is a multiple of the segment size has no trailing empty segment. The
plaintext size (kept beside the wrapped key, outside the object) fixes the segment count, so a
reader opening segment i knows whether it must be the final one.

Each data key encrypts exactly one plaintext (the object), so nonces never repeat under a key:
index ≤ 2**32 - 1 bounds an object to 256 TiB (MAX_PLAINTEXT_BYTES).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from evidence.errors import VerificationError

ALGORITHM = "SM4-GCM/liuhen-stream-v1"
"""The name the ledger and the database record for this format."""
MAGIC = b"LHSM4GCM"
VERSION = 1
SEGMENT_LOG2 = 16
SEGMENT_BYTES = 1 << SEGMENT_LOG2  # 64 KiB of plaintext per segment
TAG_BYTES = 16
HEADER_BYTES = 24
PREFIX_BYTES = 7
KEY_BYTES = 16  # SM4 has 128-bit keys only
MAX_SEGMENTS = 1 << 32  # the index field's range: nonces never repeat under one key
MAX_PLAINTEXT_BYTES = MAX_SEGMENTS * SEGMENT_BYTES
STEP = "sm4.open"


class SegmentError(VerificationError):
    """A segment (or the header) does not authenticate; ``segment`` names which (None: the
    header's fixed fields are wrong)."""

    def __init__(self, reason: str, *, segment: int | None) -> None:
        self.segment = segment
        where = "header" if segment is None else f"segment {segment}"
        super().__init__(f"{where}: {reason}", step=STEP)


@dataclass(frozen=True, slots=True)
class Header:
    """The object's header; ``prefix`` is 7 random bytes drawn by the caller for each object
    (randomness, like keys, comes from outside this pure module)."""

    prefix: bytes

    def __post_init__(self) -> None:
        if len(self.prefix) != PREFIX_BYTES:
            raise ValueError(f"nonce prefix must be {PREFIX_BYTES} bytes")

    def encode(self) -> bytes:
        return (MAGIC + bytes([VERSION, SEGMENT_LOG2]) + bytes(HEADER_BYTES - len(MAGIC) - 2
                                                              - PREFIX_BYTES) + self.prefix)

    @classmethod
    def decode(cls, data: bytes) -> Header:
        if len(data) < HEADER_BYTES or not data.startswith(MAGIC):
            raise SegmentError("not a liuhen SM4-GCM object (magic)", segment=None)
        if data[8] != VERSION or data[9] != SEGMENT_LOG2:
            raise SegmentError(f"unknown version {data[8]} or segment size 2**{data[9]}",
                               segment=None)
        if any(data[10:HEADER_BYTES - PREFIX_BYTES]):
            raise SegmentError("reserved header bytes are not zero", segment=None)
        return cls(prefix=bytes(data[HEADER_BYTES - PREFIX_BYTES:HEADER_BYTES]))


# --- offsets ---------------------------------------------------------------------------------

def segment_count(plain_size: int) -> int:
    """Segments of a plaintext of ``plain_size`` bytes (at least one)."""
    if plain_size < 0 or plain_size > MAX_PLAINTEXT_BYTES:
        raise ValueError(f"plaintext size {plain_size} is outside 0..{MAX_PLAINTEXT_BYTES}")
    return max(1, -(-plain_size // SEGMENT_BYTES))


def sealed_size(plain_size: int) -> int:
    """The object's size on the store for a plaintext of ``plain_size`` bytes."""
    return HEADER_BYTES + plain_size + TAG_BYTES * segment_count(plain_size)


def segment_plain_len(index: int, plain_size: int) -> int:
    return min(SEGMENT_BYTES, plain_size - index * SEGMENT_BYTES)


def segment_offset(index: int) -> int:
    """Where segment ``index`` starts in the sealed object."""
    return HEADER_BYTES + index * (SEGMENT_BYTES + TAG_BYTES)


@dataclass(frozen=True, slots=True)
class SealedSpan:
    """The sealed bytes ``[offset, offset + length)`` hold segments ``first .. last``, which
    cover the plaintext bytes asked for; ``skip`` of the first segment's plaintext come before
    them."""

    first: int
    last: int
    offset: int
    length: int
    skip: int


def span_for(start: int, length: int, plain_size: int) -> SealedSpan:
    """The segments to fetch for plaintext bytes ``[start, start + length)`` (clipped to the
    plaintext; ``length`` ≥ 1 and ``start`` < ``plain_size``)."""
    if length < 1 or not 0 <= start < plain_size:
        raise ValueError(f"range {start}+{length} is outside a plaintext of {plain_size} bytes")
    end = min(start + length, plain_size)
    first, last = start // SEGMENT_BYTES, (end - 1) // SEGMENT_BYTES
    offset = segment_offset(first)
    stop = segment_offset(last) + segment_plain_len(last, plain_size) + TAG_BYTES
    return SealedSpan(first=first, last=last, offset=offset, length=stop - offset,
                      skip=start - first * SEGMENT_BYTES)


# --- sealing and opening ----------------------------------------------------------------------

def _nonce(header: Header, index: int, final: bool) -> bytes:
    return header.prefix + index.to_bytes(4, "big") + (b"\x01" if final else b"\x00")


class Sealer:
    """Seals the segments of one object (one data key, one header), writing each segment's
    ciphertext and tag straight into the caller's buffer (the upload path seals a batch of
    segments into one buffer without further copies)."""

    def __init__(self, key: bytes, header: Header) -> None:
        self._algorithm = algorithms.SM4(key)
        self._header = header
        self._aad = header.encode()

    def seal_into(self, index: int, plain: bytes | memoryview, out: memoryview, *,
                  final: bool) -> int:
        """Segment ``index`` sealed into ``out`` (at least ``len(plain) + TAG_BYTES`` bytes);
        returns the bytes written (``len(plain) + TAG_BYTES``)."""
        if not 0 <= index < MAX_SEGMENTS:
            raise ValueError(f"segment index {index} is out of range")
        if len(plain) > SEGMENT_BYTES or (len(plain) < SEGMENT_BYTES and not final):
            raise ValueError(f"segment {index}: {len(plain)} bytes (only the final segment may "
                             f"be shorter than {SEGMENT_BYTES})")
        enc = Cipher(self._algorithm, modes.GCM(_nonce(self._header, index, final))).encryptor()
        enc.authenticate_additional_data(self._aad)
        n = enc.update_into(plain, out) if len(plain) else 0
        enc.finalize()
        out[n:n + TAG_BYTES] = enc.tag
        return n + TAG_BYTES


def seal_segment(key: bytes, header: Header, index: int, plain: bytes | memoryview, *,
                 final: bool) -> bytes:
    """Segment ``index`` sealed: ciphertext followed by its tag."""
    out = bytearray(len(plain) + TAG_BYTES)
    Sealer(key, header).seal_into(index, plain, memoryview(out), final=final)
    return bytes(out)


def open_segment(key: bytes, header: Header, index: int, sealed: bytes | memoryview, *,
                 final: bool) -> bytes:
    """Segment ``index``'s plaintext; SegmentError naming ``index`` when it does not
    authenticate as segment ``index`` (final or not) of this object under this key."""
    if len(sealed) < TAG_BYTES or len(sealed) > SEGMENT_BYTES + TAG_BYTES:
        raise SegmentError(f"{len(sealed)} bytes is not a segment's length", segment=index)
    body, tag = bytes(sealed[:-TAG_BYTES]), bytes(sealed[-TAG_BYTES:])
    dec = Cipher(algorithms.SM4(key), modes.GCM(_nonce(header, index, final), tag)).decryptor()
    dec.authenticate_additional_data(header.encode())
    try:
        return dec.update(body) + dec.finalize()
    except InvalidTag:
        raise SegmentError("does not authenticate (changed, moved, truncated or another "
                           "object's)", segment=index) from None


def seal(key: bytes, header: Header, plain: bytes) -> bytes:
    """A whole plaintext sealed (tests and small objects; the stores stream with
    ``seal_segment``)."""
    n = segment_count(len(plain))
    out = [header.encode()]
    for i in range(n):
        out.append(seal_segment(key, header, i, plain[i * SEGMENT_BYTES:(i + 1) * SEGMENT_BYTES],
                                final=i == n - 1))
    return b"".join(out)


def open_span(key: bytes, header: Header, span: SealedSpan, sealed: bytes,
              plain_size: int) -> Iterator[bytes]:
    """The plaintext of segments ``span.first .. span.last`` from their sealed bytes (exactly
    ``span.length`` of them), one segment at a time; ``span.skip`` is not dropped here."""
    if len(sealed) != span.length:
        raise SegmentError(f"expected {span.length} sealed bytes, got {len(sealed)} "
                           "(truncated object)", segment=span.first + len(sealed) //
                           (SEGMENT_BYTES + TAG_BYTES))
    last_index = segment_count(plain_size) - 1
    view = memoryview(sealed)
    pos = 0
    for i in range(span.first, span.last + 1):
        n = segment_plain_len(i, plain_size) + TAG_BYTES
        yield open_segment(key, header, i, view[pos:pos + n], final=i == last_index)
        pos += n


def open_all(key: bytes, sealed: bytes, plain_size: int) -> bytes:
    """The whole plaintext of a sealed object whose plaintext has ``plain_size`` bytes; the
    object must be exactly ``sealed_size(plain_size)`` bytes (an extra or missing segment is
    refused, naming the segment)."""
    header = Header.decode(sealed)
    expected = sealed_size(plain_size)
    if len(sealed) != expected:
        # Name the first segment that is not where it should be: the one cut short, or the
        # one past the final segment.
        bad = min(segment_count(plain_size), max(0, len(sealed) - HEADER_BYTES)
                  // (SEGMENT_BYTES + TAG_BYTES))
        raise SegmentError(f"object has {len(sealed)} bytes, a {plain_size}-byte plaintext "
                           f"seals to {expected}", segment=bad)
    span = SealedSpan(first=0, last=segment_count(plain_size) - 1, offset=HEADER_BYTES,
                      length=expected - HEADER_BYTES, skip=0)
    return b"".join(open_span(key, header, span, sealed[HEADER_BYTES:], plain_size))
