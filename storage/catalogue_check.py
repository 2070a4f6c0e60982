"""What the catalogue's fold can read (issue 11 §2; docs/catalogue.md).

The ledger keeps every entry for ever, including entries written by an older or foreign version
that the read model cannot hold: a time with a three-digit year, a NUL character (PostgreSQL
text refuses it), a recording rule nobody knows, a field missing or of the wrong type. One such
entry must never stop the fold, or every search and page of the bureau fails with it, after
every restart; nor may it be folded in part, a malformed field turned into ``""`` or ``0``. So
the fold reads each body through its typed body (evidence/bodies: MalformedEntryError names the
kind and the field) and asks :func:`fold_problem` what the database cannot hold, and skips what
it cannot read, with a logged error; ``liuhen audit`` reports the same entries through
:meth:`SqlCatalogue.unfoldable`. The ledger itself is untouched: a skipped entry is still there,
verified and provable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import exc as sa_exc

from evidence.bodies import EntryBody, read_body
from evidence.errors import VerificationError
from evidence.records import Entry
from integrity.entry import decode_entry

log = logging.getLogger("liuhen.catalogue")


@dataclass(frozen=True, slots=True)
class Unfoldable:
    """An entry the catalogue skips, and why."""

    index: int
    kind: str
    reason: str


@dataclass(frozen=True, slots=True)
class Readable:
    """An entry the fold can read, and its typed body."""

    entry: Entry
    body: EntryBody


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
    """What of ``entry`` (a decoded ledger entry, its body well-formed) the database cannot hold,
    or None when it can hold all of it."""
    fields = {"subject": entry.subject, "actor": entry.actor, "station": entry.station,
              "body": entry.body}
    for where, value in _values(fields, "entry"):
        if isinstance(value, str) and "\x00" in value:
            return f"{where} contains a NUL character"
    return None


def readable(data: bytes) -> Readable | str:
    """The entry and its typed body, or why the fold cannot read it: it does not decode, its
    body is not one liuhen writes (MalformedEntryError), or the database cannot hold it."""
    try:
        entry = decode_entry(data)
        body = read_body(entry.kind, entry.body)
    except VerificationError as exc:  # MalformedEntryError among them
        return exc.reason
    return fold_problem(entry) or Readable(entry=entry, body=body)


def unfoldable(rows: Iterable[tuple[int, str, bytes]]) -> list[Unfoldable]:
    """The entries among ``rows`` (index, kind, bytes) that the fold skips."""
    found = []
    for index, kind, data in rows:
        read = readable(bytes(data))
        if isinstance(read, str):
            found.append(Unfoldable(index=index, kind=kind, reason=read))
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
