"""The range of times the bureau's edges accept (issue 11 §2).

A time a person or a client gives (a step's window, a search bound) is evidence about the real
world: it lies between the bureau's first and last plausible years, 2000–2100 by default
(``LIUHEN_EARLIEST_YEAR``, ``LIUHEN_LATEST_YEAR``). Anything outside is a typo or an attack (year
999, year 9999, ``0001-01-01T00:00:00+14:00``, which is not even representable in UTC) and is
refused with 422 before it reaches the ledger, which keeps it for ever.

Pure: no clock is read; the caller hands in the time and the bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from evidence.identity import InvalidInputError


@dataclass(frozen=True, slots=True)
class YearRange:
    """Accepted times lie in ``[earliest-01-01T00:00Z, (latest+1)-01-01T00:00Z)``."""

    earliest: int = 2000
    latest: int = 2100

    def __post_init__(self) -> None:
        if not 1 < self.earliest <= self.latest < 9999:  # a day of margin for any UTC offset
            raise ValueError(f"year range {self.earliest}–{self.latest} must lie within "
                             "2–9998 with earliest ≤ latest")

    def check(self, what: str, moment: datetime) -> datetime:
        """``moment`` in UTC, or InvalidInputError when it has no timezone or lies outside."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise InvalidInputError(f"{what} 没有时区：请写明，例如 +08:00 或 Z "
                                    f"({what} has no timezone: give one, e.g. +08:00 or Z)")
        # The local year first: converting year 1 or 9999 to UTC may not be representable.
        if not self.earliest <= moment.year <= self.latest \
                or not self.earliest <= moment.astimezone(UTC).year <= self.latest:
            raise InvalidInputError(
                f"{what} {moment.isoformat()} 不在本局接受的时间范围内（{self.earliest}–"
                f"{self.latest} 年，UTC）({what} must lie within the years {self.earliest}–"
                f"{self.latest})")
        return moment.astimezone(UTC)

    def check_optional(self, what: str, moment: datetime | None) -> datetime | None:
        return None if moment is None else self.check(what, moment)
