"""Simulated time: a recorder's drifting RTC and the hand-moved true time tests give it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta


class DriftingClock:
    """A recorder's RTC: ``base() + offset``, drifting ``drift_ppm`` since it was last set."""

    def __init__(
        self,
        base: Callable[[], datetime],
        *,
        offset: timedelta = timedelta(),
        drift_ppm: float = 0.0,
    ) -> None:
        self._base = base
        self._offset = offset
        self._drift = drift_ppm
        self._set_at = base()

    def now(self) -> datetime:
        true_now = self._base()
        drift = (true_now - self._set_at) * (self._drift / 1e6)
        return true_now + self._offset + drift

    def set(self, moment: datetime) -> None:
        self._set_at = self._base()
        self._offset = moment - self._set_at


def fixed_clock(moment: datetime) -> Callable[[], datetime]:
    """A base clock standing still at ``moment`` (tests move it with ``ManualClock``)."""
    return lambda: moment


class ManualClock:
    """The true time, advanced by hand."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta
