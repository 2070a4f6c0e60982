"""What a new user meets first (issue 11 §6): the demo's simulator, the CLI's start, its data
directory, its messages and the pages' front door."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.cli_station import simulated_source
from ingest.media import find_ffmpeg, probe


def test_simulator_clips_are_real_without_ffmpeg_on_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ffmpeg on PATH and none in /usr/bin: the simulator makes its clips with the media
    stage's binary (the imageio-ffmpeg wheel), so they probe as the codecs they claim."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    tools = find_ffmpeg(search=[empty])  # the wheel alone
    simulated_source(tmp_path / "sim", 1, ffmpeg=tools.ffmpeg)
    media = tmp_path / "sim" / "media"
    facts = {name: probe(media / name, ffprobe=None, ffmpeg=tools.ffmpeg)
             for name in ("clip.mp4", "clip.avi", "audio.wav", "photo.jpg")}
    clip = facts["clip.mp4"]
    assert clip.video is not None and clip.video.codec == "h264"
    assert clip.audio is not None and clip.audio.codec == "aac"
    assert clip.duration_ms is not None and 900 <= clip.duration_ms <= 1100
    avi = facts["clip.avi"]
    assert avi.video is not None and avi.video.codec == "mjpeg"
    wav = facts["audio.wav"]
    assert wav.audio is not None and wav.audio.codec == "pcm_alaw"
    assert facts["photo.jpg"].video is not None
    card = next((tmp_path / "sim").glob("*-directory"))
    docked = sorted(p for p in card.rglob("*.MP4") if p.stat().st_size)
    assert (media / "clip.mp4").read_bytes() in [p.read_bytes() for p in docked]
