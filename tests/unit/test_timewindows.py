"""Upload windows (evidence/timewindows.py): parsing, windows across midnight, the next window
in Asia/Shanghai (no DST: the same offset all year), and invalid specs refused in Chinese."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.identity import InvalidInputError
from evidence.timewindows import (
    MAX_WINDOWS,
    Window,
    in_windows,
    next_window_start,
    parse_windows,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
SPEC = "22:00-06:00,12:00-13:00"


def at(day: int, hh: int, mm: int = 0, *, month: int = 12) -> datetime:
    """A Shanghai wall-clock time, as the aware UTC instant a clock hands in."""
    return datetime(2026, month, day, hh, mm, tzinfo=SHANGHAI).astimezone(UTC)


def test_parse_windows() -> None:
    assert parse_windows(" 22:00-06:00 , 12:00-13:00,") == (
        Window(time(22), time(6)), Window(time(12), time(13)))


@pytest.mark.parametrize(("hh", "mm", "inside"), [
    (21, 59, False), (22, 0, True), (23, 59, True), (0, 0, True), (5, 59, True), (6, 0, False),
    (11, 59, False), (12, 0, True), (12, 59, True), (13, 0, False), (17, 30, False)])
def test_windows_across_midnight(hh: int, mm: int, inside: bool) -> None:
    assert in_windows(parse_windows(SPEC), at(3, hh, mm), SHANGHAI) is inside


def test_windows_are_read_in_the_zone_not_utc() -> None:
    # 22:30 in Shanghai is 14:30 UTC: outside 22:00-06:00 if read in UTC
    assert in_windows(parse_windows("22:00-06:00"), at(3, 22, 30), SHANGHAI)
    assert not in_windows(parse_windows("22:00-06:00"), at(3, 22, 30), UTC)


@pytest.mark.parametrize(("now", "opens"), [
    (at(3, 7), at(3, 12)),           # morning: the midday window
    (at(3, 13), at(3, 22)),          # just after it: tonight's
    (at(3, 21, 59), at(3, 22)),
    (at(3, 23), at(3, 23)),          # inside: now
    (at(31, 14), at(31, 22)),        # across the year's end
])
def test_next_window_start(now: datetime, opens: datetime) -> None:
    assert next_window_start(parse_windows(SPEC), now, SHANGHAI) == opens


@given(st.datetimes(min_value=datetime(1992, 1, 1), max_value=datetime(2099, 12, 31),
                    timezones=st.just(UTC)))
def test_no_dst_in_shanghai_the_next_window_is_at_most_a_day_away_and_inside(
        now: datetime) -> None:
    windows = parse_windows("02:00-03:00")
    opens = next_window_start(windows, now, SHANGHAI)
    assert now <= opens < now + timedelta(days=1)
    assert in_windows(windows, opens, SHANGHAI)
    assert opens.utcoffset() == timedelta(hours=8)  # the same offset every day of the year


def test_whole_day() -> None:
    assert in_windows(parse_windows("00:00-00:00"), at(3, 15), SHANGHAI)


@pytest.mark.parametrize("spec", [
    "", ",", "22-06", "22:00", "24:00-06:00", "22:60-06:00", "6:00-7:00", "22:00-06:00-07:00",
    "晚上", ",".join(["01:00-02:00"] * (MAX_WINDOWS + 1))])
def test_invalid_specs_are_refused_in_chinese(spec: str) -> None:
    with pytest.raises(InvalidInputError, match="上传时段"):
        parse_windows(spec)
