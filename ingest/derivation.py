"""The media stage (DESIGN.md §3 step 4): playback copies and thumbnails of verified originals.

It runs in its own queue after the original is stored and verified, so copying from recorders
never waits on encoding and an original is never held back by its derivative. Per content
(SHA-256): read the stored original back by version, probe it, choose the plan, derive, prove a
remux lossless, make the ≤ 720p proxy when the policy asks for one, make thumbnails, store every
derivative write-once, and append one ``derived`` entry naming the original as parent with the
probe, the ffmpeg argv and version, and each derivative's ``role`` (``playback``, ``proxy``).
Media that ffprobe or ffmpeg rejects gets a ``quarantined`` entry with their own reason; the
original stays stored and ledgered as received. The ingest row's ``media_note`` gets the
quarantine reason or a one-line outcome for the operator (the ledger stays the record).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from evidence.bodies import Derivative, DerivedBody, MediaQuarantinedBody
from evidence.errors import VerificationError
from evidence.ids import Sha256Hex
from evidence.records import FileRow, StoredObject
from ingest.context import IngestContext, record_once
from ingest.media import (
    Action,
    Derived,
    FfmpegTools,
    MediaPolicy,
    Plan,
    ProgressFn,
    Thumbnails,
    derive,
    ffmpeg_version,
    photo_thumbnail,
    plan,
    plan_proxy,
    probe,
    thumbnails,
    verify_remux_lossless,
)
from ingest.ports import Progress

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
           ) -> StoredObject:
    retain = ctx.clock() + timedelta(days=ctx.policy.retention_days)
    # Keyed by the derivative's own hash: a re-run after a crash that encodes different bytes
    # stores a second object beside the first instead of colliding with it.
    obj = ctx.blobs.put(f"derived/{parent[:2]}/{parent}/{sha256}{path.suffix}", path,
                        sha256=Sha256Hex(sha256), size=size, retain_until=retain)
    return ctx.blobs.verify(obj, rehash=True)


def _derivative(copy: Derived, obj: StoredObject) -> Derivative:
    return Derivative(parent=copy.parent, role=copy.role.value, action=copy.action.value,
                      name=copy.path.name, sha256=copy.sha256, sm3=copy.sm3, size=copy.size,
                      argv=copy.ledger_argv, ffmpeg_version=copy.ffmpeg_version, key=obj.key,
                      version_id=obj.version_id)


def _reporter(progress: Progress | None, sha: str, label: str,
              total_ms: int) -> ProgressFn | None:
    if progress is None:
        return None
    return lambda ms: progress.media(sha, label, done_ms=ms, total_ms=total_ms)


def _derive_one(ctx: IngestContext, row: FileRow, *, tools: FfmpegTools, policy: MediaPolicy,
                workdir: Path, progress: Progress | None) -> tuple[str, str | None]:
    """The media stage for one original: its state (``derived``, ``quarantined``, ``skipped``)
    and the note for its ingest rows."""
    sha = row.sha256
    if sha is None or row.object is None:
        return "skipped", "not stored yet"
    if row.size == 0:
        return "skipped", "zero-byte original (quarantined at commit): nothing to probe"
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        work = Path(tmp)
        src = _fetch(ctx, row.object, work)
        try:
            facts = probe(src, ffprobe=tools.ffprobe, ffmpeg=tools.ffmpeg)
            chosen = plan(facts, policy=policy)
            derivatives: list[Derivative] = []
            streamhash: dict[str, str] = {}
            if chosen.action is Action.KEEP:
                thumbs: Thumbnails | None = photo_thumbnail(src, work, parent=sha)
            else:
                total_ms = facts.duration_ms or 0
                plans: list[Plan] = [chosen]
                proxy = plan_proxy(facts, policy=policy)
                if proxy is not None:
                    plans.append(proxy)
                for job in plans:
                    label = chosen.action.value if job is chosen else job.role.value
                    copy = derive(src, work, job, parent=sha, ffmpeg=tools.ffmpeg,
                                  progress=_reporter(progress, sha, label, total_ms))
                    if job.copied:
                        streamhash = verify_remux_lossless(src, copy.path, kinds=job.copied,
                                                           ffmpeg=tools.ffmpeg)
                    derivatives.append(_derivative(
                        copy, _store(ctx, sha, copy.path, copy.sha256, copy.size)))
                thumbs = (None if chosen.action is Action.AUDIO else
                          thumbnails(src, work, parent=sha, duration_ms=facts.duration_ms))
        except VerificationError as exc:
            step = exc.step or "probe"
            record_once(ctx, MediaQuarantinedBody(step=step, reason=exc.reason), sha,
                        match=("step",), actor=str(ctx.station))
            return "quarantined", f"{step}: {exc.reason}"
        thumb_info: dict[str, object] | None = None
        if thumbs is not None:
            stored = []
            for t in (*thumbs.frames, *([thumbs.strip] if thumbs.strip else [])):
                obj = _store(ctx, sha, t.path, t.sha256, t.size)
                stored.append({**t.to_dict(), "key": obj.key, "version_id": obj.version_id})
            thumb_info = {**thumbs.to_dict(), "stored": stored}
        record_once(ctx, DerivedBody(
            parent=sha, probe=facts.to_dict(), plan=chosen.to_dict(),
            ffmpeg_version=ffmpeg_version(tools.ffmpeg), derivatives=tuple(derivatives),
            streamhash=streamhash, thumbnails=thumb_info), sha, match=("parent",),
            actor=str(ctx.station))
        return "derived", _outcome(chosen, derivatives, thumbs, prober=facts.prober)


def _outcome(chosen: Plan, derivatives: list[Derivative], thumbs: Thumbnails | None, *,
             prober: str) -> str:
    """``remux (h264 yuv420p, aac audio) → playback, proxy; 5 thumbnails`` and what to check."""
    made = ", ".join(d.role for d in derivatives) or "no copy (the original is viewed)"
    parts = [f"{chosen.action.value} ({chosen.reason}) → {made}"]
    if thumbs is not None:
        parts.append(f"{len(thumbs.frames)} thumbnail{'s' * (len(thumbs.frames) != 1)}")
        if thumbs.missed:
            parts.append(f"{len(thumbs.missed)} thumbnail position(s) not delivered")
    if prober != "ffprobe":
        parts.append(f"probed with {prober} (no ffprobe)")
    return "; ".join(parts)


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
        outcome, note = _derive_one(ctx, row, tools=tools, policy=policy, workdir=workdir,
                                    progress=progress)
        done.add(row.sha256)
        ctx.repo.set_media(row.sha256, outcome, note)
        if outcome == "derived":
            run.derived += 1
        elif outcome == "quarantined":
            run.quarantined += 1
        else:
            run.skipped += 1
    return run
