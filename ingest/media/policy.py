"""The playback-copy policy: which ffmpeg command turns an original into what the web UI plays.

DESIGN.md §3 step 4. The playback copy is what a case officer or reviewer watches in a browser:
H.264 (8-bit 4:2:0) + AAC in a faststart MP4 plays everywhere. Whatever already is that gets its
packets copied (fast, provably lossless with ``-f streamhash``); the rest is re-encoded.

- H.264 8-bit 4:2:0 with AAC or no audio, in MP4/MOV → ``remux``: ``-c copy -movflags
  +faststart``;
- the same video with other audio (PCM, G.711, ADPCM, AMR, MP3, ...) → ``reencode_audio``: copy
  the video, encode the audio to AAC;
- HEVC, MJPEG, 10-bit or 4:2:2 H.264, other containers (AVI, ...) → ``transcode``: libx264
  veryfast CRF 23 + AAC;
- audio only (WAV, AMR, ...) → ``audio``: AAC in M4A (copied when it already is AAC in MP4);
- a still picture (JPEG, ...) → ``keep``: the original is the viewing copy; a thumbnail only.

With ``MediaPolicy(proxy=True)`` every original with video also gets a **proxy** for slow links
(issue 5): H.264/AAC in a faststart MP4, its shorter side scaled down to at most 720 px (aspect
kept, never scaled up), CRF 28 with a bitrate cap. It is a second plan (:func:`plan_proxy`) made
from the original, not from the playback copy, so it is one generation from the evidence.

HEVC is transcoded by default, as DESIGN.md §3 step 4 says (browsers without a hardware HEVC
decoder cannot play it); ``MediaPolicy(remux_hevc=True)`` copies it instead, as issue 5's wording
(H.264/H.265 → remux) has it, for deployments whose viewers all play HEVC.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from ingest.media.probing import AudioInfo, Probe, VideoInfo

INPUT = "{input}"  # placeholders in Plan.args; derive substitutes the real paths
OUTPUT = "{output}"
MP4_FAMILY = frozenset({"mov,mp4,m4a,3gp,3g2,mj2"})  # ffprobe's name for the mov demuxer
COPY_PIX_FMTS = frozenset({"yuv420p", "yuvj420p"})  # 8-bit 4:2:0: what every H.264 decoder plays
COPY_H264_PROFILES = frozenset({"Constrained Baseline", "Baseline", "Main", "High", "Extended"})


class Role(enum.StrEnum):
    """What a derivative is for (``role`` of each item of a ``derived`` entry's derivatives)."""

    PLAYBACK = "playback"  # what the web UI plays: full resolution, copied where possible
    PROXY = "proxy"  # ≤ 720p, bitrate-capped: for reviewers on slow links


class Action(enum.StrEnum):
    """What derive does with an original (the ``action`` of a ``derived`` ledger entry)."""

    REMUX = "remux"
    REENCODE_AUDIO = "reencode_audio"
    TRANSCODE = "transcode"
    AUDIO = "audio"
    KEEP = "keep"


@dataclass(frozen=True)
class MediaPolicy:
    """Settings of the playback-copy policy, built once by the composition root."""

    remux_hevc: bool = False  # DESIGN.md §3 step 4: HEVC → transcode; True copies it (hvc1 tag)
    preset: str = "veryfast"
    crf: int = 23
    audio_bitrate: str = "128k"
    min_timeout_s: int = 60  # even a tiny clip gets a minute (process start, a busy machine)
    copy_timeout_per_media_s: int = 1  # wall seconds per media second when copying (~300× rt)
    # libx264 veryfast at 1080p runs ~1.9× realtime on 2 cores (DESIGN.md §3 step 4): 0.5 s per
    # media second; 8 leaves room for the low-priority queue sharing the machine.
    encode_timeout_per_media_s: int = 8
    # Issue 5: the optional proxy for slow links. Off by default: it is a second encode of every
    # clip (~0.5 s per media second at 1080p on 2 cores), in the media stage's own queue.
    proxy: bool = False
    proxy_short_side_px: int = 720  # "720p" is the shorter side, so portrait clips are 720 wide
    proxy_crf: int = 28  # ~half the bits of CRF 23; a reviewer on a slow link wants it to start
    proxy_max_kbps: int = 2000  # caps peaks (a running officer's footage) that CRF alone allows
    proxy_audio_bitrate: str = "96k"


@dataclass(frozen=True)
class Plan:
    """The action, why it was chosen, and the ffmpeg arguments that carry it out.

    ``args`` are the exact arguments after the ffmpeg binary, with ``{input}`` and ``{output}``
    placeholders; :func:`ingest.media.deriving.derive` substitutes the paths and adds only
    transport options (``-progress pipe:1 -nostats -stats_period``). ``copied`` names the
    stream kinds (``v``, ``a``) whose packets are copied, which ``-f streamhash`` can prove
    lossless. ``timeout_s`` bounds the run. ``role`` names the derivative (and its file name).
    """

    action: Action
    reason: str
    args: tuple[str, ...]
    suffix: str
    copied: tuple[str, ...]
    timeout_s: int
    role: Role = Role.PLAYBACK

    def argv(self, ffmpeg: str, src: Path, out: Path) -> list[str]:
        """The full command line for ``src`` → ``out`` (``file:`` URLs, so that no path is ever
        read as an option or another protocol)."""
        paths = {INPUT: f"file:{src}", OUTPUT: f"file:{out}"}
        return [ffmpeg, *(paths.get(arg, arg) for arg in self.args)]

    def to_dict(self) -> dict[str, object]:
        """JSON-able (no floats), for the ``derived`` ledger entry."""
        return {"action": self.action.value, "role": self.role.value, "reason": self.reason,
                "args": list(self.args), "copied": list(self.copied)}


def plan(probe: Probe, *, policy: MediaPolicy | None = None) -> Plan:
    """Choose the action for a probed original (see the table at the top of this module)."""
    policy = policy or MediaPolicy()
    if probe.still:
        return Plan(Action.KEEP, f"still picture ({probe.format_name})", (), "", (), 0)
    if probe.video is None:
        return _audio_plan(probe, probe.audio, policy)
    why_not = _why_not_copy_video(probe, probe.video, policy)
    if why_not:
        return _transcode(probe, probe.video, policy, why_not)
    audio = probe.audio
    if audio is None or audio.codec == "aac":
        return _remux(probe, probe.video, policy)
    return _reencode_audio(probe, probe.video, audio, policy)


def plan_proxy(probe: Probe, *, policy: MediaPolicy | None = None) -> Plan | None:
    """The ≤ 720p proxy plan (a transcode, role ``proxy``), or None when the policy asks for no
    proxy or the original has no video (audio only, a still picture)."""
    policy = policy or MediaPolicy()
    if not policy.proxy or probe.still or probe.video is None:
        return None
    video = probe.video
    # The factor applies to both sides, so the aspect ratio is kept (to the even pixel that
    # yuv420p needs); min(1, ...) never scales up. iw/ih are after ffmpeg's autorotation, so a
    # portrait clip stored as landscape plus a rotation tag is sized as it is displayed.
    side = policy.proxy_short_side_px
    factor = f"min(1\\,{side}/min(iw\\,ih))"
    scale = (f"scale=w='trunc(iw*{factor}/2)*2':h='trunc(ih*{factor}/2)*2'")
    rate = policy.proxy_max_kbps
    args = [*_head(), *_video_maps(probe), "-c:v", "libx264", "-preset", policy.preset,
            "-crf", str(policy.proxy_crf), "-maxrate", f"{rate}k", "-bufsize", f"{2 * rate}k",
            "-pix_fmt", "yuv420p", "-vf", scale,
            *(["-c:a", "aac", "-b:a", policy.proxy_audio_bitrate] if probe.audio else []),
            *_tail("mp4")]
    reason = f"proxy ≤ {side}p of {video.codec} {video.width}x{video.height}"
    return Plan(Action.TRANSCODE, reason, tuple(args), ".mp4", (),
                _timeout(probe, policy, policy.encode_timeout_per_media_s), Role.PROXY)


def _why_not_copy_video(probe: Probe, video: VideoInfo, policy: MediaPolicy) -> str:
    """Empty when the video packets can be copied into the playback MP4; else the reason."""
    if probe.format_name not in MP4_FAMILY:
        return f"container {probe.format_name}"
    if video.codec == "hevc" and policy.remux_hevc:
        return "" if video.pix_fmt in COPY_PIX_FMTS else f"hevc {video.pix_fmt}"
    if video.codec != "h264":
        return f"video codec {video.codec}"
    if video.pix_fmt not in COPY_PIX_FMTS:
        return f"h264 pixel format {video.pix_fmt}"
    if video.profile not in COPY_H264_PROFILES:
        return f"h264 profile {video.profile}"
    return ""


def _head() -> list[str]:
    return ["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", INPUT]


def _video_maps(probe: Probe) -> list[str]:
    """First video and first audio stream; data tracks stay in the original only."""
    return ["-map", "0:v:0", *(["-map", "0:a:0"] if probe.audio else []), "-dn", "-sn"]


def _tail(container: str) -> list[str]:
    return ["-movflags", "+faststart", "-f", container, OUTPUT]


def _aac(policy: MediaPolicy) -> list[str]:
    return ["-c:a", "aac", "-b:a", policy.audio_bitrate]


def _timeout(probe: Probe, policy: MediaPolicy, per_media_s: int) -> int:
    media_s = -(-(probe.duration_ms or 0) // 1000)  # ceil
    return policy.min_timeout_s + media_s * per_media_s


def _remux(probe: Probe, video: VideoInfo, policy: MediaPolicy) -> Plan:
    tag = ["-tag:v", "hvc1"] if video.codec == "hevc" else []  # hvc1: what Apple players need
    args = [*_head(), *_video_maps(probe), "-c", "copy", *tag, *_tail("mp4")]
    copied = ("v", "a") if probe.audio else ("v",)
    reason = f"{video.codec} {video.pix_fmt}, {probe.audio.codec if probe.audio else 'no'} audio"
    return Plan(Action.REMUX, reason, tuple(args), ".mp4", copied,
                _timeout(probe, policy, policy.copy_timeout_per_media_s))


def _reencode_audio(probe: Probe, video: VideoInfo, audio: AudioInfo,
                    policy: MediaPolicy) -> Plan:
    args = [*_head(), *_video_maps(probe), "-c:v", "copy", *_aac(policy), *_tail("mp4")]
    return Plan(Action.REENCODE_AUDIO, f"{video.codec} video, {audio.codec} audio", tuple(args),
                ".mp4", ("v",), _timeout(probe, policy, policy.copy_timeout_per_media_s))


def _transcode(probe: Probe, video: VideoInfo, policy: MediaPolicy, why: str) -> Plan:
    # yuv420p needs even dimensions; a recorder's odd size is rounded down by one pixel.
    even = (["-vf", "crop=trunc(iw/2)*2:trunc(ih/2)*2"]
            if video.width % 2 or video.height % 2 else [])
    args = [*_head(), *_video_maps(probe), "-c:v", "libx264", "-preset", policy.preset,
            "-crf", str(policy.crf), "-pix_fmt", "yuv420p", *even,
            *(_aac(policy) if probe.audio else []), *_tail("mp4")]
    return Plan(Action.TRANSCODE, why, tuple(args), ".mp4", (),
                _timeout(probe, policy, policy.encode_timeout_per_media_s))


def _audio_plan(probe: Probe, audio: AudioInfo | None, policy: MediaPolicy) -> Plan:
    if audio is None:  # parse_probe refuses files without audio and video; kept for the types
        raise ValueError("a probe without audio or video cannot be planned")
    copy = audio.codec == "aac" and probe.format_name in MP4_FAMILY
    codec = ["-c:a", "copy"] if copy else _aac(policy)
    args = [*_head(), "-map", "0:a:0", "-vn", "-dn", "-sn", *codec, *_tail("ipod")]
    return Plan(Action.AUDIO, f"audio only ({audio.codec} in {probe.format_name})",
                tuple(args), ".m4a", ("a",) if copy else (),
                _timeout(probe, policy, policy.copy_timeout_per_media_s if copy
                         else policy.encode_timeout_per_media_s))
