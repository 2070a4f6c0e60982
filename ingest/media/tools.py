"""Finding ffmpeg/ffprobe, their version line, and turning their stderr into a reason.

Where the binaries come from (DESIGN.md §8): Debian's ``ffmpeg`` package (``/usr/bin/ffmpeg`` and
``/usr/bin/ffprobe``), installed by ``make servers`` (scripts/system-deps.sh). Where no system
ffmpeg exists, the imageio-ffmpeg wheel (pinned in pyproject.toml) provides the binary: ffmpeg
only, the wheel ships no ffprobe. Then :class:`FfmpegTools` has ``ffprobe=None`` and
:func:`ingest.media.prober.probe` reads the same facts through ffmpeg itself
(ingest/media/ffmpeg_probe.py; what that loses is listed there and in docs/media.md). Remuxing,
transcoding and ``-f streamhash`` work the same with either binary.
"""

from __future__ import annotations

import functools
import importlib
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

from evidence.errors import UnavailableError
from integrity.hashing import Digests, digest_stream

SYSTEM_BIN = (Path("/usr/bin"),)
VERSION_TIMEOUT_S = 10  # `ffmpeg -version` prints and exits; anything slower is a broken install
MAX_REASON_CHARS = 480  # bound: reasons go into ledger entries (≤ 64 KiB each)
TAIL_LINES = 3  # a failed ffmpeg run's last lines usually name the cause; earlier ones are noise

INSTALL_HINT = ("install Debian's ffmpeg package (apt-get install ffmpeg), or the imageio-ffmpeg "
                "wheel (pinned in pyproject.toml; ffmpeg without ffprobe)")

# "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55669cdbd1c0] moov atom not found": the bracket names the
# component and a heap address; the address differs every run, so it never goes into a reason.
_CONTEXT = re.compile(r"^\[[^\]]*@ 0x[0-9a-fA-F]+\]\s*")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Finished:
    """How a :func:`run_streaming` process ended."""

    returncode: int
    stderr: bytes
    timed_out: bool


def run_streaming(argv: list[str], consume: Callable[[IO[bytes] | None], T], *,
                  timeout_s: float) -> tuple[T, Finished]:
    """Run ``argv`` with ``consume`` reading its stdout as it comes, killing it after
    ``timeout_s``; stderr goes to an unnamed temporary file (never a pipe nobody drains).
    If ``consume`` raises, the process is killed, never left behind. UnavailableError when
    the binary cannot be started."""
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=errors)
        except OSError as exc:
            raise UnavailableError(f"cannot run {argv[0]}: {exc}") from exc
        timed_out = threading.Event()

        def _kill() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout_s, _kill)
        timer.start()
        try:
            result = consume(proc.stdout)
            returncode = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        errors.seek(0)
        return result, Finished(returncode, errors.read(), timed_out.is_set())


@dataclass(frozen=True)
class FfmpegTools:
    """The binaries the media functions run. ``ffprobe`` is None with the imageio-ffmpeg wheel:
    pass it as is to :func:`ingest.media.prober.probe`, which then probes through ``ffmpeg``."""

    ffmpeg: str
    ffprobe: str | None

    def require_ffprobe(self) -> str:
        """The ffprobe path, or UnavailableError saying how to get one (for a caller that needs
        ffprobe itself; probing does not)."""
        if self.ffprobe is None:
            raise UnavailableError(f"no ffprobe next to {self.ffmpeg}: {INSTALL_HINT}")
        return self.ffprobe


def find_ffmpeg(*, search: Sequence[Path] = SYSTEM_BIN, wheel: bool = True) -> FfmpegTools:
    """The first directory of ``search`` holding an executable ``ffmpeg`` (and ``ffprobe`` beside
    it, when there is one); else, with ``wheel``, the imageio-ffmpeg wheel's ffmpeg (a dependency
    of liuhen; looked up by name so that a broken install degrades to UnavailableError).
    UnavailableError when neither exists.

    Fixed directories, not ``$PATH``: nothing below api/ reads the environment (DESIGN.md §2),
    and the composition root may pass other directories.
    """
    for directory in search:
        ffmpeg = directory / "ffmpeg"
        if _is_executable(ffmpeg):
            ffprobe = directory / "ffprobe"
            return FfmpegTools(str(ffmpeg), str(ffprobe) if _is_executable(ffprobe) else None)
    if wheel:
        exe = _wheel_ffmpeg()
        if exe is not None:
            return FfmpegTools(exe, None)
    where = ", ".join(str(d) for d in search) or "nowhere"
    raise UnavailableError(f"ffmpeg not found (searched {where}): {INSTALL_HINT}")


def _is_executable(path: Path) -> bool:
    return path.is_file() and bool(path.stat().st_mode & 0o111)


def _wheel_ffmpeg() -> str | None:
    """imageio_ffmpeg.get_ffmpeg_exe(), or None when the package or its binary is missing."""
    try:
        module = importlib.import_module("imageio_ffmpeg")
    except ImportError:
        return None
    try:
        exe = module.get_ffmpeg_exe()
    except RuntimeError:  # the wheel raises RuntimeError when its binary is missing
        return None
    return str(exe)


@functools.lru_cache(maxsize=8)
def ffmpeg_version(ffmpeg: str) -> str:
    """The first line of ``ffmpeg -version`` (e.g. ``ffmpeg version 5.1.9-0+deb12u1 ...``), as
    ledgered with every derivative. UnavailableError when the binary cannot run."""
    try:
        done = subprocess.run([ffmpeg, "-version"], capture_output=True, check=True,
                              timeout=VERSION_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as exc:
        raise UnavailableError(f"cannot run {ffmpeg} -version: {exc}") from exc
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    return lines[0].strip() if lines else "ffmpeg version unknown"


def _clean_lines(stderr: bytes | str, replacements: dict[str, str]) -> list[str]:
    text = stderr if isinstance(stderr, str) else stderr.decode("utf-8", "replace")
    lines: list[str] = []
    for raw in text.splitlines():
        line = _CONTEXT.sub("", raw.strip())
        for host, placeholder in replacements.items():
            line = line.replace(host, placeholder)
        if line and (not lines or lines[-1] != line):
            lines.append(line)
    return lines


def first_reason(stderr: bytes | str, *, replacements: dict[str, str] | None = None,
                 default: str = "no message") -> str:
    """ffprobe's own reason: the first meaningful stderr line, without the ``[demuxer @ 0x…]``
    prefix, with host paths replaced (``replacements`` maps a path to a placeholder)."""
    lines = _clean_lines(stderr, replacements or {})
    return lines[0][:MAX_REASON_CHARS] if lines else default


def tail_reason(stderr: bytes | str, *, replacements: dict[str, str] | None = None,
                default: str = "no message") -> str:
    """The last few distinct stderr lines of a failed run, joined by `` | ``, bounded."""
    lines = _clean_lines(stderr, replacements or {})
    text = " | ".join(lines[-TAIL_LINES:]) if lines else default
    return text[-MAX_REASON_CHARS:]


def file_digests(path: Path) -> Digests:
    """SHA-256, SM3 and size of a file, opened read-only, in one read pass."""
    with path.open("rb", buffering=0) as fh:
        return digest_stream(fh)
