"""A case's timeline as server-rendered SVG (issue 16 item 4): one lane per step, its window as
a band, the clips linked to it as bars, on one time axis in the pages' local time (UTC+8, the
time zone of Asia/Shanghai; capture times are the device's corrected by the clock offset the
station observed at docking). Gaps of the completeness report are hatched; a clip outside its
step's window is drawn in red and listed. No script: presentation attributes only (the pages'
CSP forbids inline styles)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from evidence.completeness import Gap
from evidence.records import CaseStep, Clip

WIDTH = 1000
LABEL_W = 150
LANE_H = 34
AXIS_H = 28
TICKS = 6
LOCAL = "UTC+8"


@dataclass(frozen=True)
class Bar:
    x: float
    w: float
    y: float
    label: str
    outside: bool
    href: str


@dataclass(frozen=True)
class Lane:
    y: float
    label: str
    band: tuple[float, float] | None
    gaps: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Timeline:
    """What the template draws; empty when nothing has a time."""

    height: float
    lanes: tuple[Lane, ...] = ()
    bars: tuple[Bar, ...] = ()
    ticks: tuple[tuple[float, str], ...] = ()
    outside: tuple[str, ...] = field(default=())
    """Names of the clips (partly) outside their step's window."""

    @property
    def empty(self) -> bool:
        return not self.bars and not any(lane.band for lane in self.lanes)


def shift(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, held at the calendar's ends (the ledger may hold times near year 1
    or 9999 from a recorder's clock: drawn and searched, never an error)."""
    try:
        return moment + delta
    except OverflowError:
        return (datetime.max if delta > timedelta(0) else datetime.min).replace(tzinfo=UTC)


def _end(clip: Clip) -> datetime:
    return shift(clip.captured_at, timedelta(milliseconds=clip.duration_ms or 0))


def outside_window(step: CaseStep, clip: Clip) -> bool:
    """The clip's recording is not wholly inside the step's window (a window without both
    ends bounds nothing)."""
    if step.started_at is None or step.ended_at is None:
        return False
    return clip.captured_at < step.started_at or _end(clip) > step.ended_at


def build(steps: tuple[CaseStep, ...], names: dict[str, str], clips: dict[str, list[Clip]],
          gaps: tuple[Gap, ...], *, href: dict[str, str], local: tzinfo) -> Timeline:
    """The timeline of ``steps`` with the ``clips`` linked to each (by step id); ``names``: the
    Chinese name of each step code; ``href``: each clip's page; ``local``: a tzinfo for the
    tick labels."""
    moments = [m for s in steps for m in (s.started_at, s.ended_at) if m is not None]
    moments += [m for cs in clips.values() for c in cs for m in (c.captured_at, _end(c))]
    if not moments:
        return Timeline(height=0)
    first, last = min(moments), max(moments)
    span = max((last - first).total_seconds(), 60.0)
    pad = span * 0.03
    origin = shift(first, -timedelta(seconds=pad))
    scale = (WIDTH - LABEL_W - 10) / (span + 2 * pad)

    def x(moment: datetime) -> float:
        return round(LABEL_W + (moment - origin).total_seconds() * scale, 1)

    lanes, bars, outside = [], [], []
    for i, step in enumerate(steps):
        y = AXIS_H + i * LANE_H
        band = None
        if step.started_at is not None and step.ended_at is not None:
            band = (x(step.started_at), max(x(step.ended_at) - x(step.started_at), 1.0))
        lane_gaps = tuple((x(g.start), max(x(g.end) - x(g.start), 1.0)) for g in gaps
                          if g.step_id == step.step_id)
        lanes.append(Lane(y=y, label=f"{step.step_id} {names.get(step.code, step.code)}",
                          band=band, gaps=lane_gaps))
        for clip in clips.get(step.step_id, []):
            out = outside_window(step, clip)
            name = clip.name_on_device.rsplit("/", 1)[-1]
            if out:
                outside.append(name)
            start = x(clip.captured_at)
            bars.append(Bar(x=start, w=max(x(_end(clip)) - start, 3.0), y=y + 9, label=name,
                            outside=out, href=href[clip.sha256]))
    ticks = []
    for t in range(TICKS + 1):
        moment = shift(origin, timedelta(seconds=(span + 2 * pad) * t / TICKS))
        try:
            shown = moment.astimezone(local)
        except OverflowError:
            shown = moment  # past year 9999 in local time: labelled in UTC
        fmt = ("%Y-%m-%d" if span > 86400 * 366 else "%m-%d %H:%M" if span > 86400
               else "%H:%M:%S" if span < 600 else "%H:%M")
        ticks.append((x(moment), f"{shown.year:04d}{shown.strftime(fmt)[4:]}"
                      if fmt.startswith("%Y") else shown.strftime(fmt)))
    return Timeline(height=AXIS_H + len(steps) * LANE_H + 6, lanes=tuple(lanes),
                    bars=tuple(bars), ticks=tuple(ticks), outside=tuple(outside))
