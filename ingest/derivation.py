"""The media stage (DESIGN.md §3 step 4): playback copies and thumbnails of verified originals.

It runs in its own queue after the original is stored and verified, so copying from recorders
never waits on encoding and an original is never held back by its derivative. Per content
(SHA-256): read the stored original back by version, probe it, choose the plan, derive, prove a
remux lossless, make thumbnails, store every derivative write-once, and append one ``derived``
entry naming the original as parent with the probe, the ffmpeg argv and version. Media that
ffprobe or ffmpeg rejects gets a ``quarantined`` entry with their own reason; the original stays
stored and ledgered as received.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from evidence.errors import VerificationError
from evidence.ids import Sha256Hex
from evidence.records import EntryKind, FileRow, StoredObject
from ingest.media import (
    Action,
    FfmpegTools,
    MediaPolicy,
    ProgressFn,
    Thumbnails,
    derive,
    ffmpeg_version,
    photo_thumbnail,
    plan,
    probe,
    thumbnails,
    verify_remux_lossless,
)
from ingest.ports import Progress
from ingest.station import IngestContext, record_once

COPY_BYTES = 1 << 20


@dataclass
class MediaRun:
    derived: int = 0
    quarantined: int = 0
    skipped: int = 0


def _fetch(ctx: IngestContext, obj: StoredObject, into: Path) -> Path:
    """The original read back by its exact version (staging is gone once it was verified)."""
    path = into / f"{obj.sha256}.orig"
    with ctx.blobs.open(obj) as src, path.open("wb") as out:
        shutil.copyfileobj(src, out, COPY_BYTES)
    return path


def _store(ctx: IngestContext, parent: str, path: Path, sha256: str, size: int
           ) -> dict[str, object]:
    retain = ctx.clock() + timedelta(days=ctx.policy.retention_days)
    # Keyed by the derivative's own hash: a re-run after a crash that encodes different bytes
    # stores a second object beside the first instead of colliding with it.
    obj = ctx.blobs.put(f"derived/{parent[:2]}/{parent}/{sha256}{path.suffix}", path,
                        sha256=Sha256Hex(sha256), size=size, retain_until=retain)
    obj = ctx.blobs.verify(obj, rehash=True)
    return {"key": obj.key, "version_id": obj.version_id}


def _derive_one(ctx: IngestContext, row: FileRow, *, tools: FfmpegTools, policy: MediaPolicy,
                workdir: Path, progress: Progress | None) -> str:
    sha = row.sha256
    if sha is None or row.object is None:
        return "skipped"
    if row.size == 0:
        return "skipped"  # quarantined at commit: nothing to probe
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        work = Path(tmp)
        src = _fetch(ctx, row.object, work)
        try:
            facts = probe(src, ffprobe=tools.require_ffprobe())
            chosen = plan(facts, policy=policy)
            derivatives: list[dict[str, object]] = []
            streamhash: dict[str, str] = {}
            if chosen.action is Action.KEEP:
                thumbs: Thumbnails | None = photo_thumbnail(src, work, parent=sha)
            else:
                total_ms = facts.duration_ms or 0
                action = chosen.action.value
                report: ProgressFn | None = None if progress is None else (
                    lambda ms: progress.media(sha, action, done_ms=ms, total_ms=total_ms))
                copy = derive(src, work, chosen, parent=sha, ffmpeg=tools.ffmpeg,
                              progress=report)
                if chosen.copied:
                    streamhash = verify_remux_lossless(src, copy.path, kinds=chosen.copied,
                                                       ffmpeg=tools.ffmpeg)
                derivatives.append({**copy.to_dict(),
                                    **_store(ctx, sha, copy.path, copy.sha256, copy.size)})
                thumbs = (None if chosen.action is Action.AUDIO else
                          thumbnails(src, work, parent=sha, duration_ms=facts.duration_ms))
        except VerificationError as exc:
            record_once(ctx, EntryKind.QUARANTINED, sha, {"step": exc.step or "probe"},
                        {"reason": exc.reason}, actor=str(ctx.station))
            return "quarantined"
        thumb_info: dict[str, object] | None = None
        if thumbs is not None:
            stored = [{**t.to_dict(), **_store(ctx, sha, t.path, t.sha256, t.size)}
                      for t in (*thumbs.frames, *([thumbs.strip] if thumbs.strip else []))]
            thumb_info = {**thumbs.to_dict(), "stored": stored}
        record_once(ctx, EntryKind.DERIVED, sha, {"parent": sha}, {
            "probe": facts.to_dict(), "plan": chosen.to_dict(),
            "ffmpeg_version": ffmpeg_version(tools.ffmpeg), "derivatives": derivatives,
            "streamhash": streamhash, "thumbnails": thumb_info}, actor=str(ctx.station))
        return "derived"


def derive_pending(ctx: IngestContext, *, tools: FfmpegTools, policy: MediaPolicy,
                   workdir: Path, progress: Progress | None = None) -> MediaRun:
    """Take every verified original not yet through the media stage through it, once per
    content. Stops at the first UnavailableError (store or ffmpeg unavailable: retry later)."""
    run = MediaRun()
    workdir.mkdir(parents=True, exist_ok=True)
    done: set[str] = set()
    for row in ctx.repo.media_pending():
        if row.sha256 is None or row.sha256 in done:
            continue
        outcome = _derive_one(ctx, row, tools=tools, policy=policy, workdir=workdir,
                              progress=progress)
        done.add(row.sha256)
        ctx.repo.set_media(row.sha256, outcome, None)
        if outcome == "derived":
            run.derived += 1
        elif outcome == "quarantined":
            run.quarantined += 1
        else:
            run.skipped += 1
    return run
