"""一人一档 (issue 16 item 2), under ``/ui/officers/{警号}``: an officer's recorders and their
last docking, recordings per day and 超时未上传 over the last DAYS days (UTC+8; the overdue
uploads are the supervision rules' ``upload_late`` and ``dock_late`` alerts, access/alerts.py),
and the cases they work on.
Shown to a reader whose scope holds the officer (their unit's subtree; everything for admins),
like the officer's clips; anyone else gets the page of an officer who does not exist."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from fastapi import APIRouter, Request, Response

from api.http.web import DISPLAY_TZ, CaseworkPage, PageRoute, Reader, page
from evidence.errors import NotFoundError
from evidence.records import Account

router = APIRouter(route_class=PageRoute, include_in_schema=False)  # under pages.router (/ui)

DAYS = 14
CHART_W = 700
CHART_H = 120


@router.get("/officers/{officer_no}", name="web_officer")
def officer_file(request: Request, *, officer_no: str, who: Reader,
                 cw: CaseworkPage) -> Response:
    number = cw.cases.officer_no(officer_no)
    absent = NotFoundError(f"未找到民警 {number} (no officer {number} in your scope)")
    account: Account | None
    try:
        account = cw.accounts.repo.account(number)
    except NotFoundError:
        account = None
    in_scope = who.scope.everything or (account is not None and (
        account.unit in who.scope.units or account.officer_no == who.name))
    if not in_scope:
        raise absent
    now = cw.clock().astimezone(DISPLAY_TZ)
    first_day = (now - timedelta(days=DAYS - 1)).date()
    since = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=DAYS - 1)
    devices, captured, cases = cw.cases.officer_file(number, since=since)
    if account is None and not devices:
        raise absent
    counts = Counter(t.astimezone(DISPLAY_TZ).date() for t in captured)
    days = [(first_day + timedelta(days=i)) for i in range(DAYS)]
    per_day = [(d, counts.get(d, 0)) for d in days]
    top = max([n for _, n in per_day] + [1])
    bar_w = CHART_W / DAYS
    bars = [(round(i * bar_w + 2, 1), round(bar_w - 4, 1), round(n / top * (CHART_H - 30), 1),
             d, n) for i, (d, n) in enumerate(per_day)]
    since_docked = [(d, (now - d.last_docked).days) for d in devices]
    overdue = cw.alerts.overdue(number, [d.device for d in devices], since, now)
    return page(request, "officer.html", who=who, title=f"一人一档 {number}", number=number,
                 account=account, devices=since_docked, per_day=per_day, bars=bars,
                 chart_w=CHART_W, chart_h=CHART_H, cases=cases, days=DAYS, overdue=overdue,
                 rules=cw.alerts.rules,
                 total=sum(n for _, n in per_day))
