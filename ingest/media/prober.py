"""The one probe the media stage calls: ffprobe where there is one, else ffmpeg itself.

The imageio-ffmpeg wheel ships no ffprobe; :func:`ingest.media.ffmpeg_probe.probe_with_ffmpeg`
reads the same facts (fewer of them: docs/media.md) with the same contract.
"""

from __future__ import annotations

from pathlib import Path

from ingest.media.ffmpeg_probe import probe_with_ffmpeg
from ingest.media.probing import Probe, probe_with_ffprobe


def probe(path: Path, *, ffprobe: str | None = "ffprobe", ffmpeg: str = "ffmpeg") -> Probe:
    """Probe ``path`` read-only and check that no packets are missing (``ffprobe=None``: through
    ``ffmpeg``). VerificationError(step="probe") for a file that is not complete media (the
    tool's own reason), UnavailableError when the tool cannot be run."""
    if ffprobe is None:
        return probe_with_ffmpeg(path, ffmpeg=ffmpeg)
    return probe_with_ffprobe(path, ffprobe=ffprobe)
