"""``liuhen sync`` within the upload windows (LIUHEN_SYNC_WINDOWS, docs/station.md §Sync), the
clock injected. The station's bureau is a closed loopback port: a sync that tries fails with
UnavailableError, so "did not try" and "tried" are both visible."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from api.cli._common import settings_for
from api.cli.stations import run_sync
from api.compose import Station, open_ledger
from api.station import run_station
from api.stationlink import BureauLink, write_link
from evidence.errors import UnavailableError
from evidence.timewindows import Schedule, parse_windows
from ledger.forwarding import SyncResult
from tests.support.s3 import free_port

SHANGHAI = ZoneInfo("Asia/Shanghai")
SCHEDULE = Schedule(windows=parse_windows("22:00-06:00"), tz=SHANGHAI, spec="22:00-06:00")
AFTERNOON = datetime(2026, 12, 3, 15, 0, tzinfo=SHANGHAI).astimezone(UTC)
NIGHT = datetime(2026, 12, 3, 23, 0, tzinfo=SHANGHAI).astimezone(UTC)
runner = CliRunner()


class Stop(Exception):
    pass


@pytest.fixture
def joined(tmp_path: Path) -> tuple[Path, BureauLink]:
    data = tmp_path / "pcs-a"
    env = os.environ.copy()
    os.environ.update({"LIUHEN_DATA_DIR": str(data),
                       "LIUHEN_ORIGIN": "liuhen.test-bureau/station/pcs-a"})
    try:
        open_ledger(settings_for(data, create=True)).close()
    finally:
        os.environ.clear()
        os.environ.update(env)
    link = BureauLink(bureau_url=f"http://127.0.0.1:{free_port()}",
                      bureau_origin="liuhen.test-bureau/ledger/v1", station_id="pcs-a",
                      origin="liuhen.test-bureau/station/pcs-a", token="lh_x")
    write_link(data, link)
    return data, link


def test_once_outside_a_window_says_so_and_does_not_sync(
        joined: tuple[Path, BureauLink], capsys: pytest.CaptureFixture[str]) -> None:
    data, link = joined
    run_sync(data, link, once=True, schedule=SCHEDULE, clock=lambda: AFTERNOON)
    said = capsys.readouterr().out
    assert "不在上传时段内（22:00-06:00），下一时段 2026-12-03 22:00 开始" in said
    assert "--now" in said


def test_once_inside_a_window_or_forced_syncs(joined: tuple[Path, BureauLink]) -> None:
    data, link = joined
    with pytest.raises(UnavailableError, match="无法连接局端"):
        run_sync(data, link, once=True, schedule=SCHEDULE, clock=lambda: NIGHT)
    with pytest.raises(UnavailableError):  # --now: no schedule
        run_sync(data, link, once=True, schedule=None, clock=lambda: AFTERNOON)


def test_continuous_sync_waits_for_the_next_window(joined: tuple[Path, BureauLink]) -> None:
    data, link = joined
    now = [AFTERNOON]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            raise Stop
        now[0] += timedelta(seconds=seconds)

    with pytest.raises(Stop):
        run_sync(data, link, once=False, schedule=SCHEDULE, clock=lambda: now[0], sleep=sleep)
    # seven hours to 22:00, then a pass (the bureau is away: backoff 1 s, then 2 s)
    assert waits == [7 * 3600.0, 1.0, 2.0]


@pytest.mark.parametrize(("env", "said"), [
    ({"LIUHEN_SYNC_WINDOWS": "22:00-6:00"}, "上传时段 LIUHEN_SYNC_WINDOWS '22:00-6:00' 格式不对"),
    ({"LIUHEN_SYNC_WINDOWS": "22:00-06:00", "LIUHEN_SYNC_TZ": "Mars/Olympus"}, "不是时区")])
def test_invalid_windows_are_refused_in_chinese(joined: tuple[Path, BureauLink],
                                                env: dict[str, str], said: str) -> None:
    data, _link = joined
    result = runner.invoke(cli, ["sync", "--once"], env={"LIUHEN_DATA_DIR": str(data), **env})
    assert result.exit_code == 3 and said in result.output, result.output


def test_now_syncs_whatever_the_windows(joined: tuple[Path, BureauLink]) -> None:
    data, _link = joined
    result = runner.invoke(cli, ["sync", "--once", "--now"], env={
        "LIUHEN_DATA_DIR": str(data), "LIUHEN_SYNC_WINDOWS": "22:00-06:00"})
    assert result.exit_code == 75 and "无法连接局端" in result.output, result.output


class _NoRecorders:
    unsupported: frozenset[str] = frozenset()

    def poll(self) -> list[object]:
        return []


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("wait_s", "synced"), [(3600.0, False), (0.0, True)])
def test_the_station_syncs_only_inside_a_window(station: Station, wait_s: float,
                                                synced: bool) -> None:
    calls: list[int] = []

    def sync() -> SyncResult:
        calls.append(1)
        return SyncResult(pushes=0, entries=0, acknowledged=0)

    lines: list[str] = []
    run_station(station, _NoRecorders(), password=None, once=True,  # type: ignore[arg-type]
                out=lines.append, sync=sync, sync_wait=lambda: wait_s)
    assert bool(calls) is synced
    assert ("不在上传时段内，本次未同步 (outside the upload windows: not synced)" in lines) \
        is not synced
