"""Daily windows of local time, ``HH:MM-HH:MM`` (docs/station.md §Sync: the upload windows,
``LIUHEN_SYNC_WINDOWS``; docs/supervision.md: the off-hours of the alerts).

A window is [start, end) in the zone it is read in; one whose start is after its end wraps
midnight (``22:00-06:00``), and ``00:00-00:00`` is the whole day. Pure: the caller hands in
the time and the zone (``zoneinfo.ZoneInfo`` read at the edge). Times are wall-clock: in a zone
with daylight saving a window boundary inside a skipped or repeated hour is taken as the
wall clock shows it; the default zone, Asia/Shanghai, has had no DST since 1991.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from evidence.identity import InvalidInputError

MAX_WINDOWS = 24  # a day has no use for more; bounds what a setting can make us loop over
_HHMM = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")


@dataclass(frozen=True, slots=True)
class Window:
    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return True  # 00:00-00:00: all day
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def parse_window(text: str, *, what: str = "时段") -> Window:
    """``22:00-06:00`` as a window; InvalidInputError naming ``what`` otherwise."""
    parts = [part.strip() for part in text.split("-")]
    if len(parts) != 2 or not all(_HHMM.fullmatch(p) for p in parts):
        raise InvalidInputError(f"{what} {text[:40]!r} 格式不对：如 22:00-06:00（24 小时制） "
                                "(give HH:MM-HH:MM)")
    return Window(time.fromisoformat(parts[0]), time.fromisoformat(parts[1]))


def parse_windows(spec: str, *, what: str = "上传时段") -> tuple[Window, ...]:
    """``22:00-06:00,12:00-13:00``: windows separated by commas; an empty spec is refused (the
    caller treats an unset setting as "always")."""
    items = [item for item in (part.strip() for part in spec.split(",")) if item]
    if not items:
        raise InvalidInputError(f"{what} 为空：如 22:00-06:00,12:00-13:00 (no window given)")
    if len(items) > MAX_WINDOWS:
        raise InvalidInputError(f"{what} 最多 {MAX_WINDOWS} 段 (at most {MAX_WINDOWS} windows)")
    return tuple(parse_window(item, what=what) for item in items)


def in_windows(windows: tuple[Window, ...], now: datetime, tz: tzinfo) -> bool:
    """Whether the aware ``now`` falls in one of ``windows`` (read in ``tz``)."""
    local = now.astimezone(tz).time().replace(tzinfo=None)
    return any(w.contains(local) for w in windows)


def next_window_start(windows: tuple[Window, ...], now: datetime, tz: tzinfo) -> datetime:
    """When the next window opens after ``now`` (aware, in ``tz``); ``now`` itself when it is
    already inside one."""
    if in_windows(windows, now, tz):
        return now.astimezone(tz)
    local = now.astimezone(tz)
    starts = [datetime.combine(local.date() + timedelta(days=d), w.start, tzinfo=tz)
              for d in (0, 1) for w in windows]
    return min(s for s in starts if s > local)


@dataclass(frozen=True, slots=True)
class Schedule:
    """Upload windows as configured (``LIUHEN_SYNC_WINDOWS`` read in ``LIUHEN_SYNC_TZ``)."""

    windows: tuple[Window, ...]
    tz: tzinfo
    spec: str

    def opens(self, now: datetime) -> datetime:
        """When uploads may next run: ``now`` inside a window, else the next start."""
        return next_window_start(self.windows, now, self.tz)

    def wait_s(self, now: datetime) -> float:
        """Seconds until uploads may run (0 inside a window)."""
        return max(0.0, (self.opens(now) - now).total_seconds())
