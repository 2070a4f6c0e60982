"""Probing through ffmpeg alone (ingest/media/ffmpeg_probe.py) on ffmpeg's printed output.

tests/integration/test_media.py runs the real binaries (Debian's 5.1 and the imageio-ffmpeg
wheel's 9.0) on generated clips; these cover shapes that are awkward to generate: streams whose
output order differs from the input's, chapters and programs with their own metadata, unknown
stream lines, printed-only frame rates.
"""

from __future__ import annotations

import pytest

from evidence.errors import VerificationError
from ingest.media import Action, plan
from ingest.media.ffmpeg_probe import facts_from_ffmpeg

TARGET = "file:/srv/work/abc.orig"


def stderr(*lines: str) -> bytes:
    return "\n".join(lines).encode()


HEADER = (
    f"[info] Input #0, mov,mp4,m4a,3gp,3g2,mj2, from '{TARGET}':",
    "[info]   Metadata:",
    "[info]     major_brand     : isom",
    "[info]     comment         : ZFY00042/000123",
    "[info]     description     : first line",
    "                        : second line",
    "[info]   Chapters:",
    "[info]     Chapter #0:0: start 0.000000, end 1.000000",
    "[info]       Metadata:",
    "[info]         title           : chapter one",
    "[info]   Duration: 00:00:02.00, start: 0.000000, bitrate: 344 kb/s",
    "[info]   Stream #0:0[0x1](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, "
    "fltp, 69 kb/s (default)",
    "[info]     Metadata:",
    "[info]       handler_name    : SoundHandler",
    "[info]   Stream #0:1[0x2](und): Video: h264 (High) (avc1 / 0x31637661), "
    "yuv420p(tv, bt709, progressive), 1920x1080 [SAR 1:1 DAR 16:9], 261 kb/s, 29.97 fps, "
    "29.97 tbr, 30k tbn (default)",
    "[info]     Metadata:",
    "[info]       creation_time   : 2026-11-24T08:57:03.000000Z",
    "[info]   Stream #0:2[0x3](und): Video: mjpeg (Baseline), yuvj420p(pc), 600x600, "
    "90k tbr, 90k tbn (attached pic)",
    "[info] Stream mapping:",
    "[info]   Stream #0:1 -> #0:0 (copy)",
)


def framecrc(video: int, audio: int, *, video_duration: int = 1001) -> list[bytes]:
    """Output 0 is the input's video (#0:1), 1 the cover art (#0:2), 2 the audio (#0:0)."""
    lines = [b"#tb 0: 1/30000\n", b"#tb 1: 1/90000\n", b"#tb 2: 1/48000\n"]
    lines += [f"0, {i * 1001}, {i * 1001}, {video_duration}, 100, 0x0\n".encode()
              for i in range(video)]
    lines.append(b"1, 0, 0, 0, 5000, 0x0, F=0x1\n")
    lines += [f"2, {i * 1024}, {i * 1024}, 1024, 10, 0x0\n".encode() for i in range(audio)]
    return lines


def test_output_streams_map_back_to_the_input_streams() -> None:
    facts = facts_from_ffmpeg(stderr(*HEADER), framecrc(60, 94), target=TARGET, size=1234)
    assert facts.prober == "ffmpeg" and facts.size == 1234
    assert facts.format_name == "mov,mp4,m4a,3gp,3g2,mj2" and facts.duration_ms == 2000
    assert facts.video is not None and facts.audio is not None
    assert (facts.video.codec, facts.video.profile, facts.video.pix_fmt) == \
        ("h264", "High", "yuv420p")
    assert (facts.video.width, facts.video.height, facts.video.packets) == (1920, 1080, 60)
    assert facts.video.frame_rate == "30000/1001"  # exact, from the packet durations
    assert (facts.audio.codec, facts.audio.profile, facts.audio.packets) == ("aac", "LC", 94)
    assert (facts.audio.sample_rate, facts.audio.channels) == (48000, 2)
    assert facts.other_streams == ("video:mjpeg",)  # cover art is not the video
    assert facts.creation_time == "2026-11-24T08:57:03.000000Z"  # from the stream's tags
    assert plan(facts).action is Action.REMUX


def test_tags_are_the_files_own_not_its_chapters() -> None:
    facts = facts_from_ffmpeg(stderr(*HEADER), framecrc(60, 94), target=TARGET, size=1)
    tags = dict(facts.tags)
    assert tags == {"major_brand": "isom", "comment": "ZFY00042/000123",
                    "description": "first line\nsecond line"}


def test_printed_frame_rate_when_packets_carry_no_duration() -> None:
    facts = facts_from_ffmpeg(stderr(*HEADER), framecrc(60, 94, video_duration=0),
                              target=TARGET, size=1)
    assert facts.video is not None and facts.video.frame_rate == "2997/100"


def test_warnings_do_not_disturb_the_description() -> None:
    noisy = (HEADER[0], "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d] [warning] stream 0, timescale "
             "not set", *HEADER[1:])
    facts = facts_from_ffmpeg(stderr(*noisy), framecrc(60, 94), target=TARGET, size=1)
    assert facts.video is not None and facts.video.packets == 60


def test_truncation_by_duration_and_rate() -> None:
    with pytest.raises(VerificationError, match=r"truncated: video packets 30, expected ~59 "):
        facts_from_ffmpeg(stderr(*HEADER), framecrc(30, 94), target=TARGET, size=1)


def test_truncation_by_time_covered() -> None:
    # No frame rate can be worked out (no durations, none printed): the span witness remains.
    header = tuple(line.replace("29.97 fps, ", "").replace("29.97 tbr, ", "")
                   for line in HEADER)
    lines = [b"#tb 0: 1/1000\n", b"#tb 2: 1/1000\n"]
    lines += [f"0, {i * 40}, {i * 40}, 0, 100, 0x0\n".encode() for i in range(25)]  # 0..960
    lines += [f"2, {i * 20}, {i * 20}, 20, 10, 0x0\n".encode() for i in range(50)]  # 0..1000
    with pytest.raises(VerificationError) as caught:
        facts_from_ffmpeg(stderr(*header), lines, target=TARGET, size=1)
    assert caught.value.reason == "truncated: packets cover 1000 ms of the 2000 ms the " \
        "container declares"


@pytest.mark.parametrize(("line", "reason"), [
    ("[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55e5dac52900] [error] moov atom not found",
     "moov atom not found"),
    (f"[error] {TARGET}: Invalid data found when processing input",
     "<input>: Invalid data found when processing input"),  # no host path in the ledger
])
def test_failure_reason_is_ffmpegs_first_error(line: str, reason: str) -> None:
    text = stderr("[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55e5dac52900] [warning] Format mov,mp4 "
                  "detected only with low score of 1, misdetection possible!", line,
                  "[fatal] Error opening input files: Invalid data found when processing input")
    with pytest.raises(VerificationError) as caught:
        facts_from_ffmpeg(text, [], target=TARGET, size=0, returncode=1)
    assert (caught.value.step, caught.value.reason) == ("probe", reason)


@pytest.mark.parametrize("stream_line", [
    "[info]   Stream #0:0 (weird lang): Video: h264, yuv420p, 320x240",  # does not parse
    "[info]   Stream #0:0: Data: bin_data (gpmd / 0x646D7067), 61 kb/s",
])
def test_no_parsable_audio_or_video_fails_closed(stream_line: str) -> None:
    text = stderr(HEADER[0], "[info]   Duration: 00:00:02.00, bitrate: 1 kb/s", stream_line)
    with pytest.raises(VerificationError, match="no audio or video stream"):
        facts_from_ffmpeg(text, [b"#tb 0: 1/1000\n"], target=TARGET, size=1)


def test_no_description_of_the_input_is_refused() -> None:
    other = stderr("[info] Input #0, mov,mp4, from 'file:/elsewhere':")
    with pytest.raises(VerificationError, match="ffmpeg described no input"):
        facts_from_ffmpeg(other, [], target=TARGET, size=1)
