"""The catalogue: clips, cases, links, accesses folded from the ledger (docs/catalogue.md).

The ledger is the only record of evidence; these tables are a read model for search and
reports, rebuilt from it on demand. ``catch_up`` folds every entry past the catalogue's cursor,
in index order, in one transaction that holds the catalogue's own writer lock (a PostgreSQL
advisory lock, or SQLite's ``BEGIN IMMEDIATE``), so several processes may call it at once.
Use cases append an entry and then call ``catch_up`` before they read what they wrote.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    Table,
    and_,
    any_,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Row

from evidence.errors import NotFoundError
from evidence.identity import InvalidInputError
from evidence.ids import CaseId, DeviceSerial, OfficerNo, Sha256Hex, Sm3Hex, StationId, StepCode
from evidence.records import (
    CLIP_ORDERS,
    Access,
    Case,
    CaseOfficer,
    CaseStep,
    Clip,
    ClipQuery,
    ClipScope,
    Link,
    OfficerDevice,
    StoredObject,
)
from evidence.steps import CATALOGUE, RecordingRule, StepKind
from storage.account_tables import ACCOUNTS
from storage.catalogue_check import (
    SKIPPABLE,
    Unfoldable,
    first_line,
    log_skipped,
    unfoldable,
)
from storage.catalogue_fold import PROJECTED, fold_rows
from storage.catalogue_tables import (
    ACCESS,
    ACQUISITIONS,
    CASE_OFFICERS,
    CASES,
    CLIPS,
    KINDS,
    LINKS,
    STATE,
    STEPS,
)
from storage.dberrors import translate_errors
from storage.engine import advisory_lock_key, exclusive_transaction
from storage.ledger_tables import LedgerEntryRow

_ENTRIES = cast(Table, LedgerEntryRow.__table__)
_C = CLIPS.c
_Q = ACQUISITIONS.c
_L = LINKS.c
_A = ACCESS.c

_LOCK_KEY = advisory_lock_key("liuhen/catalogue/writer")
FOLD_PAGE_ROWS = 10_000


def _utc(moment: datetime) -> datetime:
    # SQLite hands timestamps back naive; they were written in UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _opt_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else _utc(moment)


def _acquired_by(column: str, value: str) -> Select[tuple[str]]:
    """The SHA-256 of every clip with an acquisition whose ``column`` (officer or device) is
    ``value``: the clip's first acquisition or any later one."""
    return select(_Q.sha256).where(_Q[column] == value)


# --- rows to records ----------------------------------------------------------------------------

def _object(r: Row[Any], prefix: str) -> StoredObject | None:
    key, version = getattr(r, f"{prefix}_key"), getattr(r, f"{prefix}_version")
    if key is None or version is None or r.store_url is None:
        return None
    return StoredObject(store=r.store_url, key=key, version_id=version,
                        size=getattr(r, f"{prefix}_size") or 0,
                        sha256=Sha256Hex(getattr(r, f"{prefix}_sha256") or ""),
                        lock_mode=r.lock_mode or "",
                        retain_until=_utc(r.stored_retain_until or r.acquired_at))


def _clip(r: Row[Any]) -> Clip:
    original = None
    if r.version_id is not None and r.store_url is not None:
        original = StoredObject(store=r.store_url, key=r.object_key or "",
                                version_id=r.version_id, size=r.size,
                                sha256=Sha256Hex(r.sha256), lock_mode=r.lock_mode or "",
                                retain_until=_utc(r.stored_retain_until or r.acquired_at))
    return Clip(sha256=Sha256Hex(r.sha256), size=r.size, device=DeviceSerial(r.device),
                officer=OfficerNo(r.officer), unit_no=r.unit_no, name_on_device=r.name_on_device,
                captured_at=_utc(r.captured_at), station=StationId(r.station),
                acquired_index=r.acquired_index, acquired_at=_utc(r.acquired_at),
                original=original, playback=_object(r, "playback"), proxy=_object(r, "proxy"),
                media_state=r.media_state, quarantine_reason=r.quarantine_reason,
                duration_ms=r.duration_ms, retention_class=r.retention_class,
                retain_until=_opt_utc(r.retain_until), legal_hold=bool(r.legal_hold),
                disposed_index=r.disposed_index, sm3=Sm3Hex(r.sm3) if r.sm3 else None,
                media_action=r.media_action, quarantine_step=r.quarantine_step,
                thumb=_object(r, "thumb"), strip=_object(r, "strip"))


def _link(r: Row[Any]) -> Link:
    return Link(sha256=Sha256Hex(r.sha256), case_id=CaseId(r.case_id), step_id=r.step_id,
                linked_index=r.linked_index, linked_at=_utc(r.linked_at), linked_by=r.linked_by,
                unlinked_index=r.unlinked_index, unlinked_at=_opt_utc(r.unlinked_at),
                unlinked_by=r.unlinked_by)


def _access(r: Row[Any]) -> Access:
    return Access(index=r.idx, sha256=Sha256Hex(r.sha256), actor=r.actor, role=r.role,
                  action=r.action, variant=r.variant, purpose=r.purpose, at=_utc(r.at),
                  case_id=CaseId(r.case_id) if r.case_id else None)


def _step(r: Row[Any]) -> CaseStep:
    return CaseStep(case_id=CaseId(r.case_id), step_id=r.step_id, code=StepCode(r.code),
                    started_at=_opt_utc(r.started_at), ended_at=_opt_utc(r.ended_at),
                    officer=r.officer, recorded_index=r.recorded_index,
                    corrected_by=r.corrected_by, corrected_at=_opt_utc(r.corrected_at))


_ORDERS: dict[str, tuple[tuple[ColumnElement[Any], bool], ...]] = {
    # (column, descending); the SHA-256 last breaks ties, so a keyset names one position.
    "captured": ((_C.captured_at, True), (_C.sha256, False)),
    "officer": ((_C.officer, False), (_C.captured_at, True), (_C.sha256, False)),
    "device": ((_C.device, False), (_C.captured_at, True), (_C.sha256, False)),
}


def _beyond(keys: Sequence[tuple[ColumnElement[Any], bool]], values: Sequence[object], *,
            backwards: bool) -> ColumnElement[bool]:
    """The rows strictly after (``backwards``: before) ``values`` in the order ``keys``: the
    lexicographic comparison written out, as column directions may differ; with the first
    column's bound (``<=`` or ``>=``) beside it, which PostgreSQL's planner reads as where to
    start the index scan (without it, a page in the middle of 1M clips reads half of them)."""
    alternatives: list[ColumnElement[bool]] = []
    for i, (column, desc) in enumerate(keys):
        value = values[i]
        later = column < value if desc != backwards else column > value
        equal = [keys[j][0] == values[j] for j in range(i)]
        alternatives.append(and_(*equal, later))
    first, desc = keys[0]
    bound = first <= values[0] if desc != backwards else first >= values[0]
    return and_(bound, or_(*alternatives))


def in_scope(scope: ClipScope) -> ColumnElement[bool]:
    """The clips ``scope`` admits (evidence.records.ClipScope), as one SQL condition over the
    catalogue and the accounts tables (same database)."""
    account = ACCOUNTS.c
    admitted: list[ColumnElement[bool]] = [false()]
    if scope.units:
        admitted.append(_C.officer.in_(select(account.officer_no)
                                       .where(account.unit.in_(sorted(scope.units)))))
    if scope.orphan_units:
        admitted.append(_C.officer.not_in(select(account.officer_no))
                        & _C.unit_no.in_(sorted(scope.orphan_units)))
    cases = scope.cases | scope.granted_cases
    if cases:
        admitted.append(_C.sha256.in_(select(_L.sha256).where(
            _L.unlinked_index.is_(None), _L.case_id.in_(sorted(cases)))))
    if scope.granted_clips:
        admitted.append(_C.sha256.in_(sorted(scope.granted_clips)))
    return or_(*admitted)


class SqlCatalogue:
    """The catalogue tables in the ledger's database (one engine shared with the ledger)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- folding ---------------------------------------------------------------------------------

    def catch_up(self, *, page: int = FOLD_PAGE_ROWS) -> int:
        """Fold every committed entry past the cursor; returns the new cursor (a tree size).

        An entry the catalogue cannot read (it does not decode, a field of its body is missing
        or malformed, or ``fold_problem`` or the database refuses it: written by an older or
        foreign version; storage/catalogue_check.py) is skipped with a logged
        error, never folded in part: each page is folded in a savepoint, and a page that fails
        is folded again entry by entry, each in its own. The entry stays in the ledger, and
        ``liuhen audit`` lists it (:meth:`unfoldable`). Errors of the database itself (down,
        locked) still propagate: nothing is skipped because the database was unavailable."""
        with translate_errors("update the catalogue"), self._engine.connect() as conn, \
                exclusive_transaction(conn, pg_lock_key=_LOCK_KEY):
            applied: int = conn.execute(select(STATE.c.applied)
                                        .where(STATE.c.id == 1)).scalar_one()
            last = conn.execute(select(_ENTRIES.c.idx).order_by(_ENTRIES.c.idx.desc())
                                .limit(1)).scalar()
            stop = 0 if last is None else last + 1  # entries committed later wait for next time
            cursor = applied
            while cursor < stop:
                rows = conn.execute(
                    select(_ENTRIES.c.idx, _ENTRIES.c.data)
                    .where(_ENTRIES.c.idx >= cursor, _ENTRIES.c.idx < stop,
                           _ENTRIES.c.kind.in_(sorted(PROJECTED)))
                    .order_by(_ENTRIES.c.idx).limit(page)).all()
                try:
                    with conn.begin_nested():
                        skipped = fold_rows(conn, rows)
                except SKIPPABLE:
                    skipped = []
                    for row in rows:  # again one by one: skip only what cannot be folded
                        try:
                            with conn.begin_nested():
                                skipped += fold_rows(conn, [row])
                        except SKIPPABLE as exc:
                            skipped.append((row[0], f"the database refused it: "
                                                    f"{first_line(exc)}"))
                for index, reason in skipped:
                    log_skipped(index, reason)
                if len(rows) < page:
                    break
                cursor = rows[-1].idx + 1
            if stop > applied:
                conn.execute(update(STATE).where(STATE.c.id == 1).values(applied=stop))
        return max(stop, applied)

    def unfoldable(self) -> list[Unfoldable]:
        """Every entry of a projected kind that the fold skips (see :meth:`catch_up`), in
        ledger order: read from the ledger itself, not from the catalogue."""
        with translate_errors("check the ledger against the catalogue"), \
                self._engine.connect() as conn:
            return unfoldable(conn.execute(
                select(_ENTRIES.c.idx, _ENTRIES.c.kind, _ENTRIES.c.data)
                .where(_ENTRIES.c.kind.in_(sorted(PROJECTED))).order_by(_ENTRIES.c.idx)))

    # --- reads ----------------------------------------------------------------------------------

    def _all(self, action: str, query: Any) -> Sequence[Row[Any]]:
        with translate_errors(action), self._engine.connect() as conn:
            return conn.execute(query).all()

    def clip(self, sha256: str) -> Clip:
        rows = self._all("read a clip", select(CLIPS).where(_C.sha256 == sha256))
        if not rows:
            raise NotFoundError(f"未找到视频 {sha256} (no clip with SHA-256 {sha256})")
        return _clip(rows[0])

    def sha256_of_sm3(self, sm3: str) -> Sha256Hex | None:
        """The SHA-256 of the clip whose original has this SM3 (indexed), None when no clip
        does: SM3 and SHA-256 digests have the same 64-hex shape, so a lookup by "a digest"
        tries SHA-256 first, then this."""
        rows = self._all("look a clip up by SM3", select(_C.sha256).where(_C.sm3 == sm3).limit(1))
        return Sha256Hex(rows[0].sha256) if rows else None

    def _clip_filters(self, query: ClipQuery) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if query.officer:
            where.append(self._among(_acquired_by("officer", query.officer)))
        if query.device:
            where.append(self._among(_acquired_by("device", query.device)))
        # SQLite keeps UTC wall time without an offset: compare in UTC whatever zone was given.
        if query.start:
            where.append(_C.captured_at >= _utc(query.start))
        if query.end:
            where.append(_C.captured_at < _utc(query.end))
        if query.case_id or query.step_id:
            linked = select(_L.sha256).where(_L.unlinked_index.is_(None))
            if query.case_id:
                linked = linked.where(_L.case_id == query.case_id)
            if query.step_id:
                linked = linked.where(_L.step_id == query.step_id)
            where.append(_C.sha256.in_(linked))
        for scope in (query.scope, query.within):
            if scope is not None and not scope.everything:
                where.append(in_scope(scope))
        return where

    def _among(self, sha256s: Select[tuple[str]]) -> ColumnElement[bool]:
        """The clip is one of ``sha256s``. On PostgreSQL as ``= ANY(ARRAY(subquery))``: the
        subquery is run first and the clips found by primary key, where ``IN (subquery)``
        lets the planner walk the capture-time index of every clip instead (a 警号's first
        page at 1M clips: 50 ms against 450 ms)."""
        if self._engine.dialect.name == "postgresql":
            return _C.sha256 == any_(func.array(sha256s.scalar_subquery()))
        return _C.sha256.in_(sha256s)

    def clips(self, query: ClipQuery) -> list[Clip]:
        """Clips matching every filter of ``query``, in ``query.order`` (newest capture first
        within an officer or a device), a page of ``limit`` after or before a clip (keyset
        pagination: the sort columns have indexes, migration 0010)."""
        where = self._clip_filters(query)
        keys = _ORDERS.get(query.order)
        if keys is None:
            raise InvalidInputError(f"排序方式 {query.order[:20]!r} 无效 (unknown order; one "
                                    f"of {', '.join(CLIP_ORDERS)})")
        backwards = query.before is not None
        cursor = query.before if backwards else query.after
        if cursor is not None:
            rows = self._all("read a clip", select(*(c for c, _ in keys))
                             .where(_C.sha256 == cursor))
            if not rows:
                raise NotFoundError(f"翻页位置 {cursor[:64]!r} 不是已知视频 (the page cursor "
                                    "is no known clip)")
            where.append(_beyond(keys, tuple(rows[0]), backwards=backwards))
        order = [(c.desc() if desc != backwards else c.asc()) for c, desc in keys]
        stmt = select(CLIPS).where(*where).order_by(*order).limit(query.limit)
        if cursor is None:
            stmt = stmt.offset(query.offset)
        found = [_clip(r) for r in self._all("search clips", stmt)]
        return found[::-1] if backwards else found

    def officer_devices(self, officer_no: str) -> list[OfficerDevice]:
        """The recorders ``officer_no``'s acquisitions came from, the last docked first."""
        last = func.max(_Q.acquired_at)
        stmt = (select(_Q.device, func.count().label("n"), last.label("last"))
                .where(_Q.officer == officer_no).group_by(_Q.device).order_by(last.desc()))
        return [OfficerDevice(device=r.device, clips=int(r.n), last_docked=_utc(r.last))
                for r in self._all("read an officer's recorders", stmt)]

    def captured_since(self, officer_no: str, since: datetime) -> list[datetime]:
        """Capture times of ``officer_no``'s clips from ``since`` on (recordings per day)."""
        stmt = (select(_C.captured_at)
                .where(_C.sha256.in_(_acquired_by("officer", officer_no)),
                       _C.captured_at >= _utc(since)))
        return [_utc(r.captured_at) for r in self._all("read capture times", stmt)]

    def count_clips(self, query: ClipQuery) -> int:
        """How many clips match the filters of ``query`` (its order and page ignored)."""
        stmt = select(func.count()).select_from(CLIPS).where(*self._clip_filters(query))
        return int(self._all("count clips", stmt)[0][0])

    def _cases(self, query: Any) -> list[Case]:
        """The cases ``query`` selects, in its order, with their steps: two queries in all."""
        rows = self._all("read cases", query)
        ids = [r.case_id for r in rows]
        steps: dict[str, list[CaseStep]] = {case_id: [] for case_id in ids}
        for s in self._all("read case steps", select(STEPS).where(STEPS.c.case_id.in_(ids))
                           .order_by(STEPS.c.recorded_index)):
            steps[s.case_id].append(_step(s))
        officers: dict[str, list[CaseOfficer]] = {case_id: [] for case_id in ids}
        for o in self._all("read case officers", select(CASE_OFFICERS).where(
                CASE_OFFICERS.c.case_id.in_(ids)).order_by(CASE_OFFICERS.c.idx)):
            officers[o.case_id].append(CaseOfficer(officer=o.officer, duty=o.duty, index=o.idx))
        return [Case(case_id=CaseId(r.case_id), title=r.title, unit_no=r.unit_no,
                     major=bool(r.major), opened_at=_utc(r.opened_at), opened_by=r.opened_by,
                     steps=tuple(steps[r.case_id]), officers=tuple(officers[r.case_id]))
                for r in rows]

    def case(self, case_id: str) -> Case:
        found = self._cases(select(CASES).where(CASES.c.case_id == case_id))
        if not found:
            raise NotFoundError(f"未找到案件 {case_id!r} (no case {case_id!r})")
        return found[0]

    def case_ids(self) -> list[str]:
        """Every case number, in the order the cases were opened (for look-alike checks: one
        short text column, read whole; fine up to some hundred thousand cases)."""
        stmt = select(CASES.c.case_id).order_by(CASES.c.opened_index)
        return [r.case_id for r in self._all("read case ids", stmt)]

    def cases_of(self, officer_no: str) -> list[str]:
        """The cases ``officer_no`` works on (主办 or 协办)."""
        stmt = (select(CASE_OFFICERS.c.case_id).where(CASE_OFFICERS.c.officer == officer_no)
                .order_by(CASE_OFFICERS.c.case_id))
        return [r.case_id for r in self._all("read an officer's cases", stmt)]

    def cases(self, *, limit: int = 100, offset: int = 0, after: str | None = None,
              before: str | None = None) -> list[Case]:
        """Cases, the newest opened first; a page after (or just before) the case numbered
        ``after`` (``before``) in that order: keyset pagination on the opening's index."""
        stmt = select(CASES)
        cursor = before if before is not None else after
        if cursor is None:
            return self._cases(stmt.order_by(CASES.c.opened_index.desc())
                               .limit(limit).offset(offset))
        rows = self._all("read a case", select(CASES.c.opened_index)
                         .where(CASES.c.case_id == cursor))
        if not rows:
            raise NotFoundError(f"未找到案件 {cursor[:100]!r} (no case {cursor[:100]!r})")
        at = rows[0].opened_index
        if before is not None:
            return self._cases(stmt.where(CASES.c.opened_index > at)
                               .order_by(CASES.c.opened_index.asc()).limit(limit))[::-1]
        return self._cases(stmt.where(CASES.c.opened_index < at)
                           .order_by(CASES.c.opened_index.desc()).limit(limit))

    def count_cases(self) -> int:
        return int(self._all("count cases", select(func.count()).select_from(CASES))[0][0])

    def links(self, *, sha256: str | None = None, case_id: str | None = None,
              current_only: bool = False) -> list[Link]:
        """Links of a clip or of a case, in ledger order; ``current_only`` drops unlinked ones."""
        stmt = select(LINKS).order_by(_L.linked_index)
        if sha256 is not None:
            stmt = stmt.where(_L.sha256 == sha256)
        if case_id is not None:
            stmt = stmt.where(_L.case_id == case_id)
        if current_only:
            stmt = stmt.where(_L.unlinked_index.is_(None))
        return [_link(r) for r in self._all("read links", stmt)]

    def accesses(self, *, sha256: str | None = None, actor: str | None = None,
                 case_id: str | None = None, officer: str | None = None,
                 limit: int = 500) -> list[Access]:
        """The access log (调阅记录), newest first: of a clip, by an actor, within a case (views
        of clips linked to it, whatever purpose was named), or of an officer's clips."""
        stmt = select(ACCESS).order_by(_A.idx.desc()).limit(limit)
        if sha256 is not None:
            stmt = stmt.where(_A.sha256 == sha256)
        if actor is not None:
            stmt = stmt.where(_A.actor == actor)
        if case_id is not None:
            stmt = stmt.where((_A.case_id == case_id)
                              | _A.sha256.in_(select(_L.sha256).where(_L.case_id == case_id)))
        if officer is not None:
            stmt = stmt.where(_A.sha256.in_(_acquired_by("officer", officer)))
        return [_access(r) for r in self._all("read the access log", stmt)]

    def accesses_between(self, start: datetime, end: datetime) -> list[Access]:
        """Every access with start <= time < end, in ledger order (supervision alerts)."""
        stmt = (select(ACCESS).where((_A.at >= _utc(start)) & (_A.at < _utc(end)))
                .order_by(_A.idx))
        return [_access(r) for r in self._all("read the access log", stmt)]

    def clips_acquired_between(self, start: datetime, end: datetime, *,
                               devices: Collection[str] | None = None) -> list[Clip]:
        """Every clip acquired with start <= time < end (only from ``devices`` when given), in
        ledger order (alerts, statistics)."""
        stmt = (select(CLIPS).where((_C.acquired_at >= _utc(start)) & (_C.acquired_at < _utc(end)))
                .order_by(_C.acquired_index))
        if devices is not None:
            stmt = stmt.where(_C.device.in_(sorted(set(devices))))
        return [_clip(r) for r in self._all("read clips", stmt)]

    def clips_captured_between(self, start: datetime, end: datetime) -> list[Clip]:
        """Every clip captured with start <= time < end, in ledger order (statistics)."""
        stmt = (select(CLIPS).where((_C.captured_at >= _utc(start)) & (_C.captured_at < _utc(end)))
                .order_by(_C.acquired_index))
        return [_clip(r) for r in self._all("read clips", stmt)]

    def clips_of(self, sha256s: Collection[str]) -> list[Clip]:
        """The clips of these SHA-256s that exist (any order; read in chunks of 500)."""
        wanted = sorted(set(sha256s))
        found: list[Clip] = []
        for i in range(0, len(wanted), 500):
            stmt = select(CLIPS).where(_C.sha256.in_(wanted[i:i + 500]))
            found += [_clip(r) for r in self._all("read clips", stmt)]
        return found

    def held(self) -> list[Clip]:
        """Clips under a legal hold, in acquisition order (the admin pages)."""
        stmt = select(CLIPS).where(_C.legal_hold.is_(True)).order_by(_C.acquired_index)
        return [_clip(r) for r in self._all("read clips", stmt)]

    def step_kinds(self) -> list[StepKind]:
        """The built-in 执法环节 catalogue followed by the bureau's own (which may override)."""
        own = {r.code: StepKind(StepCode(r.code), r.name, RecordingRule(r.rule))
               for r in self._all("read step kinds", select(KINDS).order_by(KINDS.c.code))}
        merged = [own.pop(k.code, k) for k in CATALOGUE]
        return merged + list(own.values())

    def step_kind(self, code: str) -> StepKind:
        for kind in self.step_kinds():
            if kind.code == code:
                return kind
        raise NotFoundError(f"no 执法环节 with code {code!r}")

    def all_clips(self) -> list[Clip]:
        """Every clip in acquisition order: for the scheduled jobs and reports."""
        stmt = select(CLIPS).order_by(_C.acquired_index)
        return [_clip(r) for r in self._all("read clips", stmt)]

    def retention_due(self, *, permanent: Collection[str], renew_before: datetime,
                      after: int = -1, limit: int = 1000) -> list[Clip]:
        """Clips (not disposed, stored) the retention job must act on, in acquisition order
        from acquisition index ``after`` on (exclusive; for paging): those with a current case
        link whose class is not one of ``permanent``, and those in a ``permanent`` class whose
        retain-until falls before ``renew_before``."""
        linked = select(_L.sha256).where(_L.unlinked_index.is_(None))
        renew_before = _utc(renew_before)
        stmt = (select(CLIPS)
                .where(_C.acquired_index > after, _C.disposed_index.is_(None),
                       _C.version_id.is_not(None),
                       (_C.sha256.in_(linked) & _C.retention_class.not_in(sorted(permanent)))
                       | (_C.retention_class.in_(sorted(permanent))
                          & (_C.retain_until.is_(None) | (_C.retain_until < renew_before))))
                .order_by(_C.acquired_index).limit(limit))
        return [_clip(r) for r in self._all("read clips due for retention", stmt)]

    def disposal_due(self, now: datetime, *, after: int = -1, limit: int = 1000) -> list[Clip]:
        """Clips whose retain-until has passed at ``now``, not disposed, without a legal hold
        and without a current case link, in acquisition order from index ``after`` on
        (exclusive). Whether the class allows disposal is the policy's decision
        (jobs/disposal.py), not the catalogue's."""
        linked = select(_L.sha256).where(_L.unlinked_index.is_(None))
        now = _utc(now)
        stmt = (select(CLIPS)
                .where(_C.acquired_index > after, _C.disposed_index.is_(None),
                       _C.retain_until.is_not(None),
                       _C.retain_until <= now, _C.legal_hold.is_(False),
                       _C.sha256.not_in(linked))
                .order_by(_C.acquired_index).limit(limit))
        return [_clip(r) for r in self._all("read clips due for disposal", stmt)]
