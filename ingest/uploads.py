"""The upload half of the station's pipeline: committed → stored → verified (DESIGN.md §3 steps
5-6), from a dock or from the persistent upload queue that takes over files a store outage left
behind. Staging files are named by the station's row id, never by a device's file name."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from evidence.bodies import StoredBody
from evidence.errors import (
    ConflictError,
    NotFoundError,
    PolicyViolationError,
    UnavailableError,
    VerificationError,
)
from evidence.ids import Sha256Hex
from evidence.records import FileRow, FileState, StoredObject
from ingest.context import IngestContext, display_name, record_once, sha_of


def staged_path(ctx: IngestContext, row: FileRow) -> Path:
    return ctx.staging / f"{row.id}.orig"


def store_and_verify(ctx: IngestContext, row: FileRow, *,
                     recopy: Callable[[FileRow], Sha256Hex] | None) -> FileRow:
    """committed → stored → verified (DESIGN.md §3 steps 5-6), from wherever the row stands.

    ``recopy`` reads the file from the recorder into staging again when staging was lost after
    the commit; without a docked recorder (the upload queue) such a row waits for the next dock.
    """
    if row.state is FileState.COMMITTED:
        row = _store(ctx, row, recopy)
    if row.state is FileState.STORED:
        row = _verify(ctx, row)
    return row


def _store(ctx: IngestContext, row: FileRow,
           recopy: Callable[[FileRow], Sha256Hex] | None) -> FileRow:
    sha = sha_of(row)
    staged = staged_path(ctx, row)
    if not staged.exists():
        # Staging was lost after the commit (disk replaced, cleaned): read the device again;
        # it still holds the file, since nothing is released before verification.
        if recopy is None:
            raise NotFoundError(f"{row.path}: staging copy lost; re-dock {row.serial} to re-read")
        if recopy(row) != sha:
            raise VerificationError(f"{row.path} on {row.serial} no longer has the content "
                                    f"that was ledgered ({sha})", step="acquire")
    retain = ctx.clock() + timedelta(days=ctx.policy.retention_days)
    obj = ctx.blobs.put(f"originals/{sha[:2]}/{sha}", staged, sha256=sha, size=row.size,
                        retain_until=retain)
    return ctx.repo.save(dataclasses.replace(row, state=FileState.STORED, object=obj))


def _verify(ctx: IngestContext, row: FileRow) -> FileRow:
    if row.object is None:
        raise ConflictError(f"{row.path}: stored without an object (corrupt ingest row)")
    obj: StoredObject = ctx.blobs.verify(row.object, rehash=True)
    name, name_hex = display_name(row)
    index = record_once(ctx, StoredBody(
        device=row.serial, name_on_device=name, name_bytes_hex=name_hex, store=obj.store,
        key=obj.key, version_id=obj.version_id, size=obj.size, lock_mode=obj.lock_mode,
        retain_until=obj.retain_until, sm3=row.sm3), sha_of(row),
        match=("device", "name_on_device", "name_bytes_hex", "store", "key", "version_id"),
        actor=str(ctx.station))
    row = ctx.repo.save(dataclasses.replace(row, state=FileState.VERIFIED, object=obj,
                                            stored_index=index, last_error=None))
    staged_path(ctx, row).unlink(missing_ok=True)
    return row


def drain_uploads(ctx: IngestContext, *, skip_serials: frozenset[str] = frozenset()
                  ) -> tuple[int, int]:
    """The persistent upload queue: take rows left at committed/stored by an outage to verified.

    Returns (verified now, still waiting). Stops at the first UnavailableError (the store is
    still down; the caller backs off). Rows of recorders being docked are left to their dock.
    """
    done = 0
    waiting = [r for r in ctx.repo.waiting_for_storage() if r.serial not in skip_serials]
    for n, row in enumerate(waiting):
        try:
            store_and_verify(ctx, row, recopy=None)
        except UnavailableError as exc:
            ctx.repo.note_error(row.id, str(exc))
            return done, len(waiting) - n
        except (ConflictError, NotFoundError, PolicyViolationError, VerificationError) as exc:
            ctx.repo.note_error(row.id, str(exc))
            continue
        done += 1
    return done, len(waiting) - done
