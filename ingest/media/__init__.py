"""Media work of the ``derived`` stage (DESIGN.md §3 step 4): probe, plan, derive, thumbnails.

The station calls, per committed original (already hashed on first read, so ``parent`` is known)::

    tools = find_ffmpeg()                           # once, in the composition root
    facts = probe(staged, ffprobe=tools.ffprobe,    # VerificationError → quarantined;
                  ffmpeg=tools.ffmpeg)              # ffprobe None: through ffmpeg alone
    chosen = plan(facts, policy=MediaPolicy())
    if chosen.action is Action.KEEP:
        thumbs = photo_thumbnail(staged, out_dir, parent=sha)
    else:
        copy = derive(staged, out_dir, chosen, parent=sha, ffmpeg=tools.ffmpeg, progress=...)
        hashes = verify_remux_lossless(staged, copy.path, kinds=chosen.copied, ...)
        proxy = plan_proxy(facts, policy=...)       # None unless MediaPolicy(proxy=True)
        if proxy is not None:
            small = derive(staged, out_dir, proxy, parent=sha, ffmpeg=tools.ffmpeg)
        thumbs = thumbnails(staged, out_dir, parent=sha, duration_ms=facts.duration_ms)

Every result has ``to_dict()`` with ints, strings, bools, None, lists and dicts only, ready for
the canonical JSON of a ledger entry. The original is never written: ffprobe, ffmpeg and
OpenCV only read it, and every output is named from its SHA-256 in ``out_dir``.

Split into small modules (STYLE.md §12): ``tools`` (binaries, stderr reasons, atomic files),
``probing`` (ffprobe), ``ffmpeg_probe`` (the same facts from ffmpeg alone), ``policy``,
``deriving`` (running ffmpeg, streamhash), ``thumbs`` (OpenCV). docs/media.md is the overview.
"""

from ingest.media.deriving import (
    Derived,
    ProgressFn,
    derive,
    output_name,
    progress_positions,
    stream_hashes,
    verify_remux_lossless,
)
from ingest.media.ffmpeg_probe import probe_with_ffmpeg
from ingest.media.policy import Action, MediaPolicy, Plan, Role, plan, plan_proxy
from ingest.media.prober import probe
from ingest.media.probing import AudioInfo, Probe, VideoInfo, check_complete, parse_probe
from ingest.media.thumbs import MissedFrame, Thumbnail, Thumbnails, photo_thumbnail, thumbnails
from ingest.media.tools import FfmpegTools, ffmpeg_version, file_digests, find_ffmpeg

__all__ = [
    "Action",
    "AudioInfo",
    "Derived",
    "FfmpegTools",
    "MediaPolicy",
    "MissedFrame",
    "Plan",
    "Probe",
    "ProgressFn",
    "Role",
    "Thumbnail",
    "Thumbnails",
    "VideoInfo",
    "check_complete",
    "derive",
    "ffmpeg_version",
    "file_digests",
    "find_ffmpeg",
    "output_name",
    "parse_probe",
    "photo_thumbnail",
    "plan",
    "plan_proxy",
    "probe",
    "probe_with_ffmpeg",
    "progress_positions",
    "stream_hashes",
    "thumbnails",
    "verify_remux_lossless",
]
