"""The pure parts of the alert rules (access/alerts.py) as tables: off-hours in Beijing time
at its edges (and a window that does not wrap midnight), bursts of distinct clips, dockings."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from access.alerts import AlertRules, bulk_views, dockings, parse_hours
from evidence.identity import InvalidInputError
from evidence.ids import DeviceSerial, OfficerNo, Sha256Hex, StationId
from evidence.records import Access, Clip

DAY = datetime(2026, 12, 2, tzinfo=UTC)
RULES = AlertRules()  # 22:00-06:00 Asia/Shanghai


@pytest.mark.parametrize(("utc", "off"), [
    (DAY + timedelta(hours=14) - timedelta(seconds=1), False),  # 21:59:59 in Beijing
    (DAY + timedelta(hours=14), True),                          # 22:00:00
    (DAY + timedelta(hours=16), True),                          # 00:00:00 next day
    (DAY + timedelta(hours=22) - timedelta(microseconds=1), True),  # 05:59:59.999999
    (DAY + timedelta(hours=22), False),                         # 06:00:00
    (DAY + timedelta(hours=23), False),  # 23:00 UTC: off in UTC, 07:00 in Beijing
    (DAY + timedelta(hours=3), False),   # 03:00 UTC: off in UTC, 11:00 in Beijing
])
def test_off_hours_are_beijing_hours(utc: datetime, off: bool) -> None:
    assert RULES.off_hours(utc) is off


@pytest.mark.parametrize(("local", "off"), [
    (time(11, 59), False), (time(12, 0), True), (time(13, 59), True), (time(14, 0), False)])
def test_a_window_that_does_not_wrap_midnight(local: time, off: bool) -> None:
    rules = AlertRules(off_start=time(12, 0), off_end=time(14, 0), tz="UTC")
    assert rules.off_hours(datetime.combine(DAY.date(), local, UTC)) is off


@pytest.mark.parametrize(("text", "want"), [
    ("22:00-06:00", (time(22), time(6))), (" 12:30 - 13:45 ", (time(12, 30), time(13, 45)))])
def test_parse_hours(text: str, want: tuple[time, time]) -> None:
    assert parse_hours(text) == want


@pytest.mark.parametrize("text", ["22-06", "22:00", "25:00-06:00", "", "22:00-06:00-07:00"])
def test_parse_hours_refuses(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_hours(text)


def access(i: int, actor: str, clip: str, seconds: float) -> Access:
    return Access(index=i, sha256=Sha256Hex(clip), actor=actor, role="auditor", action="play",
                  variant="playback", purpose="p", at=DAY + timedelta(seconds=seconds))


@pytest.mark.parametrize(("views", "bursts"), [
    # (clip, seconds after DAY) of one person; threshold 3 distinct clips within 600 s
    ([("a", 0), ("b", 1), ("c", 599)], [(0, 3)]),
    ([("a", 0), ("b", 1), ("c", 600)], []),            # the window is [t, t + 600 s)
    ([("a", 0), ("a", 1), ("a", 2), ("b", 3)], []),     # distinct clips, not views
    ([("a", 0), ("b", 1), ("c", 2), ("d", 3), ("e", 700), ("f", 701), ("g", 702)],
     [(0, 4), (4, 3)]),                                 # two bursts, each named once
    ([("a", 0), ("b", 400), ("c", 800), ("d", 900)], [(1, 3)]),  # the burst may start later
])
def test_bulk_views(views: list[tuple[str, float]], bursts: list[tuple[int, int]]) -> None:
    rules = AlertRules(bulk_count=3, bulk_window=timedelta(minutes=10))
    log = [access(i, "100001", c, s) for i, (c, s) in enumerate(views)]
    noise = [access(100 + i, "100002", c, s) for i, (c, s) in enumerate(views[:2])]
    found = bulk_views(log + noise, rules)
    assert [(a.index, n) for a, n in found] == bursts


def clip(i: int, device: str, acquired_s: float) -> Clip:
    at = DAY + timedelta(seconds=acquired_s)
    return Clip(sha256=Sha256Hex(f"{i:064x}"), size=1, device=DeviceSerial(device),
                officer=OfficerNo("100001"), unit_no="", name_on_device=f"{i}", captured_at=at,
                station=StationId("s"), acquired_index=i, acquired_at=at)


def test_dockings_split_a_recorder_at_an_hour_without_acquisitions() -> None:
    # 3599 s apart: one docking; 3600 s apart: the next one
    clips = [clip(0, "D1", 0), clip(1, "D1", 3599), clip(2, "D1", 7199), clip(3, "D2", 10),
             clip(4, "D1", 20000)]
    groups = [[c.acquired_index for c in g] for g in dockings(clips)]
    assert groups == [[0, 1], [2], [4], [3]]
