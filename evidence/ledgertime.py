"""Ledger times (docs/ledger-format.md §1): UTC RFC 3339 with exactly nine fractional digits and a
four-digit year, the one form of ``at`` and of every time in an entry body.

Here, not in ``integrity/``, because the typed entry bodies (evidence/bodies) write and read
their times with it; ``integrity.entry`` encodes ``at`` with the same functions.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{9})Z$", re.ASCII)


def format_time(at: datetime) -> str:
    """UTC RFC 3339 with exactly nine fractional digits, e.g. ``2026-11-24T08:57:03.123456000Z``.

    The year always has four digits (RFC 3339 §5.6 ``date-fullyear``), 0001–9999: ``strftime``
    writes year 999 as ``999``, which no reader accepts. ValueError for a naive time or one
    whose UTC form falls outside years 1–9999."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("ledger times must be timezone-aware")
    try:
        u = at.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"time {at.isoformat()} has no UTC form within years 1-9999") from exc
    return (f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:"
            f"{u.second:02d}.{u.microsecond:06d}000Z")


def parse_time(text: str) -> datetime:
    """Inverse of :func:`format_time`, for every time it can write (nanoseconds below the
    microsecond are dropped); ValueError for anything else."""
    match = _TIME.match(text)
    if match is None:
        raise ValueError(f"time {text!r} is not UTC RFC 3339 with nanoseconds")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    return datetime(year, month, day, hour, minute, second, int(match.group(7)) // 1000,
                    tzinfo=UTC)
