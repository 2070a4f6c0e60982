"""Statistics (一人一档, 考核; access/statistics.py) against figures worked out by hand from a
small constructed ledger, and scoped to a leader's subtree. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from access.statistics import Figures, statistics_csv
from tests.integration.supervision_world import T0, UNIT_A, UNIT_B, World, open_world

H = timedelta(hours=1)
M = timedelta(minutes=1)
DAY = timedelta(days=1)
PERIOD = (T0 - DAY, T0 + 10 * DAY)


@pytest.fixture
def world(tmp_path: Path, ledger_url: str) -> Iterator[World]:
    yield from open_world(tmp_path, ledger_url)


def build(w: World) -> None:
    c1 = w.acquire("c1", officer="100001", device="D1", captured=T0 - 2 * H,
                   acquired=T0 + H, duration_ms=30 * 60_000)
    w.acquire("c2", officer="100001", device="D1", captured=T0, acquired=T0 + 30 * H,
              duration_ms=90 * 60_000)  # 30 h after capture: late
    w.acquire("c3", officer="100001", device="D1", captured=T0 + H, acquired=T0 + 2 * H)
    w.acquire("c4", officer="100002", device="D2", captured=T0, acquired=T0 + 24 * H,
              duration_ms=60 * 60_000)  # exactly 24 h: on time
    w.acquire("c5", officer="200001", device="D3", captured=T0, acquired=T0 + H,
              duration_ms=15 * 60_000, unit_no=UNIT_B)
    w.acquire("c0", officer="100001", device="D1", captured=T0 - 2 * DAY,
              acquired=T0 + 3 * H, duration_ms=60 * 60_000)  # captured before the period
    for actor, purpose in (("100009", "办案"), ("100009", "办案"), ("100009", "复核"),
                           ("100003", "复核"), ("100001", "办案")):
        w.view(c1, actor=actor, role="leader", moment=T0 + 5 * H, purpose=purpose)
    w.view(c1, actor="100001", role="officer", moment=T0 - 2 * DAY)  # before the period
    # K1 (unit A; 100001 主办, 100002 协办): its required step is covered by c1: complete.
    w.case("K1", unit=UNIT_A, officers=("100001", "100002"), moment=T0 + 6 * H)
    w.step("K1", "s1", "chafeng", T0 - 2 * H, T0 - 2 * H + 30 * M)
    w.link(c1, "K1", "s1", moment=T0 + 6 * H)
    # K2 (unit A; 100001): a required step with no recording: not complete.
    w.case("K2", unit=UNIT_A, officers=("100001",), moment=T0 + 7 * H)
    w.step("K2", "s1", "chafeng", T0, T0 + H)
    # K3 (unit B; 200001): nothing required: complete.
    w.case("K3", unit=UNIT_B, officers=("200001",), moment=T0 + 8 * H)
    w.catch_up()


def figures(rows: tuple[Figures, ...]) -> dict[str, tuple[object, ...]]:
    return {f.key: (f.recordings, round(f.hours, 4), f.on_time, f.cases, f.complete_cases,
                    dict(f.views)) for f in rows}


def test_figures_per_officer_and_unit_match_the_hand_computed_ones(world: World) -> None:
    build(world)
    stats = world.statistics.compute(*PERIOD)
    assert figures(stats.officers) == {
        "100001": (3, 2.0, 2, 2, 1, {"办案": 1}),
        "100002": (1, 1.0, 1, 1, 1, {}),
        "100009": (0, 0.0, 0, 0, 0, {"办案": 2, "复核": 1}),
        "100003": (0, 0.0, 0, 0, 0, {"复核": 1}),
        "200001": (1, 0.25, 1, 1, 1, {}),
    }
    assert figures(stats.units) == {
        "110000000000": (0, 0.0, 0, 0, 0, {}),
        UNIT_A: (4, 3.0, 3, 2, 1, {"办案": 3, "复核": 1}),
        UNIT_B: (1, 0.25, 1, 1, 1, {"复核": 1}),
    }
    by_key = {f.key: f for f in stats.officers}
    assert by_key["100001"].on_time_rate == pytest.approx(2 / 3)
    assert by_key["100009"].on_time_rate is None
    assert stats.purposes == ("办案", "复核")


def test_a_leader_counts_their_subtree_only(world: World) -> None:
    build(world)
    stats = world.statistics.compute(*PERIOD, units=world.people.subtree(UNIT_A))
    assert [f.key for f in stats.officers] == ["100001", "100002", "100009"]
    assert [f.key for f in stats.units] == [UNIT_A]
    assert stats.purposes == ("办案", "复核")


def test_the_csv_carries_the_figures_for_excel(world: World) -> None:
    build(world)
    data = statistics_csv(world.statistics.compute(*PERIOD), per="officer")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["警号", "姓名", "单位", "录像数", "时长(小时)", "按时上传数", "按时上传率",
                       "案件数", "录像完整案件数", "调阅:办案", "调阅:复核"]
    assert rows[1] == ["100001", "张一", UNIT_A, "3", "2.00", "2", "0.6667", "2", "1", "1",
                       "0"]
    units = list(csv.reader(io.StringIO(
        statistics_csv(world.statistics.compute(*PERIOD), per="unit").decode("utf-8-sig"))))
    assert units[2][:9] == [UNIT_A, "甲分局", UNIT_A, "4", "3.00", "3", "0.7500", "2", "1"]
