"""Probing without ffprobe: the same :class:`Probe` from the ffmpeg binary alone (issue 5).

The imageio-ffmpeg wheel (DESIGN.md §8: where no system ffmpeg exists) ships ffmpeg but no
ffprobe. One read of the original::

    ffmpeg -hide_banner -nostdin -nostats -loglevel level+info -i file:<original>
           -map 0:v? -map 0:a? -c copy -copyinkf -f framecrc -

gives what ffprobe's JSON would, from two sources:

- stdout, the ``framecrc`` muxer (the line format ffmpeg's own regression tests compare): a
  ``#tb N: num/den`` line per output stream, then one line per packet, ``stream, dts, pts,
  duration, size, crc``. Counted per stream, the lines are ffprobe's ``nb_read_packets`` (with
  ``-copyinkf`` nothing before the first keyframe is dropped); the most common packet duration
  gives the frame rate exactly (12800/512 = ``25/1``); the first pts to the last pts + duration is
  how much media the file actually holds.
- stderr, ffmpeg's description of its input: ``Input #0, <format_name>, from '<url>':``, the
  ``Metadata:`` block (tags), ``Duration: HH:MM:SS.cc`` and one ``Stream #0:N...: Video: ...``
  line per stream (codec, profile, pixel format, size, sample rate, channels, ``(attached
  pic)``). ``level+`` tags every stderr line with its level, so warnings and errors never mix
  into that description, and a failure's reason is ffmpeg's first ``[error]`` line (the same
  words ffprobe gives: ``moov atom not found``). This is text for people; its shape is the same
  from ffmpeg 5.1 (Debian 12) to 9.0 (the wheel pinned in pyproject.toml), and
  tests/integration/test_media.py runs both. What does not parse becomes None or an unknown
  stream, never a guess.

What is lost against ffprobe (the probe says ``prober: "ffmpeg"`` in the ledger):

- the index's own frame counts (``nb_frames``): ``indexed_frames`` is None, so the exact check
  "one packet fewer than the index" is gone. Truncation is caught by two coarser witnesses
  instead: packets against duration × frame rate (as with ffprobe, 2 % + 2 frames of slack) and
  the time span of the packets read against the container's duration (:data:`SPAN_SLACK_MS`).
  A file missing its last few frames passes here where ffprobe would quarantine it.
- durations to 10 ms (the log prints centiseconds); no per-stream durations.
- ``bits_per_raw_sample``; a variable frame rate is reported as its most common rate.
- tag values longer than 255 characters are cut by ffmpeg's log (the probe keeps 256 anyway);
  the ``language`` tag is never printed.

Threat model: tags, language codes and stream names are device-written. ffmpeg prints a tag's
continuation lines indented and after ``: ``, so no value can start a header line; a stream line
that does not parse is an unknown stream, which fails closed (no audio or video → quarantined,
the original still stored). Packet counts and timestamps come from the muxer's output, not text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from evidence.errors import UnavailableError, VerificationError
from ingest.media.probing import LOSS_TOLERANCE, Probe, check_complete, parse_probe
from ingest.media.tools import first_reason, run_streaming

PROBE_TIMEOUT_S = 600  # one read of the file at disk speed (no decoding); 10 min is a stuck run
SPAN_SLACK_MS = 100  # a few frames or audio packets: containers round their durations
MAX_DURATIONS = 64  # bound: distinct packet durations remembered per stream (variable rates)
NOPTS = -(2**63)  # AV_NOPTS_VALUE as framecrc prints it
CHANNELS = {"mono": 1, "stereo": 2, "downmix": 2, "2.1": 3, "3.0": 3, "3.0(back)": 3,
            "4.0": 4, "quad": 4, "quad(side)": 4, "3.1": 4, "5.0": 5, "5.0(side)": 5,
            "4.1": 5, "5.1": 6, "5.1(side)": 6, "6.0": 6, "6.1": 7, "7.0": 7, "7.1": 8,
            "7.1(wide)": 8, "7.1(wide-side)": 8, "octagonal": 8}

Json = dict[str, Any]


@dataclass
class _Packets:
    """What framecrc said about one output stream."""

    time_base: Fraction | None = None
    count: int = 0
    first_pts: int | None = None
    end_pts: int | None = None  # the largest pts + duration
    durations: Counter[int] = field(default_factory=Counter)

    def add(self, pts: int, duration: int) -> None:
        self.count += 1
        if pts == NOPTS:
            return
        self.first_pts = pts if self.first_pts is None else min(self.first_pts, pts)
        end = pts + max(duration, 0)
        self.end_pts = end if self.end_pts is None else max(self.end_pts, end)
        if duration > 0 and (duration in self.durations or len(self.durations) < MAX_DURATIONS):
            self.durations[duration] += 1

    def span_ms(self) -> int | None:
        if self.time_base is None or self.first_pts is None or self.end_pts is None:
            return None
        return int((self.end_pts - self.first_pts) * self.time_base * 1000)

    def frame_rate(self) -> str | None:
        """1 / the most common packet duration, as ffprobe's "num/den"."""
        if self.time_base is None or not self.durations:
            return None
        duration = self.durations.most_common(1)[0][0]
        rate = 1 / (self.time_base * duration)
        return f"{rate.numerator}/{rate.denominator}"


def probe_with_ffmpeg(path: Path, *, ffmpeg: str = "ffmpeg",
                      timeout_s: float = PROBE_TIMEOUT_S) -> Probe:
    """Probe ``path`` (read once, read-only) with ffmpeg alone; the contract of
    :func:`ingest.media.prober.probe`: VerificationError(step="probe") with ffmpeg's own reason
    when it rejects the file, when it has neither audio nor video, or when it is truncated
    (``truncated: ...``); UnavailableError when ffmpeg cannot run or runs out of time."""
    target = f"file:{path.resolve()}"  # "file:" so no name is read as a protocol or an option
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info",
            "-i", target, "-map", "0:v?", "-map", "0:a?", "-c", "copy", "-copyinkf",
            "-f", "framecrc", "-"]
    packets, returncode, stderr = _run(argv, timeout_s=timeout_s)
    return _facts(stderr, packets, target=target, size=path.stat().st_size,
                  returncode=returncode)


def facts_from_ffmpeg(stderr: bytes, framecrc: Iterable[bytes], *, target: str, size: int,
                      returncode: int = 0) -> Probe:
    """The Probe from what the command above printed (``target`` is its ``-i`` argument,
    ``size`` the file's size): the parsing half of :func:`probe_with_ffmpeg`, for tests and
    for output captured elsewhere. Same errors."""
    return _facts(stderr, _read_framecrc(framecrc), target=target, size=size,
                  returncode=returncode)


def _facts(stderr: bytes, packets: dict[int, _Packets], *, target: str, size: int,
           returncode: int) -> Probe:
    lines = [_levelled(line) for line in stderr.decode("utf-8", "replace").splitlines()]
    header = _Header.parse([text for level, text in lines if level == "info"], target)
    if returncode != 0 or header is None:
        errors = [text for level, text in lines if level in ("error", "fatal", "panic")]
        raise VerificationError(_failure_reason(errors, target, returncode), step="probe")
    result = replace(parse_probe(header.to_json(packets, size=size)), prober="ffmpeg")
    check_complete(result)
    _check_span(result, header.spans_ms(packets))
    return result


def _run(argv: list[str], *, timeout_s: float) -> tuple[dict[int, _Packets], int, bytes]:
    """Run ffmpeg, reading framecrc from its stdout as it comes; stderr to a temporary file."""
    packets, done = run_streaming(argv, _read_framecrc, timeout_s=timeout_s)
    if done.timed_out:
        raise UnavailableError(f"ffmpeg probe ran longer than {timeout_s:g} s and was stopped")
    if done.returncode < 0:
        raise UnavailableError(f"ffmpeg probe was killed (signal {-done.returncode})")
    return packets, done.returncode, done.stderr


def _read_framecrc(lines: Iterable[bytes] | None) -> dict[int, _Packets]:
    streams: dict[int, _Packets] = {}
    if lines is None:
        return streams
    for raw in lines:
        line = raw.decode("ascii", "replace")
        if line.startswith("#tb "):  # "#tb 0: 1/12800"
            number, _, base = line[4:].partition(":")
            num, _, den = base.strip().partition("/")
            if number.isdigit() and num.isdigit() and den.isdigit() and int(num) and int(den):
                streams.setdefault(int(number), _Packets()).time_base = Fraction(int(num),
                                                                                 int(den))
        elif not line.startswith("#"):  # "0,  -1024,  0,  512,  4755, 0xad11b364[, F=0x2]"
            fields = line.split(",", 5)
            try:
                index, _dts, pts, duration = (int(f) for f in fields[:4])
            except ValueError:
                continue
            streams.setdefault(index, _Packets()).add(pts, duration)
    return streams


@dataclass
class _Stream:
    index: int
    kind: str  # ffprobe's codec_type: video, audio, data, subtitle, attachment
    fields: list[str]  # the description, split at top-level commas
    attached_pic: bool
    tags: dict[str, str]


@dataclass
class _Header:
    """ffmpeg's description of input #0 (its stderr at ``-loglevel info``)."""

    format_name: str
    duration: str | None  # seconds, "2.00"
    tags: dict[str, str]
    streams: list[_Stream]

    @classmethod
    def parse(cls, lines: list[str], target: str) -> _Header | None:
        """None when there is no ``Input #0, <format>, from '<target>':`` line."""
        opening, closing = "Input #0, ", f", from '{target}':"
        start = next((i for i, line in enumerate(lines)
                      if line.startswith(opening) and line.endswith(closing)), None)
        if start is None:
            return None
        header = cls(lines[start][len(opening):-len(closing)], None, {}, [])
        tags: dict[str, str] = {}
        tag_indent = -1  # the indent of "key: value" lines while inside a Metadata: block
        key = ""
        section: dict[str, str] = {}  # whose "    Metadata:" comes next: the last stream's tags,
        # or a throwaway for chapters and programs (their titles are not the file's tags)
        for line in lines[start + 1:]:
            if not line.startswith("  "):  # "Stream mapping:", "Output #0, ...": input is done
                break
            indent = len(line) - len(line.lstrip(" "))
            body = line[indent:]
            if tag_indent >= 0 and indent > tag_indent and body.startswith(":") and key:
                tags[key] += "\n" + body[1:].removeprefix(" ")  # a value's next line
                continue
            if indent == tag_indent and ":" in body:
                key, _, value = body.partition(":")
                key = key.rstrip()
                tags[key] = value.removeprefix(" ")
                continue
            tag_indent, key = -1, ""
            if body == "Metadata:":
                tag_indent = indent + 2
                tags = header.tags if indent == 2 else section if indent == 4 else {}
            elif indent == 2:
                section = {}
                if body.startswith("Duration: "):
                    header.duration = _seconds(body[len("Duration: "):].split(",", 1)[0])
                elif body.startswith("Stream #0:"):
                    stream = _parse_stream(body)
                    if stream is not None:
                        header.streams.append(stream)
                        section = stream.tags
        return header

    def output_order(self) -> list[_Stream]:
        """``-map 0:v? -map 0:a?`` numbers the output streams: every video stream of the input
        in order, then every audio stream. That is how framecrc's stream indices map back."""
        return ([s for s in self.streams if s.kind == "video"]
                + [s for s in self.streams if s.kind == "audio"])

    def to_json(self, packets: dict[int, _Packets], *, size: int) -> Json:
        """ffprobe-shaped JSON (``-show_format -show_streams -count_packets``) for parse_probe."""
        counted = {s.index: packets.get(i) for i, s in enumerate(self.output_order())}
        streams = [_stream_json(s, counted.get(s.index) or _Packets()) for s in self.streams]
        fmt: Json = {"format_name": self.format_name, "size": str(size), "tags": self.tags}
        if self.duration is not None:
            fmt["duration"] = self.duration
        return {"format": fmt, "streams": streams}

    def spans_ms(self, packets: dict[int, _Packets]) -> list[int]:
        """How much time the packets read cover, per video and audio stream (not cover art)."""
        spans = []
        for i, s in enumerate(self.output_order()):
            span = packets[i].span_ms() if i in packets and not s.attached_pic else None
            if span is not None:
                spans.append(span)
        return spans


def _parse_stream(body: str) -> _Stream | None:
    """``Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive),
    320x240 [SAR 1:1 DAR 4:3], 261 kb/s, 25 fps, 25 tbr, 12800 tbn (default)``."""
    head, sep, description = body.partition(": ")
    number = head[len("Stream #0:"):]
    digits = number[:len(number) - len(number.lstrip("0123456789"))]
    if not sep or not digits or " " in number:
        return None
    kind, sep, rest = description.partition(": ")
    if not sep or not kind.isalpha():
        return None
    return _Stream(int(digits), kind.lower(), _split_top_level(rest),
                   "(attached pic)" in rest, {})


def _split_top_level(text: str) -> list[str]:
    """Split at the commas that are not inside parentheses or brackets."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return parts


def _stream_json(s: _Stream, counted: _Packets) -> Json:
    codec_text = s.fields[0]
    codec, _, qualifiers = codec_text.partition(" ")
    # "(High) (avc1 / 0x31637661)": the profile, then the codec tag (the one with " / 0x")
    groups = [g.strip("() ") for g in qualifiers.split(") (")] if qualifiers else []
    profile = next((g for g in groups if g and " / 0x" not in g), None)
    out: Json = {"index": s.index, "codec_type": s.kind, "codec_name": codec or "unknown",
                 "nb_read_packets": str(counted.count),
                 "disposition": {"attached_pic": int(s.attached_pic)}, "tags": s.tags}
    if profile is not None:
        out["profile"] = profile
    if s.kind == "video":
        out.update(_video_fields(s.fields[1:]))
        header_rate = out.pop("header_rate", None)
        rate = counted.frame_rate() or header_rate  # exact where packets have durations
        if rate is not None:
            out["avg_frame_rate"] = out["r_frame_rate"] = rate
    elif s.kind == "audio":
        out.update(_audio_fields(s.fields[1:]))
    return out


def _video_fields(fields: list[str]) -> Json:
    out: Json = {}
    for i, item in enumerate(fields):
        size, _, _ = item.partition(" ")
        width, x, height = size.partition("x")
        if x and width.isdigit() and height.isdigit():
            out["width"], out["height"] = int(width), int(height)
        elif item.endswith(" fps"):
            out["header_rate"] = _header_rate(item[:-len(" fps")])
        elif i == 0 and item[:1].isalpha():
            out["pix_fmt"] = item.partition("(")[0]  # "yuv420p(tv, bt709, progressive)"
    return out


def _audio_fields(fields: list[str]) -> Json:
    out: Json = {}
    for item in fields:
        number, _, unit = item.partition(" ")
        if unit == "Hz" and number.isdigit():
            out["sample_rate"] = number
        elif unit == "channels" and number.isdigit():
            out["channels"] = int(number)
        elif item in CHANNELS and "channels" not in out:
            out["channels"] = CHANNELS[item]
    return out


def _header_rate(text: str) -> str | None:
    """ "25", "29.97" or "90k" (as printed) → "num/den"; approximate: 29.97 is 2997/100."""
    scale = 1000 if text.endswith("k") else 1
    try:
        rate = Fraction(Decimal(text.removesuffix("k"))) * scale
    except (ArithmeticError, ValueError):
        return None
    return f"{rate.numerator}/{rate.denominator}" if rate > 0 else None


def _seconds(text: str) -> str | None:
    """ "00:00:02.00" → "2.00"; None for "N/A"."""
    parts = text.strip().split(":")
    if len(parts) != 3 or not all(p.replace(".", "", 1).isdigit() for p in parts):
        return None
    hours, minutes, seconds = parts
    return str(int(hours) * 3600 + int(minutes) * 60 + Decimal(seconds))


def _levelled(line: str) -> tuple[str, str]:
    """``[mov,mp4 @ 0x55…] [error] moov atom not found`` → ("error", "moov atom not found").

    ``-loglevel level+...`` tags each line with its level, so the description of the input
    (``info``) is told apart from warnings and errors whatever their wording. A line without a
    tag continues the previous message (a multi-line tag value): it counts as ``info``."""
    text = line
    if text.startswith("[") and " @ 0x" in text.partition("]")[0]:
        text = text.partition("] ")[2]  # the component and its heap address
    if text.startswith("["):
        level, sep, rest = text[1:].partition("] ")
        if sep and level.isalpha():
            return level, rest
    return "info", text


def _failure_reason(errors: list[str], target: str, returncode: int) -> str:
    """ffmpeg's own reason: its first error line, host paths replaced."""
    default = ("ffmpeg described no input" if returncode == 0
               else f"ffmpeg failed (exit status {returncode}) without a message")
    return first_reason("\n".join(errors), replacements={target: "<input>"}, default=default)


def _check_span(result: Probe, spans: list[int]) -> None:
    """Raise VerificationError("truncated: ...") when no stream's packets cover the container's
    duration (the second witness that stands in for ffprobe's index counts; see the module
    docstring). The longest stream is compared, so a legitimately shorter audio track is fine."""
    if result.still or result.duration_ms is None:
        return
    if not spans:
        return
    covered = max(spans)
    if covered < result.duration_ms * (1 - LOSS_TOLERANCE) - SPAN_SLACK_MS:
        raise VerificationError(f"truncated: packets cover {covered} ms of the "
                                f"{result.duration_ms} ms the container declares", step="probe")
