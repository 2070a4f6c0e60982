"""Ledger times (issue 11 §2): the reader accepts every time the writer can write, years 1–9999;
the writer writes four-digit years (``strftime`` wrote year 999 as ``999``, which no reader
accepted, and one such step took every catalogue read down)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.ids import StationId
from evidence.ledgertime import format_time, parse_time
from evidence.records import Entry, EntryKind
from integrity.entry import decode_entry, encode_entry

ZONES = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes)))


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59,
                                                                  999999),
                    timezones=st.just(UTC)))
def test_every_utc_time_of_years_1_to_9999_round_trips(moment: datetime) -> None:
    text = format_time(moment)
    assert len(text) == len("2026-11-24T08:57:03.123456000Z")
    assert parse_time(text) == moment


@given(st.datetimes(timezones=ZONES))
def test_whatever_the_writer_writes_the_reader_reads(moment: datetime) -> None:
    try:
        text = format_time(moment)
    except ValueError:  # no UTC form within years 1-9999: nothing is written
        return
    assert parse_time(text) == moment


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31),
                    timezones=st.just(UTC)))
def test_entries_with_any_year_decode(moment: datetime) -> None:
    entry = Entry(kind=EntryKind.CASE_STEP, subject="C-1",
                  body={"started_at": format_time(moment)}, station=StationId("st"),
                  actor="000123", at=moment)
    assert decode_entry(encode_entry(entry)).at == moment


@pytest.mark.parametrize("moment", [datetime(999, 6, 1, tzinfo=UTC),
                                    datetime(1, 1, 1, tzinfo=UTC),
                                    datetime(99, 12, 31, 23, 59, 59, tzinfo=UTC)])
def test_years_before_1000_have_four_digits(moment: datetime) -> None:
    assert format_time(moment)[:5] == f"{moment.year:04d}-"


def test_a_time_with_no_utc_form_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="no UTC form"):
        format_time(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))))
    with pytest.raises(ValueError, match="no UTC form"):
        format_time(datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-14))))


@pytest.mark.parametrize("text", ["999-06-01T00:00:00.000000000Z",
                                  "２０２６-01-01T00:00:00.000000000Z",
                                  "2026-01-01T00:00:00.000000000+08:00",
                                  "2026-02-30T00:00:00.000000000Z",
                                  "0000-01-01T00:00:00.000000000Z"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)
