"""The media policy and parsers, as table tests on ffprobe-shaped JSON (no ffmpeg needed).

The integration tests (tests/integration/test_media.py) run the same functions on real clips;
these cover the cases that are awkward to generate: G.711, ADPCM, AMR, 10-bit and 4:2:2 H.264,
odd sizes, cover art, data-only files, and the truncation arithmetic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evidence.errors import VerificationError
from ingest.media import Action, MediaPolicy, parse_probe, plan, progress_positions
from ingest.media.probing import check_complete
from ingest.media.thumbs import positions_ms
from ingest.media.tools import first_reason, tail_reason
from integrity.canonical import canonical_json

MOV = "mov,mp4,m4a,3gp,3g2,mj2"


def video(codec: str = "h264", *, profile: str = "High", pix_fmt: str = "yuv420p",
          width: int = 1920, height: int = 1080, packets: int = 750,
          nb_frames: int | None = 750, duration: str = "30.000000",
          rate: str = "25/1", **extra: Any) -> dict[str, Any]:
    stream: dict[str, Any] = {
        "codec_type": "video", "codec_name": codec, "profile": profile, "pix_fmt": pix_fmt,
        "width": width, "height": height, "avg_frame_rate": rate, "r_frame_rate": rate,
        "nb_read_packets": str(packets), "duration": duration, **extra}
    if nb_frames is not None:
        stream["nb_frames"] = str(nb_frames)
    return stream


def audio(codec: str = "aac", *, packets: int = 1407, nb_frames: int | None = 1407,
          **extra: Any) -> dict[str, Any]:
    stream: dict[str, Any] = {"codec_type": "audio", "codec_name": codec, "sample_rate": "48000",
                              "channels": 1, "nb_read_packets": str(packets),
                              "duration": "30.000000", **extra}
    if nb_frames is not None:
        stream["nb_frames"] = str(nb_frames)
    return stream


def ffprobe_json(*streams: dict[str, Any], fmt: str = MOV,
                 tags: dict[str, str] | None = None) -> dict[str, Any]:
    return {"format": {"format_name": fmt, "duration": "30.000000", "size": "1234",
                       "tags": tags or {}},
            "streams": list(streams)}


@pytest.mark.parametrize(("streams", "fmt", "action", "copied"), [
    ((video(), audio()), MOV, Action.REMUX, ("v", "a")),
    ((video(),), MOV, Action.REMUX, ("v",)),
    ((video(profile="Main"), audio()), MOV, Action.REMUX, ("v", "a")),
    ((video(pix_fmt="yuvj420p", profile="Baseline"), audio()), MOV, Action.REMUX, ("v", "a")),
    ((video(), audio("pcm_s16le", nb_frames=1440000)), MOV, Action.REENCODE_AUDIO, ("v",)),
    ((video(), audio("pcm_alaw", nb_frames=240000)), MOV, Action.REENCODE_AUDIO, ("v",)),
    ((video(), audio("pcm_mulaw", nb_frames=240000)), MOV, Action.REENCODE_AUDIO, ("v",)),
    ((video(), audio("adpcm_ima_wav")), MOV, Action.REENCODE_AUDIO, ("v",)),
    ((video(), audio("amr_nb")), MOV, Action.REENCODE_AUDIO, ("v",)),
    ((video(profile="High 10", pix_fmt="yuv420p10le"), audio()), MOV, Action.TRANSCODE, ()),
    ((video(profile="High 4:2:2", pix_fmt="yuv422p"), audio()), MOV, Action.TRANSCODE, ()),
    ((video("hevc", profile="Main"), audio()), MOV, Action.TRANSCODE, ()),
    ((video("mjpeg", profile="Baseline", pix_fmt="yuvj422p"), audio("pcm_s16le")), MOV,
     Action.TRANSCODE, ()),
    ((video(), audio()), "avi", Action.TRANSCODE, ()),
    ((video(), audio()), "mpegts", Action.TRANSCODE, ()),
    ((audio("amr_nb", nb_frames=None),), "amr", Action.AUDIO, ()),
    ((audio("pcm_s16le", nb_frames=None),), "wav", Action.AUDIO, ()),
    ((audio(),), MOV, Action.AUDIO, ("a",)),
    ((video("mjpeg", packets=1, nb_frames=None, duration="N/A"),), "jpeg_pipe", Action.KEEP, ()),
    ((video("png", packets=1, nb_frames=None, duration="N/A"),), "png_pipe", Action.KEEP, ()),
])
def test_policy_table(streams: tuple[dict[str, Any], ...], fmt: str, action: Action,
                      copied: tuple[str, ...]) -> None:
    chosen = plan(parse_probe(ffprobe_json(*streams, fmt=fmt)))
    assert (chosen.action, chosen.copied) == (action, copied)
    canonical_json(chosen.to_dict())
    if action is not Action.KEEP:
        assert chosen.args.count("{input}") == 1 and chosen.args[-1] == "{output}"


def test_hevc_remux_is_a_policy_choice() -> None:
    facts = parse_probe(ffprobe_json(video("hevc", profile="Main"), audio()))
    chosen = plan(facts, policy=MediaPolicy(remux_hevc=True))
    assert chosen.action is Action.REMUX
    assert "hvc1" in chosen.args
    ten_bit = parse_probe(ffprobe_json(video("hevc", profile="Main 10",
                                             pix_fmt="yuv420p10le"), audio()))
    assert plan(ten_bit, policy=MediaPolicy(remux_hevc=True)).action is Action.TRANSCODE


def test_transcode_settings_and_odd_sizes() -> None:
    chosen = plan(parse_probe(ffprobe_json(video("mjpeg", width=641, height=481), audio())))
    args = list(chosen.args)
    assert args[args.index("-c:v") + 1] == "libx264"
    assert args[args.index("-preset") + 1] == "veryfast"
    assert args[args.index("-crf") + 1] == "23"
    assert args[args.index("-c:a") + 1] == "aac"
    assert args[args.index("-vf") + 1] == "crop=trunc(iw/2)*2:trunc(ih/2)*2"
    assert args[args.index("-movflags") + 1] == "+faststart"
    even = plan(parse_probe(ffprobe_json(video("mjpeg"), audio())))
    assert "-vf" not in even.args


def test_timeouts_scale_with_duration_and_work() -> None:
    facts = parse_probe(ffprobe_json(video(), audio()))
    hevc = parse_probe(ffprobe_json(video("hevc"), audio()))
    policy = MediaPolicy()
    assert plan(facts).timeout_s == policy.min_timeout_s + 30 * policy.copy_timeout_per_media_s
    assert plan(hevc).timeout_s == policy.min_timeout_s + 30 * policy.encode_timeout_per_media_s


def test_plan_argv_uses_file_urls(tmp_path: Path) -> None:
    chosen = plan(parse_probe(ffprobe_json(video(), audio())))
    argv = chosen.argv("/usr/bin/ffmpeg", tmp_path / "-in.mp4", tmp_path / "out.mp4")
    assert argv[0] == "/usr/bin/ffmpeg"
    assert f"file:{tmp_path / '-in.mp4'}" in argv and argv[-1] == f"file:{tmp_path / 'out.mp4'}"


def test_cover_art_is_not_video() -> None:
    cover = video("mjpeg", packets=1, nb_frames=1, disposition={"attached_pic": 1})
    facts = parse_probe(ffprobe_json(audio(), cover))
    assert facts.video is None and facts.other_streams == ("video:mjpeg",)
    assert plan(facts).action is Action.AUDIO


@pytest.mark.parametrize("data", [
    {"format": {"format_name": "tty"}, "streams": []},
    {"format": {"format_name": MOV}, "streams": [{"codec_type": "data", "codec_name": "bin_data"}]},
    {},
])
def test_no_audio_or_video_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(VerificationError, match="no audio or video stream") as caught:
        parse_probe(data)
    assert caught.value.step == "probe"


@pytest.mark.parametrize(("streams", "truncated"), [
    ((video(packets=750), audio()), False),
    ((video(packets=749), audio()), True),  # the index is exact: one packet short is loss
    ((video(packets=750), audio(packets=1000)), True),
    ((video(packets=750), audio("pcm_s16le", packets=1400, nb_frames=1440000)), False),
    # no index count: duration × fps with 2% + 2 frames of slack
    ((video(packets=734, nb_frames=None),), False),
    ((video(packets=700, nb_frames=None),), True),
    ((video(packets=1, nb_frames=None, rate="0/0"),), False),  # unknown rate: no claim
])
def test_truncation(streams: tuple[dict[str, Any], ...], truncated: bool) -> None:
    facts = parse_probe(ffprobe_json(*streams))
    if truncated:
        with pytest.raises(VerificationError) as caught:
            check_complete(facts)
        assert caught.value.reason.startswith("truncated: ")
    else:
        check_complete(facts)


def test_probe_dict_is_canonical_and_bounds_device_tags() -> None:
    tags = {f"k{i:03d}": "x" * 10_000 for i in range(100)}
    tags["creation_time"] = "2026-11-24T08:57:03.000000Z"
    facts = parse_probe(ffprobe_json(video(), audio(), tags=tags))
    body = facts.to_dict()
    encoded = canonical_json(body)
    assert len(encoded) < 16 << 10  # entries are ≤ 64 KiB (docs/ledger-format.md §1)
    assert len(facts.tags) == 32 and all(len(v) <= 256 for _, v in facts.tags)
    assert body["duration_ms"] == 30000
    assert facts.video is not None and facts.video.frame_rate == "25/1"


def test_absurd_header_values_become_none() -> None:
    facts = parse_probe(ffprobe_json(video(packets=10, nb_frames=2**64, duration="1e30")))
    assert facts.video is not None
    assert (facts.video.indexed_frames, facts.video.duration_ms) == (None, None)
    canonical_json(facts.to_dict())


def test_creation_time_falls_back_to_the_stream() -> None:
    facts = parse_probe(ffprobe_json(video(tags={"creation_time": "2026-01-02T03:04:05Z"})))
    assert facts.creation_time == "2026-01-02T03:04:05Z"


def test_progress_blocks() -> None:
    blocks = b"""frame=0
out_time_us=N/A
out_time_ms=N/A
progress=continue
frame=10
out_time_us=400000
out_time_ms=400000
progress=continue
frame=10
out_time_us=400000
progress=continue
out_time_us=1999000
progress=end
"""
    assert list(progress_positions(blocks.splitlines(keepends=True))) == [400, 1999]


def test_reasons_drop_addresses_and_host_paths() -> None:
    stderr = (b"[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55669cdbd1c0] moov atom not found\n"
              b"file:/srv/staging/abc.mp4: Invalid data found when processing input\n")
    assert first_reason(stderr) == "moov atom not found"
    assert tail_reason(stderr, replacements={"file:/srv/staging/abc.mp4": "{input}"}) == \
        "moov atom not found | {input}: Invalid data found when processing input"
    assert first_reason(b"\n\n") == "no message"


def test_thumbnail_positions() -> None:
    assert positions_ms(2000, 5) == [200, 600, 1000, 1400, 1800]
    assert positions_ms(30000, 1) == [15000]


def test_proxy_is_off_by_default_and_only_for_video() -> None:
    from ingest.media import Role, plan_proxy

    facts = parse_probe(ffprobe_json(video(), audio()))
    assert plan_proxy(facts) is None
    on = MediaPolicy(proxy=True)
    proxy = plan_proxy(facts, policy=on)
    assert proxy is not None and (proxy.role, proxy.action) == (Role.PROXY, Action.TRANSCODE)
    assert plan(facts, policy=on).role is Role.PLAYBACK  # the playback copy is unchanged
    assert plan_proxy(parse_probe(ffprobe_json(audio("pcm_s16le", nb_frames=None), fmt="wav")),
                      policy=on) is None
    still = video("mjpeg", packets=1, nb_frames=None, duration="N/A")
    assert plan_proxy(parse_probe(ffprobe_json(still, fmt="jpeg_pipe")), policy=on) is None


def test_proxy_settings() -> None:
    from ingest.media import plan_proxy

    policy = MediaPolicy(proxy=True, proxy_short_side_px=480)
    proxy = plan_proxy(parse_probe(ffprobe_json(video("hevc"), audio("pcm_alaw"))),
                       policy=policy)
    assert proxy is not None
    args = list(proxy.args)
    assert args[args.index("-c:v") + 1] == "libx264"
    assert args[args.index("-crf") + 1] == str(policy.proxy_crf)
    assert (args[args.index("-maxrate") + 1], args[args.index("-bufsize") + 1]) == \
        ("2000k", "4000k")
    assert args[args.index("-pix_fmt") + 1] == "yuv420p"
    assert args[args.index("-vf") + 1] == \
        "scale=w='trunc(iw*min(1\\,480/min(iw\\,ih))/2)*2':h='trunc(ih*min(1\\,480/min(iw\\,ih))/2)*2'"
    assert (args[args.index("-c:a") + 1], args[args.index("-b:a") + 1]) == ("aac", "96k")
    assert args[args.index("-movflags") + 1] == "+faststart" and args[-1] == "{output}"
    assert proxy.copied == () and proxy.suffix == ".mp4"
    assert proxy.to_dict()["role"] == "proxy"
    silent = plan_proxy(parse_probe(ffprobe_json(video())), policy=policy)
    assert silent is not None and "-c:a" not in silent.args
