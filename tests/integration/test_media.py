"""ingest.media against real clips made by ffmpeg (DESIGN.md §3 step 4, issue 5).

One module-scoped fixture generates tiny clips (2 s, 320x240) and the broken inputs, named for
what is wrong with them. Every test that runs ffmpeg on an original checks that the original's
SHA-256 and mtime are unchanged afterwards.
"""

from __future__ import annotations

import hashlib
import itertools
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import imageio_ffmpeg  # type: ignore[import-untyped]  # imageio-ffmpeg ships no types
import pytest

from evidence.errors import UnavailableError, VerificationError
from evidence.ids import Sha256Hex
from ingest.media import (
    Action,
    Derived,
    FfmpegTools,
    MediaPolicy,
    Plan,
    Role,
    derive,
    ffmpeg_version,
    find_ffmpeg,
    photo_thumbnail,
    plan,
    plan_proxy,
    probe,
    stream_hashes,
    thumbnails,
    verify_remux_lossless,
)
from integrity.canonical import canonical_json

FFMPEG = shutil.which("ffmpeg") or "ffmpeg"
FFPROBE = shutil.which("ffprobe") or "ffprobe"
LAVFI_VIDEO = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2"]
LAVFI_AUDIO = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2"]
H264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]  # High, B-frames
DEVICE_TAGS = ["-metadata", "creation_time=2026-11-24T08:57:03Z",
               "-metadata", "comment=ZFY00042/000123",
               "-metadata", "description=警号 000123\nunit 7"]  # a two-line value


@dataclass(frozen=True)
class Clips:
    h264_aac: Path  # not faststart: the remux must move moov to the front
    hevc_aac: Path
    h264_pcm: Path
    mjpeg_avi: Path
    wav: Path
    jpeg: Path
    clip_truncated: Path  # a faststart MP4 cut at 60%: full duration, missing packets
    clip_corrupt_header: Path  # the same MP4 with its first 4 KiB (ftyp, moov) overwritten
    zero_byte: Path
    text_named_mp4: Path
    jpeg_named_mp4: Path
    h264_1080p: Path  # 1 s 1920x1080: the proxy scales it down
    portrait: Path  # 1 s 1080x1920 (a recorder worn sideways)
    audio_truncated: Path  # a faststart AAC M4A cut at 60%


def _ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-nostdin", "-hide_banner", "-v", "error", "-y", *args],
                   check=True, capture_output=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    d = tmp_path_factory.mktemp("clips")
    c = Clips(h264_aac=d / "h264_aac.mp4", hevc_aac=d / "hevc_aac.mp4",
              h264_pcm=d / "h264_pcm.mov", mjpeg_avi=d / "mjpeg.avi", wav=d / "audio.wav",
              jpeg=d / "photo.jpg", clip_truncated=d / "clip_truncated.mp4",
              clip_corrupt_header=d / "clip_corrupt_header.mp4",
              zero_byte=d / "zero_byte.mp4", text_named_mp4=d / "text_named.mp4",
              jpeg_named_mp4=d / "jpeg_named.mp4", h264_1080p=d / "h264_1080p.mp4",
              portrait=d / "portrait.mp4", audio_truncated=d / "audio_truncated.m4a")
    _ffmpeg(*LAVFI_VIDEO, *LAVFI_AUDIO, *H264, "-c:a", "aac", *DEVICE_TAGS, str(c.h264_aac))
    _ffmpeg(*LAVFI_VIDEO, *LAVFI_AUDIO, "-c:v", "libx265", "-preset", "ultrafast",
            "-x265-params", "log-level=error", "-pix_fmt", "yuv420p", "-tag:v", "hvc1",
            "-c:a", "aac", str(c.hevc_aac))
    _ffmpeg(*LAVFI_VIDEO, *LAVFI_AUDIO, *H264, "-c:a", "pcm_s16le", str(c.h264_pcm))
    _ffmpeg(*LAVFI_VIDEO, *LAVFI_AUDIO, "-c:v", "mjpeg", "-q:v", "5", "-c:a", "pcm_s16le",
            str(c.mjpeg_avi))
    _ffmpeg(*LAVFI_AUDIO, "-c:a", "pcm_s16le", str(c.wav))
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", str(c.jpeg))
    whole = d / "faststart_whole.mp4"
    _ffmpeg(*LAVFI_VIDEO, *LAVFI_AUDIO, *H264, "-c:a", "aac", "-movflags", "+faststart",
            str(whole))
    data = whole.read_bytes()
    c.clip_truncated.write_bytes(data[: len(data) * 6 // 10])
    c.clip_corrupt_header.write_bytes(bytes(range(256)) * 16 + data[4096:])
    c.zero_byte.write_bytes(b"")
    c.text_named_mp4.write_text("not a video: a recorder's log line\n")
    shutil.copyfile(c.jpeg, c.jpeg_named_mp4)
    for path, size in ((c.h264_1080p, "1920x1080"), (c.portrait, "1080x1920")):
        _ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration=1",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                str(path))
    whole_audio = d / "audio_whole.m4a"
    _ffmpeg(*LAVFI_AUDIO, "-c:a", "aac", "-movflags", "+faststart", str(whole_audio))
    data = whole_audio.read_bytes()
    c.audio_truncated.write_bytes(data[: len(data) * 6 // 10])
    return c


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "derived"


def sha256(path: Path) -> Sha256Hex:
    return Sha256Hex(hashlib.sha256(path.read_bytes()).hexdigest())


Keep = Callable[[Path], None]


@pytest.fixture
def untouched() -> Iterator[Keep]:
    """Register originals; after the test, each has the bytes and mtime it had before."""
    before: dict[Path, tuple[str, int]] = {}

    def keep(path: Path) -> None:
        before[path] = (sha256(path), path.stat().st_mtime_ns)

    yield keep
    for path, (digest, mtime) in before.items():
        assert (sha256(path), path.stat().st_mtime_ns) == (digest, mtime), path


def run_derive(src: Path, out_dir: Path, chosen: Plan, *,
               parent: Sha256Hex | None = None) -> Derived:
    """derive, then the checks every derivative must pass."""
    result = derive(src, out_dir, chosen, ffmpeg=FFMPEG, parent=parent)
    assert result.sha256 == sha256(result.path)
    assert result.size == result.path.stat().st_size
    assert result.parent == sha256(src)
    assert result.path.name.startswith(result.parent)
    assert result.ffmpeg_version.startswith("ffmpeg version")
    assert not list(out_dir.glob(".*.part"))  # no temporary file left behind
    canonical_json(result.to_dict())  # ledger-ready: no floats, no bytes
    return result


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level box types in file order."""
    boxes = []
    data = path.read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8:offset + 16])[0]
        boxes.append(kind.decode("latin-1"))
        if size < 8:
            break
        offset += size
    return boxes


def assert_playable(path: Path) -> None:
    """ffmpeg decodes every frame with no error."""
    done = subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-xerror", "-i", str(path),
                           "-f", "null", "-"], capture_output=True, check=False)
    assert done.returncode == 0 and not done.stderr, done.stderr


# -- probe ----------------------------------------------------------------------------------------

def test_probe_reports_container_streams_and_device_tags(clips: Clips) -> None:
    facts = probe(clips.h264_aac, ffprobe=FFPROBE)
    assert "mp4" in facts.format_name
    assert facts.duration_ms is not None and abs(facts.duration_ms - 2000) <= 50
    assert facts.video is not None and facts.audio is not None
    assert (facts.video.codec, facts.video.profile, facts.video.pix_fmt) == \
        ("h264", "High", "yuv420p")
    assert (facts.video.width, facts.video.height, facts.video.frame_rate) == (320, 240, "25/1")
    assert facts.video.packets == facts.video.indexed_frames == 50
    assert (facts.audio.codec, facts.audio.sample_rate, facts.audio.channels) == ("aac", 48000, 1)
    assert facts.creation_time is not None and facts.creation_time.startswith("2026-11-24T08:57:03")
    assert dict(facts.tags)["comment"] == "ZFY00042/000123"


def test_probe_result_is_canonical_json_without_floats(clips: Clips) -> None:
    for path in (clips.h264_aac, clips.h264_pcm, clips.mjpeg_avi, clips.wav, clips.jpeg):
        body = probe(path, ffprobe=FFPROBE).to_dict()
        canonical_json(body)  # raises ValueError on a float
        assert all(isinstance(v, (int, str, bool, list, dict, type(None)))
                   for v in _leaves(body))


def _leaves(value: object) -> Iterator[object]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


@pytest.mark.parametrize(("name", "action"), [
    ("h264_aac", Action.REMUX),
    ("hevc_aac", Action.TRANSCODE),  # DESIGN.md §3 step 4: HEVC → transcode by default
    ("h264_pcm", Action.REENCODE_AUDIO),
    ("mjpeg_avi", Action.TRANSCODE),
    ("wav", Action.AUDIO),
    ("jpeg", Action.KEEP),
    ("jpeg_named_mp4", Action.KEEP),  # the container decides, not the extension
])
def test_each_clip_takes_its_plan(clips: Clips, name: str, action: Action) -> None:
    assert plan(probe(getattr(clips, name), ffprobe=FFPROBE)).action is action


def test_hevc_is_remuxed_when_the_policy_allows_it(clips: Clips) -> None:
    chosen = plan(probe(clips.hevc_aac, ffprobe=FFPROBE), policy=MediaPolicy(remux_hevc=True))
    assert chosen.action is Action.REMUX
    assert chosen.args[chosen.args.index("-tag:v"):][:2] == ("-tag:v", "hvc1")


def test_jpeg_named_mp4_probes_as_jpeg(clips: Clips) -> None:
    facts = probe(clips.jpeg_named_mp4, ffprobe=FFPROBE)
    assert facts.format_name == "jpeg_pipe"
    assert facts.still


def _ffprobe_stderr(path: Path) -> str:
    done = subprocess.run([FFPROBE, "-v", "error", "-show_format", str(path)],
                          capture_output=True, check=False)
    assert done.returncode != 0
    return done.stderr.decode()


@pytest.mark.parametrize("name", ["zero_byte", "text_named_mp4", "clip_corrupt_header"])
def test_non_media_raises_with_ffprobes_own_reason(clips: Clips, name: str) -> None:
    path: Path = getattr(clips, name)
    with pytest.raises(VerificationError) as caught:
        probe(path, ffprobe=FFPROBE)
    assert caught.value.step == "probe"
    reason = caught.value.reason
    assert reason and reason in _ffprobe_stderr(path)
    assert str(path.parent) not in reason  # no host path in what may reach the ledger
    assert reason in {"moov atom not found", "Invalid data found when processing input"}


def test_truncated_faststart_mp4_is_caught_by_packet_count(clips: Clips) -> None:
    # ffprobe itself accepts the file and still reports the full 2 s: the index is intact.
    done = subprocess.run([FFPROBE, "-v", "quiet", "-show_entries", "format=duration", "-of",
                           "csv=p=0", str(clips.clip_truncated)], capture_output=True, check=True)
    assert done.stdout.strip() == b"2.000000"
    with pytest.raises(VerificationError) as caught:
        probe(clips.clip_truncated, ffprobe=FFPROBE)
    assert caught.value.step == "probe"
    assert caught.value.reason.startswith("truncated: video packets ")
    assert "of 50 in the index" in caught.value.reason


def test_missing_ffprobe_is_unavailable(clips: Clips, tmp_path: Path) -> None:
    with pytest.raises(UnavailableError):
        probe(clips.h264_aac, ffprobe=str(tmp_path / "no-ffprobe"))


# -- derive ---------------------------------------------------------------------------------------

def test_remux_is_faststart_and_proven_lossless(clips: Clips, out_dir: Path,
                                                untouched: Keep) -> None:
    untouched(clips.h264_aac)
    assert top_level_boxes(clips.h264_aac).index("moov") > \
        top_level_boxes(clips.h264_aac).index("mdat")
    chosen = plan(probe(clips.h264_aac, ffprobe=FFPROBE))
    result = run_derive(clips.h264_aac, out_dir, chosen)
    boxes = top_level_boxes(result.path)
    assert boxes.index("moov") < boxes.index("mdat")  # faststart
    hashes = verify_remux_lossless(clips.h264_aac, result.path, kinds=chosen.copied,
                                   ffmpeg=FFMPEG)
    assert set(hashes) == {"v", "a"} and all(h.startswith("SHA256=") for h in hashes.values())
    assert result.ledger_argv[0] == "ffmpeg" and "{input}" in result.ledger_argv
    assert str(out_dir) not in " ".join(result.ledger_argv)
    assert "-c" in result.argv and "copy" in result.argv


def test_streamhash_catches_a_reencoded_stream(clips: Clips, out_dir: Path) -> None:
    transcode = plan(probe(clips.hevc_aac, ffprobe=FFPROBE))
    result = run_derive(clips.hevc_aac, out_dir, transcode)
    with pytest.raises(VerificationError) as caught:
        verify_remux_lossless(clips.hevc_aac, result.path, kinds=("v",), ffmpeg=FFMPEG)
    assert "stream v" in caught.value.reason


def test_pcm_audio_is_reencoded_and_video_copied(clips: Clips, out_dir: Path,
                                                 untouched: Keep) -> None:
    untouched(clips.h264_pcm)
    chosen = plan(probe(clips.h264_pcm, ffprobe=FFPROBE))
    assert chosen.copied == ("v",)
    result = run_derive(clips.h264_pcm, out_dir, chosen)
    verify_remux_lossless(clips.h264_pcm, result.path, kinds=chosen.copied, ffmpeg=FFMPEG)
    facts = probe(result.path, ffprobe=FFPROBE)
    assert facts.audio is not None and facts.audio.codec == "aac"
    assert stream_hashes(clips.h264_pcm, "a", ffmpeg=FFMPEG) != \
        stream_hashes(result.path, "a", ffmpeg=FFMPEG)


@pytest.mark.parametrize("name", ["mjpeg_avi", "hevc_aac"])
def test_transcode_produces_playable_h264(clips: Clips, out_dir: Path, untouched: Keep,
                                          name: str) -> None:
    src: Path = getattr(clips, name)
    untouched(src)
    chosen = plan(probe(src, ffprobe=FFPROBE))
    assert chosen.action is Action.TRANSCODE
    assert list(chosen.args[chosen.args.index("-preset"):][:4]) == \
        ["-preset", "veryfast", "-crf", "23"]
    result = run_derive(src, out_dir, chosen)
    facts = probe(result.path, ffprobe=FFPROBE)
    assert "mp4" in facts.format_name
    assert facts.video is not None and facts.audio is not None
    assert (facts.video.codec, facts.video.pix_fmt, facts.audio.codec) == \
        ("h264", "yuv420p", "aac")
    assert facts.duration_ms is not None and abs(facts.duration_ms - 2000) <= 100
    assert plan(facts).action is Action.REMUX  # the playback copy is itself the target form
    assert_playable(result.path)


def test_audio_only_becomes_aac_m4a(clips: Clips, out_dir: Path, untouched: Keep) -> None:
    untouched(clips.wav)
    result = run_derive(clips.wav, out_dir, plan(probe(clips.wav, ffprobe=FFPROBE)))
    assert result.path.suffix == ".m4a"
    facts = probe(result.path, ffprobe=FFPROBE)
    assert facts.video is None and facts.audio is not None and facts.audio.codec == "aac"
    assert_playable(result.path)


def test_progress_is_reported_in_increasing_ms(clips: Clips, out_dir: Path) -> None:
    chosen = plan(probe(clips.mjpeg_avi, ffprobe=FFPROBE))
    seen: list[int] = []
    derive(clips.mjpeg_avi, out_dir, chosen, progress=seen.append, ffmpeg=FFMPEG,
           progress_period_s=0.01)
    assert len(seen) >= 2
    assert all(a < b for a, b in itertools.pairwise(seen))
    assert seen[-1] >= 1900


def test_a_progress_callback_error_stops_ffmpeg(clips: Clips, out_dir: Path) -> None:
    def fail(_ms: int) -> None:
        raise RuntimeError("display gone")

    with pytest.raises(RuntimeError):
        derive(clips.mjpeg_avi, out_dir, plan(probe(clips.mjpeg_avi, ffprobe=FFPROBE)),
               progress=fail, ffmpeg=FFMPEG, progress_period_s=0.01)
    assert not list(out_dir.iterdir())


def test_ffmpeg_failure_is_a_verification_error_with_its_stderr(
        clips: Clips, out_dir: Path, untouched: Keep) -> None:
    untouched(clips.text_named_mp4)
    remux = plan(probe(clips.h264_aac, ffprobe=FFPROBE))
    with pytest.raises(VerificationError) as caught:
        derive(clips.text_named_mp4, out_dir, remux, ffmpeg=FFMPEG)
    assert caught.value.step == "derive"
    assert "moov atom not found" in caught.value.reason
    assert str(clips.text_named_mp4) not in caught.value.reason
    assert not list(out_dir.iterdir())


def test_timeout_stops_ffmpeg_as_unavailable(clips: Clips, out_dir: Path) -> None:
    chosen = plan(probe(clips.mjpeg_avi, ffprobe=FFPROBE))
    with pytest.raises(UnavailableError, match="longer than"):
        derive(clips.mjpeg_avi, out_dir, chosen, ffmpeg=FFMPEG, timeout_s=0.001)
    assert not list(out_dir.iterdir())


def test_keep_plan_derives_nothing(clips: Clips, out_dir: Path) -> None:
    with pytest.raises(ValueError, match="keep"):
        derive(clips.jpeg, out_dir, plan(probe(clips.jpeg, ffprobe=FFPROBE)), ffmpeg=FFMPEG)


def test_derive_is_idempotent_for_a_copy(clips: Clips, out_dir: Path) -> None:
    chosen = plan(probe(clips.h264_aac, ffprobe=FFPROBE))
    first = run_derive(clips.h264_aac, out_dir, chosen)
    second = run_derive(clips.h264_aac, out_dir, chosen, parent=first.parent)
    assert (first.path, first.sha256) == (second.path, second.sha256)


# -- thumbnails -----------------------------------------------------------------------------------

def test_thumbnails_are_at_the_requested_positions(clips: Clips, out_dir: Path,
                                                   untouched: Keep) -> None:
    untouched(clips.h264_aac)
    result = thumbnails(clips.h264_aac, out_dir, count=5)
    assert [f.requested_ms for f in result.frames] == [200, 600, 1000, 1400, 1800]
    assert not result.missed
    for frame in result.frames:
        assert frame.actual_ms is not None and frame.requested_ms is not None
        assert abs(frame.actual_ms - frame.requested_ms) <= 40  # one frame at 25 fps
        image = cv2.imread(str(frame.path))
        assert image is not None and image.shape[:2] == (240, 320)
        assert frame.sha256 == sha256(frame.path)
    assert result.paths == [f.path for f in result.frames]
    assert result.strip is not None
    strip = cv2.imread(str(result.strip.path))
    assert strip is not None and strip.shape[:2] == (240, 5 * 320)
    canonical_json(result.to_dict())


def test_thumbnails_flag_off_position_frames_of_a_truncated_clip(
        clips: Clips, out_dir: Path, untouched: Keep) -> None:
    untouched(clips.clip_truncated)
    result = thumbnails(clips.clip_truncated, out_dir, count=5)
    delivered = [f.requested_ms for f in result.frames]
    assert delivered[:2] == [200, 600]
    missed = {m.requested_ms: m for m in result.missed}
    assert {1400, 1800} <= set(missed)
    for m in missed.values():  # OpenCV "succeeded" but returned an earlier frame
        assert m.actual_ms is None or m.actual_ms < m.requested_ms - 40
    assert len(result.frames) + len(result.missed) == 5
    assert len(list(out_dir.glob("*.thumb-*.jpg"))) == len(result.frames)


def test_photo_thumbnail_whatever_its_name(clips: Clips, out_dir: Path,
                                           untouched: Keep) -> None:
    untouched(clips.jpeg_named_mp4)
    result = photo_thumbnail(clips.jpeg_named_mp4, out_dir)
    (frame,) = result.frames
    assert frame.path.name == f"{sha256(clips.jpeg_named_mp4)}.thumb.jpg"
    image = cv2.imread(str(frame.path))
    assert image is not None and image.shape[1] == 320


def test_photo_thumbnail_refuses_non_images(clips: Clips, out_dir: Path) -> None:
    with pytest.raises(VerificationError):
        photo_thumbnail(clips.text_named_mp4, out_dir)


# -- tools ----------------------------------------------------------------------------------------

def test_find_ffmpeg_prefers_the_system_binaries() -> None:
    tools = find_ffmpeg()
    assert Path(tools.ffmpeg).name == "ffmpeg"
    assert tools.require_ffprobe().endswith("ffprobe")


def test_find_ffmpeg_without_any_binary_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(UnavailableError, match="apt-get install ffmpeg"):
        find_ffmpeg(search=[tmp_path], wheel=False)


def test_ffmpeg_without_ffprobe_cannot_probe() -> None:
    with pytest.raises(UnavailableError, match="ffprobe"):
        FfmpegTools(ffmpeg=FFMPEG, ffprobe=None).require_ffprobe()


def test_truncated_audio_is_caught_by_its_index(clips: Clips) -> None:
    with pytest.raises(VerificationError) as caught:
        probe(clips.audio_truncated, ffprobe=FFPROBE)
    assert caught.value.reason.startswith("truncated: audio packets ")


# -- probing without ffprobe (the imageio-ffmpeg wheel) -------------------------------------------

# What ffmpeg's log cannot say (docs/media.md): the index's frame counts, per-stream durations,
# bits per raw sample.
LOST = ("indexed_frames", "duration_ms", "bits_per_raw_sample")
PROBED = ["h264_aac", "hevc_aac", "h264_pcm", "mjpeg_avi", "wav", "jpeg", "jpeg_named_mp4",
          "h264_1080p", "portrait"]


@pytest.fixture(scope="module")
def wheel_tools(tmp_path_factory: pytest.TempPathFactory) -> FfmpegTools:
    """The tools a station without system ffmpeg finds: the imageio-ffmpeg wheel's binary, and
    no ffprobe. Fails (never skips) when the pinned wheel or its binary is missing."""
    tools = find_ffmpeg(search=[tmp_path_factory.mktemp("no-system-ffmpeg")])
    assert tools.ffprobe is None
    assert tools.ffmpeg == imageio_ffmpeg.get_ffmpeg_exe()
    assert "imageio_ffmpeg" in tools.ffmpeg  # the wheel's own binary, not a system fallback
    assert ffmpeg_version(tools.ffmpeg) != ffmpeg_version(FFMPEG)  # really another build
    return tools


def _without_lost_facts(facts: dict[str, object], *, pcm_packets: bool) -> dict[str, object]:
    out = dict(facts, prober=None)
    for kind in ("video", "audio"):
        stream = out[kind]
        if isinstance(stream, dict):
            stream = {k: v for k, v in stream.items() if k not in LOST}
            # PCM packets are however many samples the demuxer groups: 44 per 2 s in ffmpeg
            # 5.1, 22 in 9.0. Nothing uses them (check_complete skips PCM).
            if not pcm_packets and str(stream["codec"]).startswith("pcm_"):
                stream["packets"] = None
            out[kind] = stream
    return out


@pytest.mark.parametrize("binary", ["system", "wheel"])
@pytest.mark.parametrize("name", PROBED)
def test_probe_through_ffmpeg_alone_matches_ffprobe(
        clips: Clips, wheel_tools: FfmpegTools, untouched: Keep, name: str, binary: str) -> None:
    path: Path = getattr(clips, name)
    untouched(path)
    ffmpeg = FFMPEG if binary == "system" else wheel_tools.ffmpeg
    expected = probe(path, ffprobe=FFPROBE)
    got = probe(path, ffprobe=None, ffmpeg=ffmpeg)
    assert (expected.prober, got.prober) == ("ffprobe", "ffmpeg")
    same_release = binary == "system"
    assert _without_lost_facts(got.to_dict(), pcm_packets=same_release) == \
        _without_lost_facts(expected.to_dict(), pcm_packets=same_release)
    assert got.video is None or got.video.indexed_frames is None  # lost, not guessed
    assert plan(got) == plan(expected)
    canonical_json(got.to_dict())


def test_probe_through_ffmpeg_keeps_device_tags(clips: Clips, wheel_tools: FfmpegTools) -> None:
    tags = dict(probe(clips.h264_aac, ffprobe=None, ffmpeg=wheel_tools.ffmpeg).tags)
    assert tags["comment"] == "ZFY00042/000123"
    assert tags["description"] == "警号 000123\nunit 7"  # a continued line, rejoined
    assert tags["creation_time"].startswith("2026-11-24T08:57:03")


@pytest.mark.parametrize("binary", ["system", "wheel"])
@pytest.mark.parametrize("name", ["zero_byte", "text_named_mp4", "clip_corrupt_header"])
def test_probe_through_ffmpeg_gives_the_same_reason_as_ffprobe(
        clips: Clips, wheel_tools: FfmpegTools, name: str, binary: str) -> None:
    path: Path = getattr(clips, name)
    ffmpeg = FFMPEG if binary == "system" else wheel_tools.ffmpeg
    with pytest.raises(VerificationError) as by_ffprobe:
        probe(path, ffprobe=FFPROBE)
    with pytest.raises(VerificationError) as by_ffmpeg:
        probe(path, ffprobe=None, ffmpeg=ffmpeg)
    assert by_ffmpeg.value.step == "probe"
    assert by_ffmpeg.value.reason == by_ffprobe.value.reason
    assert str(path.parent) not in by_ffmpeg.value.reason


@pytest.mark.parametrize("binary", ["system", "wheel"])
def test_probe_through_ffmpeg_catches_truncation(clips: Clips, wheel_tools: FfmpegTools,
                                                 binary: str) -> None:
    ffmpeg = FFMPEG if binary == "system" else wheel_tools.ffmpeg
    with pytest.raises(VerificationError) as video:  # witness 1: packets vs duration × rate
        probe(clips.clip_truncated, ffprobe=None, ffmpeg=ffmpeg)
    assert video.value.reason.startswith("truncated: video packets ")
    assert "expected ~50 for 2000 ms at 25/1 fps" in video.value.reason
    with pytest.raises(VerificationError) as audio:  # witness 2: time covered vs duration
        probe(clips.audio_truncated, ffprobe=None, ffmpeg=ffmpeg)
    assert audio.value.reason.startswith("truncated: packets cover ")
    assert audio.value.reason.endswith("of the 2000 ms the container declares")


def test_wheel_alone_remuxes_and_proves_it(clips: Clips, wheel_tools: FfmpegTools,
                                           out_dir: Path, untouched: Keep) -> None:
    untouched(clips.h264_aac)
    ffmpeg = wheel_tools.ffmpeg
    chosen = plan(probe(clips.h264_aac, ffprobe=wheel_tools.ffprobe, ffmpeg=ffmpeg))
    assert chosen.action is Action.REMUX
    result = derive(clips.h264_aac, out_dir, chosen, ffmpeg=ffmpeg)
    assert result.ffmpeg_version == ffmpeg_version(ffmpeg)
    verify_remux_lossless(clips.h264_aac, result.path, kinds=chosen.copied, ffmpeg=ffmpeg)
    again = probe(result.path, ffprobe=None, ffmpeg=ffmpeg)
    assert plan(again).action is Action.REMUX  # the copy is itself the target form
    boxes = top_level_boxes(result.path)
    assert boxes.index("moov") < boxes.index("mdat")


def test_probe_through_a_missing_ffmpeg_is_unavailable(clips: Clips, tmp_path: Path) -> None:
    with pytest.raises(UnavailableError):
        probe(clips.h264_aac, ffprobe=None, ffmpeg=str(tmp_path / "no-ffmpeg"))


# -- the ≤ 720p proxy -----------------------------------------------------------------------------

PROXY = MediaPolicy(proxy=True)


def test_no_proxy_unless_the_policy_asks(clips: Clips) -> None:
    facts = probe(clips.h264_1080p, ffprobe=FFPROBE)
    assert plan_proxy(facts) is None
    assert plan_proxy(facts, policy=PROXY) is not None
    for name in ("wav", "jpeg"):  # no video: nothing to make smaller
        assert plan_proxy(probe(getattr(clips, name), ffprobe=FFPROBE), policy=PROXY) is None


@pytest.mark.parametrize(("name", "size"), [
    ("h264_1080p", (1280, 720)),
    ("portrait", (720, 1280)),  # 720p is the shorter side
    ("h264_aac", (320, 240)),  # never scaled up
    ("mjpeg_avi", (320, 240)),
])
def test_proxy_is_720p_h264_aac_faststart(clips: Clips, out_dir: Path, untouched: Keep,
                                          name: str, size: tuple[int, int]) -> None:
    src: Path = getattr(clips, name)
    untouched(src)
    source = probe(src, ffprobe=FFPROBE)
    proxy = plan_proxy(source, policy=PROXY)
    assert proxy is not None and proxy.role is Role.PROXY
    result = run_derive(src, out_dir, proxy)
    assert result.role is Role.PROXY and result.to_dict()["role"] == "proxy"
    assert result.path.name == f"{result.parent}.proxy.mp4"
    facts = probe(result.path, ffprobe=FFPROBE)
    assert "mp4" in facts.format_name
    assert facts.video is not None and facts.audio is not None
    assert (facts.video.codec, facts.video.pix_fmt, facts.audio.codec) == \
        ("h264", "yuv420p", "aac")
    assert (facts.video.width, facts.video.height) == size
    assert source.duration_ms is not None and facts.duration_ms is not None
    assert abs(facts.duration_ms - source.duration_ms) <= 100
    boxes = top_level_boxes(result.path)
    assert boxes.index("moov") < boxes.index("mdat")  # faststart
    assert_playable(result.path)


def test_proxy_and_playback_copy_sit_side_by_side(clips: Clips, out_dir: Path) -> None:
    facts = probe(clips.h264_1080p, ffprobe=FFPROBE)
    proxy = plan_proxy(facts, policy=PROXY)
    assert proxy is not None
    playback = run_derive(clips.h264_1080p, out_dir, plan(facts, policy=PROXY))
    small = run_derive(clips.h264_1080p, out_dir, proxy)
    assert playback.path != small.path and playback.role is Role.PLAYBACK
    assert small.size < playback.size
    assert {p.name for p in out_dir.iterdir()} == {playback.path.name, small.path.name}
