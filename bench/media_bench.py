"""Media figures (issue 5): the station's derive beside bare ffmpeg doing the same work, in the
same run, on the same files (median of 3, contenders interleaved).

- remux: ``derive`` on a remux plan of a ~30 s 720p H.264/AAC clip beside ``ffmpeg -c copy
  -movflags +faststart`` (goal ≥ 0.95× its speed); each sample is 5 remuxes in a row. derive
  also fsyncs and hashes its output and renames it into place; a second peer line adds an
  fsync to bare ffmpeg, so the cost of durability is visible rather than hidden in the ratio.
- transcode: ``derive`` on the transcode plan of the same clip as MJPEG/PCM AVI (what older
  recorders write) beside bare ffmpeg with the same settings (libx264 veryfast CRF 23 + AAC;
  goal ≤ 1.05× its time).
- thumbnails per second: OpenCV seeks (``thumbnails``) beside one ``ffmpeg -ss T -frames:v 1``
  per position.
- probing without ffprobe (``probe(ffprobe=None)``: ffmpeg's framecrc + log, the imageio-ffmpeg
  wheel's way) beside ffprobe ``-count_packets`` on the same clip: what the fallback costs.

The clips are generated once (testsrc2 + sine) in a temporary directory under /tmp, removed at
the end. ``os.sync()`` runs before each timing so no contender pays for another's writeback.
Takes about 1.5-2 minutes on 2 cores.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import RUNS, report
from ingest.media import (
    Action,
    derive,
    file_digests,
    find_ffmpeg,
    plan,
    probe,
    thumbnails,
    verify_remux_lossless,
)
from ingest.media.thumbs import positions_ms

CLIP_S = 30
SIZE = "1280x720"
FPS = 30
THUMBS = 10
REMUX_BATCH = 5  # one remux takes ~0.1 s: each sample times 5, so timer and scheduler noise shrink


def _ffmpeg(ffmpeg: str, *args: str) -> None:
    subprocess.run([ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y", *args], check=True)


def _make_clips(ffmpeg: str, root: Path) -> tuple[Path, Path]:
    """A 30 s 720p H.264/AAC MP4 (not faststart, as a recorder writes it) and the same content
    as MJPEG/PCM AVI."""
    mp4, avi = root / "clip.mp4", root / "clip.avi"
    _ffmpeg(ffmpeg, "-f", "lavfi", "-i", f"testsrc2=size={SIZE}:rate={FPS}:duration={CLIP_S}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={CLIP_S}",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac",
            str(mp4))
    _ffmpeg(ffmpeg, "-i", str(mp4), "-c:v", "mjpeg", "-q:v", "5", "-c:a", "pcm_s16le", str(avi))
    return mp4, avi


def _interleaved(contenders: dict[str, Callable[[], object]], *,
                 runs: int = RUNS) -> dict[str, float]:
    """Median wall time of each contender, run in turn ``runs`` times after an os.sync()."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(runs):
        for name, fn in contenders.items():
            os.sync()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def _fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def _fsync(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def _bench_remux(ffmpeg: str, ffprobe: str, src: Path, work: Path) -> None:
    chosen = plan(probe(src, ffprobe=ffprobe))
    assert chosen.action is Action.REMUX, chosen
    parent = file_digests(src).sha256  # the station hashed the original on first read
    derived = derive(src, work / "warm", chosen, ffmpeg=ffmpeg, parent=parent)  # warm caches
    bare_argv = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src),
                 "-c", "copy", "-movflags", "+faststart", "-f", "mp4"]
    outputs = iter(range(1 << 30))  # a fresh directory per output: deleting is not timed

    def ours_batch() -> None:
        for _ in range(REMUX_BATCH):
            derive(src, work / f"ours{next(outputs)}", chosen, ffmpeg=ffmpeg, parent=parent)

    def bare_batch(*, durable: bool) -> None:
        for _ in range(REMUX_BATCH):
            target = work / f"bare{next(outputs)}"
            target.mkdir(parents=True)
            subprocess.run([*bare_argv, str(target / "out.mp4")], check=True)
            if durable:
                _fsync(target / "out.mp4")

    times = _interleaved({"derive": ours_batch, "bare": lambda: bare_batch(durable=False),
                          "bare_fsync": lambda: bare_batch(durable=True)})
    speed = {name: CLIP_S * REMUX_BATCH / seconds for name, seconds in times.items()}
    name = f"remux {CLIP_S} s {SIZE} H.264/AAC ({src.stat().st_size >> 20} MiB): derive"
    report(name, speed["derive"], "x realtime", peer="ffmpeg -c copy",
           peer_value=speed["bare"], goal="≥ 0.95x")
    report(name, speed["derive"], "x realtime", peer="ffmpeg -c copy + fsync",
           peer_value=speed["bare_fsync"])
    start = time.perf_counter()
    verify_remux_lossless(src, derived.path, kinds=chosen.copied, ffmpeg=ffmpeg)
    report("remux: streamhash proof of both files (verify_remux_lossless)",
           time.perf_counter() - start, "s")


def _bench_transcode(ffmpeg: str, ffprobe: str, src: Path, work: Path) -> None:
    chosen = plan(probe(src, ffprobe=ffprobe))
    assert chosen.action is Action.TRANSCODE, chosen
    parent = file_digests(src).sha256
    ours, bare = work / "ours", work / "bare"
    bare_argv = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src),
                 "-map", "0:v:0", "-map", "0:a:0", "-c:v", "libx264", "-preset", "veryfast",
                 "-crf", "23", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
                 "-movflags", "+faststart", "-f", "mp4"]

    def bare_encode() -> None:
        subprocess.run([*bare_argv, str(_fresh(bare) / "out.mp4")], check=True)

    times = _interleaved({
        "derive": lambda: derive(src, _fresh(ours), chosen, ffmpeg=ffmpeg, parent=parent),
        "bare": bare_encode})
    report(f"transcode {CLIP_S} s {SIZE} MJPEG/PCM AVI → H.264/AAC: derive", times["derive"],
           "s", peer="ffmpeg, same settings", peer_value=times["bare"], goal="≤ 1.05x")
    report("transcode: derive speed", CLIP_S / times["derive"], "x realtime")


def _bench_thumbnails(ffmpeg: str, src: Path, work: Path) -> None:
    parent = file_digests(src).sha256
    out, bare = work / "thumbs", work / "bare_thumbs"

    def ours() -> None:
        result = thumbnails(src, _fresh(out), count=THUMBS, parent=parent)
        assert len(result.frames) == THUMBS and not result.missed

    def bare_seeks() -> None:
        target = _fresh(bare)
        for i, at_ms in enumerate(positions_ms(CLIP_S * 1000, THUMBS)):
            subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-y", "-ss", f"{at_ms / 1000}",
                            "-i", str(src), "-frames:v", "1", "-vf", "scale=320:-2",
                            str(target / f"{i}.jpg")], check=True)

    times = _interleaved({"ours": ours, "bare": bare_seeks})
    report(f"thumbnails ({THUMBS} seeks + strip, {SIZE} H.264): OpenCV", THUMBS / times["ours"],
           "thumbs/s", peer="ffmpeg -ss per thumbnail", peer_value=THUMBS / times["bare"])


def _bench_probe(ffmpeg: str, ffprobe: str, src: Path) -> None:
    times = _interleaved({"ffmpeg": lambda: probe(src, ffprobe=None, ffmpeg=ffmpeg),
                          "ffprobe": lambda: probe(src, ffprobe=ffprobe)})
    report(f"probe {CLIP_S} s {SIZE} H.264/AAC without ffprobe (ffmpeg framecrc + log)",
           times["ffmpeg"] * 1000, "ms", peer="ffprobe -count_packets",
           peer_value=times["ffprobe"] * 1000)


def run() -> None:
    tools = find_ffmpeg()
    ffprobe = tools.require_ffprobe()  # the peer of the ffmpeg-only probe
    with tempfile.TemporaryDirectory(prefix="liuhen-media-bench-", dir="/tmp") as tmp:
        root = Path(tmp)
        mp4, avi = _make_clips(tools.ffmpeg, root)
        _bench_remux(tools.ffmpeg, ffprobe, mp4, root / "remux")
        _bench_transcode(tools.ffmpeg, ffprobe, avi, root / "transcode")
        _bench_thumbnails(tools.ffmpeg, mp4, root / "thumbs")
        _bench_probe(tools.ffmpeg, ffprobe, mp4)


if __name__ == "__main__":
    run()
