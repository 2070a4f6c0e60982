"""What the catalogue's fold can read (issue 11 §2; docs/catalogue.md).

The ledger keeps every entry for ever, including entries written by an older or foreign version
that the read model cannot hold: a time with a three-digit year, a NUL character (PostgreSQL
text refuses it), a recording rule nobody knows. One such entry must
never stop the fold, or every search and page of the bureau fails with it, after every restart.
So the fold asks :func:`fold_problem` first and skips what it cannot read, with a logged error;
``liuhen audit`` reports the same entries through :meth:`SqlCatalogue.unfoldable`. The ledger
itself is untouched: a skipped entry is still there, verified and provable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import exc as sa_exc

from evidence.errors import VerificationError
from evidence.ledgertime import parse_time
from evidence.records import Entry, EntryKind
from evidence.steps import RecordingRule
from integrity.entry import decode_entry

log = logging.getLogger("liuhen.catalogue")

TIME_FIELDS = ("device_mtime", "capture_time", "retain_until", "started_at", "ended_at")
"""Body fields the fold reads as ledger times (docs/ledger-format.md)."""
_RULES = frozenset(r.value for r in RecordingRule)


@dataclass(frozen=True, slots=True)
class Unfoldable:
    """An entry the catalogue skips, and why."""

    index: int
    kind: str
    reason: str


def _values(value: object, where: str) -> Iterator[tuple[str, object]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _values(item, f"{where}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _values(item, f"{where}[{n}]")
    else:
        yield where, value


def fold_problem(entry: Entry) -> str | None:
    """Why the catalogue cannot fold ``entry`` (a decoded ledger entry), or None when it can."""
    fields = {"subject": entry.subject, "actor": entry.actor, "station": entry.station,
              "body": entry.body}
    for where, value in _values(fields, "entry"):
        if isinstance(value, str) and "\x00" in value:
            return f"{where} contains a NUL character"
    for key in TIME_FIELDS:
        value = entry.body.get(key)
        if isinstance(value, str):
            try:
                parse_time(value)
            except ValueError as exc:
                return f"body.{key}: {exc}"
    if entry.kind is EntryKind.CASE_STEP and not isinstance(entry.body.get("officer"),
                                                            str | None):
        return "body.officer is neither text nor null"
    if entry.kind is EntryKind.STEP_KIND_DEFINED and entry.body.get("rule") not in _RULES:
        return f"body.rule is not one of {', '.join(sorted(_RULES))}"
    return None


def readable(data: bytes) -> tuple[Entry | None, str | None]:
    """The decoded entry (None when it does not decode) and why the fold cannot read it (None
    when it can)."""
    try:
        entry = decode_entry(data)
    except VerificationError as exc:
        return None, exc.reason
    return entry, fold_problem(entry)


def unfoldable(rows: Iterable[tuple[int, str, bytes]]) -> list[Unfoldable]:
    """The entries among ``rows`` (index, kind, bytes) that the fold skips."""
    found = []
    for index, kind, data in rows:
        entry, problem = readable(bytes(data))
        if entry is None or problem is not None:
            found.append(Unfoldable(index=index, kind=kind, reason=problem or ""))
    return found


def log_skipped(index: int, reason: str) -> None:
    log.error("catalogue: ledger entry %d skipped, the read model cannot hold it (%s); it stays "
              "in the ledger, and `liuhen audit` lists it", index, reason)


def first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


SKIPPABLE = (ValueError, TypeError, OverflowError, sa_exc.DataError, sa_exc.IntegrityError)
"""What a value of one entry can make the fold raise. Not OperationalError and the like: an
unavailable database must stop the fold, never skip entries."""
