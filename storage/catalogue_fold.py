"""The catalogue's fold: what each ledger entry changes in the read model (docs/catalogue.md).

Each entry of a kind the catalogue folds (``PROJECTED``) is read through its typed body
(storage/catalogue_check.py, evidence/bodies); one the fold cannot read is skipped, never folded
in part. ``SqlCatalogue.catch_up`` (storage/catalogue.py) calls :func:`fold_rows` in ledger order,
within its transaction and writer lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Row

from evidence.bodies import (
    AccessedBody,
    AcquiredBody,
    CaseOfficerBody,
    CaseOpenedBody,
    CaseStepBody,
    DerivedBody,
    DisposedBody,
    EntryBody,
    LegalHoldBody,
    LinkedBody,
    MediaQuarantinedBody,
    QuarantinedBody,
    RetentionSetBody,
    StepKindDefinedBody,
    StoredBody,
    UnlinkedBody,
)
from evidence.records import Entry, EntryKind
from storage.catalogue_check import readable
from storage.catalogue_tables import (
    ACCESS,
    ACQUISITIONS,
    CASE_OFFICERS,
    CASES,
    CLIPS,
    KINDS,
    LINKS,
    STEPS,
)

_C = CLIPS.c
_L = LINKS.c

PROJECTED: frozenset[str] = frozenset({
    EntryKind.ACQUIRED, EntryKind.STORED, EntryKind.DERIVED, EntryKind.QUARANTINED,
    EntryKind.RETENTION_SET, EntryKind.LEGAL_HOLD, EntryKind.DISPOSED, EntryKind.CASE_OPENED,
    EntryKind.CASE_STEP, EntryKind.LINKED, EntryKind.UNLINKED, EntryKind.ACCESSED,
    EntryKind.STEP_KIND_DEFINED, EntryKind.CASE_OFFICER,
})
"""The entry kinds the catalogue folds; the others (checkpoints, clock, keys ...) it skips."""


def _acquired_row(index: int, e: Entry, b: AcquiredBody) -> dict[str, object]:
    return {"sha256": e.subject, "sm3": b.sm3, "size": b.size, "device": b.device,
            "officer": b.officer,
            "unit_no": b.unit_no, "name_on_device": b.name_on_device,
            "captured_at": b.capture_time or b.device_mtime, "station": e.station,
            "acquired_index": index, "acquired_at": e.at, "retention_class": "standard",
            "legal_hold": False}


_ACQUISITION_COLUMNS = ("acquired_index", "sha256", "device", "officer", "unit_no",
                        "name_on_device", "captured_at", "station", "acquired_at")


def _insert_acquired(conn: Connection, rows: list[dict[str, object]]) -> None:
    """Insert new clips in one statement; the same content acquired again (another file,
    another recorder) keeps its first row: ON CONFLICT DO NOTHING, rows in ledger order. Every
    acquisition also gets its own ``clip_acquisitions`` row (searches by 警号 and device)."""
    if not rows:
        return
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(dialect_insert(CLIPS).on_conflict_do_nothing(index_elements=["sha256"]), rows)
    conn.execute(insert(ACQUISITIONS),
                 [{k: row[k] for k in _ACQUISITION_COLUMNS} for row in rows])
    rows.clear()


def _fold_stored(conn: Connection, e: Entry, b: StoredBody) -> None:
    # The first verified version wins: a re-store never replaces it, nor shortens a retention
    # that a later retention_set lengthened.
    conn.execute(update(CLIPS).where(_C.sha256 == e.subject, _C.version_id.is_(None)).values(
        store_url=b.store, object_key=b.key, version_id=b.version_id, lock_mode=b.lock_mode,
        stored_retain_until=b.retain_until, retain_until=b.retain_until))


def _fold_derived(conn: Connection, e: Entry, b: DerivedBody) -> None:
    values: dict[str, object] = {"media_state": "derived", "duration_ms": b.duration_ms}
    for d in b.derivatives:
        if d.role not in ("playback", "proxy"):
            continue
        values[f"{d.role}_key"] = d.key
        values[f"{d.role}_version"] = d.version_id
        values[f"{d.role}_sha256"] = d.sha256
        values[f"{d.role}_sm3"] = d.sm3
        values[f"{d.role}_size"] = d.size
    action = b.plan.get("action")
    values["media_action"] = action if isinstance(action, str) else None
    values.update(_thumbs(b.thumbnails))
    conn.execute(update(CLIPS).where(_C.sha256 == e.subject).values(**values))


def _thumbs(info: Mapping[str, object] | None) -> dict[str, object]:
    """The ``thumb_*`` (the middle thumbnail) and ``strip_*`` (the keyframe strip) columns
    from a ``derived`` entry's ``thumbnails`` (ingest/derivation.py: ``stored`` lists every
    stored JPEG with its key and version; the strip is the one whose hash ``strip`` names)."""
    if not isinstance(info, Mapping) or not isinstance(info.get("stored"), list):
        return {}
    strip = info.get("strip")
    strip_sha = strip.get("sha256") if isinstance(strip, Mapping) else None
    stored = [s for s in cast(list[object], info["stored"]) if isinstance(s, Mapping)
              and all(isinstance(s.get(k), str) for k in ("key", "version_id", "sha256"))
              and isinstance(s.get("size"), int)]
    frames = [s for s in stored if s["sha256"] != strip_sha]
    values: dict[str, object] = {}
    for prefix, chosen in (("thumb", frames[len(frames) // 2] if frames else None),
                           ("strip", next((s for s in stored if s["sha256"] == strip_sha),
                                          None))):
        if chosen is not None:
            values.update({f"{prefix}_key": chosen["key"],
                           f"{prefix}_version": chosen["version_id"],
                           f"{prefix}_sha256": chosen["sha256"],
                           f"{prefix}_size": chosen["size"]})
    return values


def _fold_quarantined(conn: Connection, e: Entry,
                      b: QuarantinedBody | MediaQuarantinedBody) -> None:
    values: dict[str, object] = {"quarantine_reason": b.reason, "quarantine_step": "commit"}
    if isinstance(b, MediaQuarantinedBody):  # the media stage's verdict, not the commit's
        values["media_state"] = "quarantined"
        values["quarantine_step"] = b.step
    conn.execute(update(CLIPS).where(_C.sha256 == e.subject).values(**values))


def _fold_case(conn: Connection, index: int, e: Entry, b: CaseOpenedBody) -> None:
    if conn.execute(select(CASES.c.case_id).where(CASES.c.case_id == e.subject)).first():
        return
    conn.execute(insert(CASES).values(
        case_id=e.subject, title=b.title, unit_no=b.unit_no, major=b.major, opened_at=e.at,
        opened_by=e.actor, opened_index=index))


def _fold_step(conn: Connection, index: int, e: Entry, b: CaseStepBody) -> None:
    key = (STEPS.c.case_id == e.subject) & (STEPS.c.step_id == b.step)
    values = {"code": b.code, "started_at": b.started_at, "ended_at": b.ended_at,
              "officer": b.officer, "recorded_index": index}
    if conn.execute(select(STEPS.c.step_id).where(key)).first() is None:
        conn.execute(insert(STEPS).values(case_id=e.subject, step_id=b.step, **values))
    else:  # a later entry for the same step records its corrected window, and by whom
        conn.execute(update(STEPS).where(key).values(**values, corrected_by=e.actor,
                                                     corrected_at=e.at))


def _fold_unlinked(conn: Connection, index: int, e: Entry, b: UnlinkedBody) -> None:
    open_link = select(_L.linked_index).where(
        _L.sha256 == e.subject, _L.case_id == b.case, _L.step_id == b.step,
        _L.unlinked_index.is_(None)
    ).order_by(_L.linked_index.desc()).limit(1).scalar_subquery()
    conn.execute(update(LINKS).where(_L.linked_index == open_link).values(
        unlinked_index=index, unlinked_at=e.at, unlinked_by=e.actor))


def _fold_one(conn: Connection, index: int, e: Entry, body: EntryBody) -> None:
    """Fold one entry of a projected kind (acquired ones are inserted in bulk instead)."""
    clip = _C.sha256 == e.subject
    match body:
        case StoredBody():
            _fold_stored(conn, e, body)
        case DerivedBody():
            _fold_derived(conn, e, body)
        case QuarantinedBody() | MediaQuarantinedBody():
            _fold_quarantined(conn, e, body)
        case RetentionSetBody():
            conn.execute(update(CLIPS).where(clip).values(
                retention_class=body.retention_class, retain_until=body.retain_until))
        case LegalHoldBody():
            conn.execute(update(CLIPS).where(clip).values(legal_hold=body.on))
        case DisposedBody():
            conn.execute(update(CLIPS).where(clip).values(disposed_index=index))
        case CaseOpenedBody():
            _fold_case(conn, index, e, body)
        case CaseStepBody():
            _fold_step(conn, index, e, body)
        case LinkedBody():
            conn.execute(insert(LINKS).values(
                linked_index=index, sha256=e.subject, case_id=body.case, step_id=body.step,
                linked_at=e.at, linked_by=e.actor))
        case UnlinkedBody():
            _fold_unlinked(conn, index, e, body)
        case AccessedBody():
            conn.execute(insert(ACCESS).values(
                idx=index, sha256=e.subject, actor=e.actor, role=body.role,
                action=body.action, variant=body.variant, purpose=body.purpose, at=e.at,
                case_id=body.case))
        case StepKindDefinedBody():
            conn.execute(delete(KINDS).where(KINDS.c.code == e.subject))
            conn.execute(insert(KINDS).values(code=e.subject, name=body.name,
                                               rule=body.rule.value, defined_index=index))
        case CaseOfficerBody():
            key = (CASE_OFFICERS.c.case_id == e.subject) & (CASE_OFFICERS.c.officer == body.officer)
            conn.execute(delete(CASE_OFFICERS).where(key))
            if body.on:
                conn.execute(insert(CASE_OFFICERS).values(
                    case_id=e.subject, officer=body.officer, duty=body.duty, idx=index))
        case _:
            raise AssertionError(f"the catalogue folds no {e.kind.value} entries")


def fold_rows(conn: Connection, rows: Sequence[Row[int, bytes]]) -> list[tuple[int, str]]:
    """Fold ``rows``; returns the (index, reason) of those the catalogue cannot read."""
    skipped = []
    new_clips: list[dict[str, object]] = []
    for index, data in rows:
        read = readable(bytes(data))
        if isinstance(read, str):
            skipped.append((index, read))
            continue
        if isinstance(read.body, AcquiredBody):
            new_clips.append(_acquired_row(index, read.entry, read.body))
            continue
        _insert_acquired(conn, new_clips)  # what follows may refer to them
        _fold_one(conn, index, read.entry, read.body)
    _insert_acquired(conn, new_clips)
    return skipped
