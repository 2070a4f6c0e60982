"""The supervision pages (调阅监督; docs/supervision.md), for leaders (their subtree), auditors
(their assigned subtree) and admins: alerts with acknowledgement and CSV, and statistics
(一人一档, 考核) with server-drawn SVG bars and CSV. No script, no CDN: the charts are SVG
elements written by the template (the pages' CSP admits no inline style or script)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from access.alerts import MAX_NOTE_CHARS, alerts_csv
from access.statistics import Figures, Statistics, statistics_csv
from api.compose import Services
from api.http.auth import Principal
from api.http.web import (
    DISPLAY_TZ,
    CaseworkPage,
    Csrf,
    PageRoute,
    Supervisor,
    check_csrf,
    page,
)
from evidence.bodies import ALERT_RULES
from evidence.identity import InvalidInputError

router = APIRouter(route_class=PageRoute, include_in_schema=False)
"""Included by pages.router, which adds the /ui prefix."""

DEFAULT_DAYS = 7
BAR_WIDTH = 320
"""The longest bar of a chart, in SVG user units (pixels at 100 %)."""


def units_of(who: Principal) -> Collection[str] | None:
    """The units whose people the caller supervises: their scope's units (a leader's subtree,
    an auditor's assigned subtree); None for everything (admin, automation)."""
    if who.scope.everything:
        return None
    return who.scope.units | who.scope.orphan_units


@dataclass(frozen=True, slots=True)
class Period:
    since: date
    until: date
    """Inclusive: the period ends at the end of this day (UTC+8)."""

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time(0), DISPLAY_TZ)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.until + timedelta(days=1), time(0), DISPLAY_TZ)

    def query(self, **extra: str) -> str:
        return urlencode({"since": self.since.isoformat(), "until": self.until.isoformat(),
                          **extra})


def _day(cw: Services, what: str, text: str) -> date:
    """A date of the bureau's accepted years (``LIUHEN_EARLIEST_YEAR``..``LATEST_YEAR``)."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInputError(f"{what} {text[:20]!r} 格式不对：如 2026-12-01 (give a date "
                                "YYYY-MM-DD)") from None
    years = cw.cases.years
    if not years.earliest <= day.year <= years.latest:
        raise InvalidInputError(f"{what} {day} 不在本局接受的时间范围内（{years.earliest}–"
                                f"{years.latest} 年）(outside the accepted years)")
    return day


def period_of(cw: Services, since: str | None, until: str | None) -> Period:
    """The days asked for (UTC+8), by default the last DEFAULT_DAYS days up to today."""
    today = cw.clock().astimezone(DISPLAY_TZ).date()
    end = _day(cw, "结束日期", until) if until else today
    start = _day(cw, "开始日期", since) if since else end - timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise InvalidInputError("结束日期早于开始日期 (the period ends before it starts)")
    return Period(since=start, until=end)


def csv_response(data: bytes, filename: str) -> Response:
    return Response(data, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f"attachment; filename=\"{filename}\"",
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


# --- alerts ---------------------------------------------------------------------------------

@router.get("/alerts", name="web_alerts")
def alerts(request: Request, *, who: Supervisor, cw: CaseworkPage, since: str | None = None,
           until: str | None = None, rule: str | None = None) -> Response:
    period = period_of(cw, since, until)
    found = cw.alerts.compute(period.start, period.end, units=units_of(who))
    counts = {r: sum(a.rule == r for a in found) for r in ALERT_RULES}
    if rule in ALERT_RULES:
        found = [a for a in found if a.rule == rule]
    notice = "已记录处理说明 The acknowledgement is in the ledger." if request.query_params.get(
        "acked") else None
    return page(request, "alerts.html", who=who, title="预警 Alerts", period=period,
                alerts=found, counts=counts, rules=ALERT_RULES, rule=rule or "",
                pending=sum(a.acknowledged is None for a in found), rules_in_force=cw.alerts.rules,
                max_note=MAX_NOTE_CHARS, notice=notice)


@router.get("/alerts.csv", name="web_alerts_csv")
def alerts_export(*, who: Supervisor, cw: CaseworkPage, since: str | None = None,
                  until: str | None = None) -> Response:
    period = period_of(cw, since, until)
    found = cw.alerts.compute(period.start, period.end, units=units_of(who))
    return csv_response(alerts_csv(found), f"alerts-{period.since}-{period.until}.csv")


@router.post("/alerts/ack", name="web_alert_ack")
def acknowledge(request: Request, *, who: Supervisor, cw: CaseworkPage, csrf: Csrf,
                alert: Annotated[str, Form(max_length=200)],
                note: Annotated[str, Form(max_length=MAX_NOTE_CHARS * 4)],
                since: Annotated[str, Form(max_length=20)],
                until: Annotated[str, Form(max_length=20)]) -> Response:
    """Acknowledge an alert the caller can see (found again in the caller's units and the
    period the page showed): an ``alert_acknowledged`` ledger entry."""
    check_csrf(request, csrf)
    period = period_of(cw, since, until)
    found = cw.alerts.find(alert, period.start, period.end, units=units_of(who))
    cw.alerts.acknowledge(found, note, actor=who.name)
    url = str(request.url_for("web_alerts")) + "?" + period.query(acked="1")
    return RedirectResponse(url, status_code=303)


# --- statistics -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    text: str
    width: float
    y: int


def bars(rows: tuple[Figures, ...], value: str, fmt: str) -> list[Bar]:
    """One bar per row, scaled so the largest value is BAR_WIDTH wide."""
    values = [float(getattr(f, value) or 0) for f in rows]
    top = max(values, default=0) or 1
    return [Bar(label=f"{f.name or f.key}", value=v, text=fmt.format(v),
                width=round(v / top * BAR_WIDTH, 1), y=i * 24) for i, (f, v) in
            enumerate(zip(rows, values, strict=True))]


@router.get("/statistics", name="web_statistics")
def statistics(request: Request, *, who: Supervisor, cw: CaseworkPage,
               since: str | None = None, until: str | None = None) -> Response:
    period = period_of(cw, since, until)
    stats: Statistics = cw.statistics.compute(period.start, period.end, units=units_of(who))
    charts = [
        ("录像时长（小时）", "Hours recorded", bars(stats.officers, "hours", "{:.1f}")),
        ("按时上传率", "On-time upload rate",
         [Bar(b.label, b.value, "—" if f.on_time_rate is None else f"{b.value:.0%}",
              b.width, b.y)
          for f, b in zip(stats.officers, bars(stats.officers, "on_time_rate", "{}"),
                          strict=True)]),
        ("调阅次数", "Views", bars(stats.officers, "view_count", "{:.0f}")),
    ]
    return page(request, "statistics.html", who=who, title="统计 Statistics", period=period,
                stats=stats, charts=charts, bar_width=BAR_WIDTH)


@router.get("/statistics.csv", name="web_statistics_csv")
def statistics_export(*, who: Supervisor, cw: CaseworkPage, since: str | None = None,
                      until: str | None = None, per: str = "officer") -> Response:
    if per not in ("officer", "unit"):
        raise InvalidInputError("per 只能是 officer 或 unit (per: officer or unit)")
    period = period_of(cw, since, until)
    stats = cw.statistics.compute(period.start, period.end, units=units_of(who))
    return csv_response(statistics_csv(stats, per=per),
                        f"statistics-{per}-{period.since}-{period.until}.csv")
