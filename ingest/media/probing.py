"""Probe an original with ffprobe (through ffmpeg-python): DESIGN.md §3 step 4, first half.

The result goes into the ``derived`` ledger entry, whose canonical JSON refuses floats
(docs/ledger-format.md §1), so every figure is an integer (milliseconds, packets, pixels) or a
string (a frame rate is ffprobe's ``"num/den"``).

Threat model: the file came from a recorder and may be corrupt, truncated or not media at all,
and its tags are untrusted text. The container is judged by content (ffprobe's ``format_name``),
never by the file name; tags are bounded in number and length before they reach the ledger.

Runtime: ffmpeg-python 0.2.0's ``probe`` takes no timeout. ffprobe on a local regular file reads
it once (``-count_packets`` walks every packet header), so its runtime is bounded by the file's
size; the bounded-time work (encoding) is in :func:`ingest.media.deriving.derive`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import ffmpeg as ffmpeg_python  # untyped (pyproject: ignore_missing_imports): results are cast

from evidence.errors import UnavailableError, VerificationError
from ingest.media.tools import first_reason

MAX_TAGS = 32  # bound: tags are device-written text copied into a ledger entry (≤ 64 KiB)
MAX_TAG_CHARS = 256  # same reason
STILL_FORMATS = frozenset({"image2", "jpeg_pipe", "png_pipe", "bmp_pipe", "webp_pipe",
                           "tiff_pipe", "gif"})
# A truncated file may lose a few frames to rounding or variable frame rate without being
# truncated; more than this is loss (2% of the expected count, plus 2 frames).
LOSS_TOLERANCE = Fraction(1, 50)
MAX_SAFE_INT = 2**53 - 1  # canonical JSON's integer range: a corrupt header may claim more
LOSS_SLACK_FRAMES = 2

Json = dict[str, Any]


@dataclass(frozen=True)
class VideoInfo:
    """The first video stream that is not cover art. ``packets`` is what the file holds
    (ffprobe ``nb_read_packets``); ``indexed_frames`` is what its index claims (``nb_frames``,
    None when the container keeps no count)."""

    codec: str
    profile: str | None
    pix_fmt: str | None
    width: int
    height: int
    frame_rate: str | None  # "num/den": avg_frame_rate, or r_frame_rate when that is 0/0
    packets: int
    indexed_frames: int | None
    duration_ms: int | None
    bits_per_raw_sample: int | None


@dataclass(frozen=True)
class AudioInfo:
    """The first audio stream."""

    codec: str
    profile: str | None
    sample_rate: int | None
    channels: int | None
    packets: int
    indexed_frames: int | None
    duration_ms: int | None


@dataclass(frozen=True)
class Probe:
    """What ffprobe says about one original. ``tags`` are the container's tags (device fields
    such as serial or 警号 when the recorder writes them), sorted, bounded by MAX_TAGS and
    MAX_TAG_CHARS; ``other_streams`` lists the streams not described above as
    ``"<type>:<codec>"`` (data tracks such as GPS, subtitles, further audio)."""

    format_name: str
    duration_ms: int | None
    size: int | None
    video: VideoInfo | None
    audio: AudioInfo | None
    creation_time: str | None
    tags: tuple[tuple[str, str], ...]
    other_streams: tuple[str, ...]
    prober: str = "ffprobe"  # "ffmpeg" when probed without ffprobe (ingest/media/ffmpeg_probe.py)

    @property
    def still(self) -> bool:
        """A single picture (a photo), judged by the container ffprobe recognised."""
        return self.format_name in STILL_FORMATS

    def to_dict(self) -> dict[str, object]:
        """JSON-able: ints, strings, None, lists and dicts only (no floats), for the ledger."""
        out: dict[str, object] = {
            "format_name": self.format_name,
            "duration_ms": self.duration_ms,
            "size": self.size,
            "video": asdict(self.video) if self.video else None,
            "audio": asdict(self.audio) if self.audio else None,
            "creation_time": self.creation_time,
            "tags": dict(self.tags),
            "other_streams": list(self.other_streams),
            "prober": self.prober,
        }
        return out


def probe_with_ffprobe(path: Path, *, ffprobe: str = "ffprobe") -> Probe:
    """Probe ``path`` (opened read-only by ffprobe) and check that no packets are missing.

    Raises VerificationError(step="probe") when ffprobe rejects the file (the reason is ffprobe's
    own first stderr line: zero-byte, corrupt, non-media), when it has neither audio nor video,
    or when it is truncated (reason ``truncated: ...``). UnavailableError when ffprobe cannot be
    run at all.
    """
    target = f"file:{path.resolve()}"  # "file:" so no name is read as a protocol or an option
    try:
        data = cast(Json, ffmpeg_python.probe(target, cmd=ffprobe, count_packets=None,
                                              v="error"))
    except ffmpeg_python.Error as exc:
        reason = first_reason(exc.stderr, replacements={target: "<input>"},
                              default="ffprobe failed without a message")
        raise VerificationError(reason, step="probe") from exc
    except OSError as exc:
        raise UnavailableError(f"cannot run {ffprobe}: {exc}") from exc
    except ValueError as exc:  # JSON or UTF-8 that ffprobe should never emit
        raise VerificationError(f"unreadable ffprobe output: {exc}", step="probe") from exc
    result = parse_probe(data)
    check_complete(result)
    return result


def parse_probe(data: Json) -> Probe:
    """Build a Probe from ffprobe's JSON (``-show_format -show_streams -count_packets``)."""
    fmt: Json = data.get("format") or {}
    streams: list[Json] = list(data.get("streams") or [])
    video_json = next((s for s in streams if _is_video(s)), None)
    audio_json = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video_json is None and audio_json is None:
        raise VerificationError(
            f"no audio or video stream (container {fmt.get('format_name', 'unknown')})",
            step="probe")
    others = tuple(f"{s.get('codec_type', 'unknown')}:{s.get('codec_name', 'unknown')}"
                   for s in streams if s is not video_json and s is not audio_json)
    tags = _tags(fmt.get("tags"))
    return Probe(
        format_name=str(fmt.get("format_name", "unknown")),
        duration_ms=_ms(fmt.get("duration")),
        size=_int(fmt.get("size")),
        video=_video(video_json) if video_json is not None else None,
        audio=_audio(audio_json) if audio_json is not None else None,
        creation_time=_creation_time(tags, streams),
        tags=tags,
        other_streams=others,
    )


def check_complete(result: Probe) -> None:
    """Raise VerificationError("truncated: ...") when packets are missing (DESIGN.md §3 step 4).

    A truncated faststart MP4 keeps its index (moov) at the front, so ffprobe still reports the
    full duration; only the packets actually read show the loss. Two witnesses: the container's
    own frame count (exact, where the container keeps one) and duration × frame rate (with
    LOSS_TOLERANCE, since variable frame rates and rounding make it approximate).
    """
    if result.still:
        return
    losses = []
    if result.video is not None:
        losses += _video_losses(result.video, result.duration_ms)
    audio = result.audio
    # PCM's nb_frames counts samples, not packets, so only compressed audio is compared.
    if audio is not None and audio.indexed_frames and not audio.codec.startswith("pcm_") \
            and audio.packets < audio.indexed_frames:
        losses.append(f"audio packets {audio.packets} of {audio.indexed_frames} in the index")
    if losses:
        raise VerificationError("truncated: " + "; ".join(losses), step="probe")


def _video_losses(video: VideoInfo, format_duration_ms: int | None) -> list[str]:
    losses = []
    if video.indexed_frames and video.packets < video.indexed_frames:
        losses.append(f"video packets {video.packets} of {video.indexed_frames} in the index")
    duration_ms = video.duration_ms or format_duration_ms
    if duration_ms and video.frame_rate:
        rate = Fraction(video.frame_rate)
        expected = int(rate * duration_ms / 1000)
        if video.packets < expected * (1 - LOSS_TOLERANCE) - LOSS_SLACK_FRAMES:
            losses.append(f"video packets {video.packets}, expected ~{expected} for "
                          f"{duration_ms} ms at {video.frame_rate} fps")
    return losses


def _is_video(stream: Json) -> bool:
    disposition: Json = stream.get("disposition") or {}
    return stream.get("codec_type") == "video" and not disposition.get("attached_pic")


def _video(s: Json) -> VideoInfo:
    return VideoInfo(
        codec=str(s.get("codec_name", "unknown")),
        profile=_str(s.get("profile")),
        pix_fmt=_str(s.get("pix_fmt")),
        width=_int(s.get("width")) or 0,
        height=_int(s.get("height")) or 0,
        frame_rate=_rate(s.get("avg_frame_rate")) or _rate(s.get("r_frame_rate")),
        packets=_int(s.get("nb_read_packets")) or 0,
        indexed_frames=_int(s.get("nb_frames")),
        duration_ms=_ms(s.get("duration")),
        bits_per_raw_sample=_int(s.get("bits_per_raw_sample")),
    )


def _audio(s: Json) -> AudioInfo:
    return AudioInfo(
        codec=str(s.get("codec_name", "unknown")),
        profile=_str(s.get("profile")),
        sample_rate=_int(s.get("sample_rate")),
        channels=_int(s.get("channels")),
        packets=_int(s.get("nb_read_packets")) or 0,
        indexed_frames=_int(s.get("nb_frames")),
        duration_ms=_ms(s.get("duration")),
    )


def _tags(raw: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, dict):
        return ()
    items = sorted((str(k)[:MAX_TAG_CHARS], str(v)[:MAX_TAG_CHARS]) for k, v in raw.items())
    return tuple(items[:MAX_TAGS])


def _creation_time(tags: tuple[tuple[str, str], ...], streams: list[Json]) -> str | None:
    """The container's ``creation_time`` tag, else the first stream's (as the recorder wrote it:
    recorder clocks drift, so this is a claim, not a fact; the ``acquired`` entry holds the
    measured clock offset)."""
    found = dict(tags).get("creation_time")
    if found:
        return found
    for s in streams:
        value = (s.get("tags") or {}).get("creation_time")
        if value:
            return str(value)[:MAX_TAG_CHARS]
    return None


def _str(value: object) -> str | None:
    return None if value is None or value == "unknown" else str(value)[:MAX_TAG_CHARS]


def _int(value: object) -> int | None:
    """An integer field of ffprobe's JSON (some arrive as strings); None when absent, malformed,
    or outside what canonical JSON can carry."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        try:
            number = int(str(value))
        except ValueError:
            return None
    return number if abs(number) <= MAX_SAFE_INT else None


def _ms(value: object) -> int | None:
    """ffprobe's seconds string ("2.000000") as integer milliseconds; None for N/A."""
    try:
        seconds = Decimal(str(value))
    except InvalidOperation:
        return None
    if not seconds.is_finite() or seconds < 0 or seconds * 1000 > MAX_SAFE_INT:
        return None
    return int(seconds * 1000)


def _rate(value: object) -> str | None:
    """ffprobe's "num/den"; None for "0/0" (unknown) or anything malformed."""
    text = str(value)
    num, sep, den = text.partition("/")
    if not sep or not num.isdigit() or not den.isdigit() or int(num) == 0 or int(den) == 0:
        return None
    return text
