from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from evidence.errors import VerificationError
from evidence.ids import StationId
from evidence.ledgertime import format_time
from evidence.records import Entry, EntryKind, TreeHead
from integrity.entry import DOMAIN, decode_entry, encode_entry

AT = datetime(2026, 11, 24, 16, 57, 3, 123456, tzinfo=timezone(timedelta(hours=8)))


def _entry(**kw: object) -> Entry:
    fields: dict[str, object] = dict(kind=EntryKind.ACQUIRED, subject="ab" * 32, body={"size": 7},
                                     station=StationId("st-1"), actor="000123", at=AT)
    fields.update(kw)
    return Entry(**fields)  # type: ignore[arg-type]  # one dict of Entry's mixed-type fields


def test_times_are_utc_with_nanoseconds() -> None:
    assert format_time(AT) == "2026-11-24T08:57:03.123456000Z"
    with pytest.raises(ValueError):
        format_time(datetime(2026, 1, 1))


def test_encoding_is_byte_exact() -> None:
    data = encode_entry(_entry(prev_checkpoint=TreeHead(3, bytes(range(32)))))
    assert data == DOMAIN + (
        b'{"actor":"000123","at":"2026-11-24T08:57:03.123456000Z","body":{"size":7},'
        b'"kind":"acquired","prev_checkpoint":{"root":"000102030405060708090a0b0c0d0e0f'
        b'101112131415161718191a1b1c1d1e1f","size":3},"station":"st-1","subject":"'
        + b"ab" * 32 + b'"}')
    decoded = decode_entry(data)
    assert decoded.at == AT.astimezone(UTC)
    assert decoded.prev_checkpoint == TreeHead(3, bytes(range(32)))
    assert encode_entry(decoded) == data


@pytest.mark.parametrize("mutate", [
    lambda d: d[len(DOMAIN):],  # no domain line
    lambda d: d.replace(b'"kind":"acquired"', b'"kind":"invented"'),
    lambda d: d.replace(b'"actor"', b'"actr"'),
    lambda d: d.replace(b"123456000Z", b"123456Z"),
    lambda d: d.replace(b'{"size":7}', b'{"size":7.0}'),
    lambda d: d + b" ",
])
def test_malformed_entries_are_refused(mutate: Callable[[bytes], bytes]) -> None:
    data = encode_entry(_entry())
    with pytest.raises(VerificationError):
        decode_entry(mutate(data))
