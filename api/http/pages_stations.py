"""The 采集站 dashboard (issue 16 item 1), under ``/ui/stations``: every station's last report
(stopped reporting after STALE; its staging disk, warned when nearly full), the recorders docked
now with their progress (files, bytes, MB/s, ETA), and the docks of the last day with their
failures. ``/ui/stations/events`` streams the same board as server-sent events every
EVENT_EVERY_S, which ``static/stations.js`` puts in place: the page updates without a reload
(and still shows the board with scripts off)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.compose import Services
from api.http.web import SECURITY_HEADERS, CaseworkPage, PageRoute, Supervisor, page, templates
from evidence.records import DockReport, StationReport

router = APIRouter(route_class=PageRoute, include_in_schema=False)  # under pages.router (/ui)

STALE = timedelta(seconds=30)
"""A station whose last heartbeat is older than this has stopped reporting (it beats every 5 s)."""
RECENT = timedelta(days=1)
LOW_DISK_FRACTION = 0.10
LOW_DISK_BYTES = 20 << 30
EVENT_EVERY_S = 1.0
STREAM_FOR_S = 600.0
"""An event stream ends after this long; the browser's EventSource reconnects by itself."""


@dataclass(frozen=True)
class StationRow:
    report: StationReport
    stale: bool
    low_disk: bool


@dataclass(frozen=True)
class DockRow:
    report: DockReport
    mb_s: float | None
    eta_s: int | None
    percent: int


def _dock_row(d: DockReport) -> DockRow:
    seconds = (d.updated_at - d.started_at).total_seconds()
    rate = d.bytes_done / seconds if seconds > 0 else None
    left = max(d.bytes_total - d.bytes_done, 0)
    eta = int(left / rate) if rate and d.state == "copying" else None
    percent = 100 if d.bytes_total == 0 else min(100, d.bytes_done * 100 // d.bytes_total)
    return DockRow(report=d, mb_s=None if rate is None else rate / 1e6, eta_s=eta,
                   percent=int(percent))


def board(cw: Services, now: datetime) -> dict[str, Any]:
    """The board's rows at ``now``: stations (stale, low on disk), docks running, the day's."""
    stations = [StationRow(report=s, stale=now - s.reported_at > STALE,
                           low_disk=s.free_bytes < LOW_DISK_BYTES
                           or s.free_bytes < s.total_bytes * LOW_DISK_FRACTION)
                for s in cw.board.stations()]
    docks = [_dock_row(d) for d in cw.board.docks(since=now - RECENT)]
    return {"stations": stations, "docking": [d for d in docks if d.report.state == "copying"],
            "recent": [d for d in docks if d.report.state != "copying"], "now": now}


@router.get("/stations", name="web_stations")
def stations(request: Request, *, who: Supervisor, cw: CaseworkPage) -> Response:
    return page(request, "stations.html", who=who, title="采集站 Stations",
                 **board(cw, cw.clock()))


@router.get("/stations/events", name="web_station_events")
async def station_events(request: Request, *, who: Supervisor, cw: CaseworkPage) -> Response:
    """``event: board`` with the board's HTML, every EVENT_EVERY_S, for STREAM_FOR_S."""
    fragment = templates().env.get_template("stations_board.html")

    async def stream() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        until = loop.time() + STREAM_FOR_S
        while loop.time() < until and not await request.is_disconnected():
            values = await run_in_threadpool(board, cw, cw.clock())
            html = fragment.render(request=request, url_for=request.url_for, **values)
            yield "event: board\n" + "".join(f"data: {line}\n"
                                             for line in html.splitlines()) + "\n"
            await asyncio.sleep(EVENT_EVERY_S)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={**SECURITY_HEADERS, "X-Accel-Buffering": "no"})
