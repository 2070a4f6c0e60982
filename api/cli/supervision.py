"""``liuhen alerts``: supervision alerts (调阅监督预警) of a period, printed or written as CSV
(UTF-8 with a byte-order mark, for Excel). docs/supervision.md."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from api.cli._common import DataDir, errors, opened
from api.console import out
from evidence.identity import InvalidInputError

DEFAULT_DAYS = 7

When = Annotated[str | None, typer.Option(
    help="ISO 时间或日期；不带时区时按 LIUHEN_ALERT_TZ（默认 Asia/Shanghai）理解 "
         "(ISO time or date; bureau local time when no offset is given)")]


def parse_when(text: str, tz: str, *, end: bool = False) -> datetime:
    """An ISO date or time; without an offset it is the bureau's local time. A date alone is
    its midnight, or with ``end`` the next midnight (``--until 2026-12-02`` takes that day in,
    as the pages' period does)."""
    try:
        if end and len(text.strip()) == len("2026-12-02"):
            day = date.fromisoformat(text.strip()) + timedelta(days=1)
            return datetime.combine(day, time(0), ZoneInfo(tz)).astimezone(UTC)
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInputError(f"时间 {text[:40]!r} 格式不对：如 2026-12-01 或 "
                                "2026-12-01T08:00+08:00 (give an ISO date or time)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.astimezone(UTC)


def alerts(
    since: When = None,
    until: When = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="写入 CSV 文件 (write CSV)")] = None,
    data_dir: DataDir = None,
) -> None:
    """预警：批量调阅、非工作时间调阅、调阅非本人案件视频、下载原始文件、超时未上传
    (supervision alerts of a period; default the last 7 days)."""
    from access.alerts import alerts_csv
    from api.compose import supervision_alerts, utc_now

    with opened(data_dir) as ledger, errors():
        service = supervision_alerts(ledger)
        tz = service.rules.tz
        end = utc_now() if until is None else parse_when(until, tz, end=True)
        start = end - timedelta(days=DEFAULT_DAYS) if since is None else parse_when(since, tz)
        found = service.compute(start, end)
        if csv is not None:
            csv.write_bytes(alerts_csv(found))
        local = ZoneInfo(tz)
        for a in found:
            ack = f"\t已处理 {a.acknowledged.by}" if a.acknowledged else "\t未处理"
            out(f"{a.at.astimezone(local):%Y-%m-%d %H:%M}\t{a.rule_zh}\t{a.person}\t{a.unit}\t"
                f"{a.detail}{ack}\t{a.id}")
        pending = sum(a.acknowledged is None for a in found)
        out(f"共 {len(found)} 条预警，{pending} 条未处理 ({len(found)} alerts, {pending} not "
            f"acknowledged; {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC)"
            + (f"；CSV 已写入 {csv}" if csv is not None else ""))
