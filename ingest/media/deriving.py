"""Run a Plan: write the playback copy, and prove copied streams lossless (DESIGN.md §3 step 4).

Durability: the copy is written to a temporary name in ``out_dir``, fsynced, hashed, renamed with
``os.replace`` and the directory fsynced, so a crash leaves either no output or a complete one
(a leftover ``.part`` file is garbage, never a derivative). Its name comes from the original's
SHA-256, never from a name the recorder chose.

Concurrency: derive may run in several threads at once for different originals (each run is
its own ffmpeg process; ``progress`` is called on the calling thread). Two runs for the *same*
original into the same ``out_dir`` must not overlap: the last rename wins, and a transcode is
not guaranteed to be bit-identical, so the loser's returned hash could describe bytes no longer
on disk. The station's per-file state machine serialises this.

The original is only ever read: ffmpeg opens its input read-only (``file:`` protocol), and
derive refuses an output path that resolves to the input.

Errors (STYLE.md §3): ffmpeg rejecting the input → VerificationError(step="derive") with the tail
of its stderr (quarantine, never retry); ffmpeg missing, killed, out of time, or out of disk →
UnavailableError (retry later: a busy or broken station is not the evidence's fault).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from evidence.errors import ConflictError, UnavailableError, VerificationError
from evidence.ids import Sha256Hex, Sm3Hex
from ingest.media.policy import INPUT, OUTPUT, Action, Plan, Role
from ingest.media.tools import ffmpeg_version, file_digests, run_streaming, tail_reason
from integrity.hashing import Digests, digest_stream
from ledger.files import fsync_dir

ProgressFn = Callable[[int], None]
"""Called with the output position in milliseconds, strictly increasing."""

PROGRESS_PERIOD_S = 0.5  # ffmpeg's default -stats_period: often enough for a terminal bar
STREAMHASH_TIMEOUT_S = 600  # a stream copy to a hash runs at disk speed; 10 min is a stuck run
# ffmpeg messages that mean the station, not the evidence, is at fault.
_RESOURCE_ERRORS = ("No space left on device", "Cannot allocate memory", "Too many open files")


@dataclass(frozen=True)
class Derived:
    """A derivative written by :func:`derive`: the playback copy or the proxy (``role``).

    ``argv`` is the command exactly as run (host paths included); ``ledger_argv`` is the same
    command with ``{input}``/``{output}`` placeholders and the binary's base name, which is what
    the ``derived`` ledger entry records.
    """

    parent: Sha256Hex
    action: Action
    path: Path
    sha256: Sha256Hex
    size: int
    argv: tuple[str, ...]
    ledger_argv: tuple[str, ...]
    ffmpeg_version: str
    role: Role = Role.PLAYBACK
    sm3: Sm3Hex | None = None
    """SM3 of the derivative, from the same read pass as ``sha256`` (DESIGN.md §4)."""

    def to_dict(self) -> dict[str, object]:
        """JSON-able (no floats, no host paths), for the ``derived`` ledger entry."""
        return {"parent": self.parent, "role": self.role.value, "action": self.action.value,
                "name": self.path.name,
                "sha256": self.sha256, "sm3": self.sm3, "size": self.size,
                "argv": list(self.ledger_argv), "ffmpeg_version": self.ffmpeg_version}


def output_name(parent: Sha256Hex, plan: Plan) -> str:
    """``<original's sha256>.<role>.mp4`` (``playback`` or ``proxy``; ``.m4a`` for audio):
    content-derived, never device-named."""
    return f"{parent}.{plan.role.value}{plan.suffix}"


def derive(src: Path, out_dir: Path, plan: Plan, *, progress: ProgressFn | None = None,
           ffmpeg: str = "ffmpeg", parent: Sha256Hex | None = None,
           timeout_s: float | None = None,
           progress_period_s: float = PROGRESS_PERIOD_S) -> Derived:
    """Carry out ``plan`` on ``src``, writing ``out_dir/<parent>.<role><suffix>`` atomically.

    ``parent`` is the original's SHA-256 when the caller already has it (the station hashed it on
    first read); otherwise ``src`` is hashed here. ``progress`` receives the output position in
    ms. ``timeout_s`` defaults to ``plan.timeout_s``. A ``keep`` plan has nothing to derive
    (ValueError). Errors: see the module docstring.
    """
    if plan.action is Action.KEEP:
        raise ValueError("a keep plan derives nothing: the original is the viewing copy")
    parent = parent or file_digests(src).sha256
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / output_name(parent, plan)
    if final.resolve() == src.resolve():
        raise ConflictError(f"refusing to write the derivative over its original {src.name}")
    fd, tmp_name = tempfile.mkstemp(dir=out_dir, prefix=f".{parent}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    transport = ["-progress", "pipe:1", "-nostats", "-stats_period", f"{progress_period_s:g}"]
    template = plan.argv(ffmpeg, src.resolve(), tmp)
    argv = [template[0], *transport, *template[1:]]
    try:
        run_ffmpeg(argv, progress=progress, timeout_s=timeout_s or plan.timeout_s,
                   replacements={f"file:{src.resolve()}": INPUT, f"file:{tmp}": OUTPUT})
        digests = _fsync_and_hash(tmp)
        os.replace(tmp, final)
        fsync_dir(out_dir)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Derived(parent=parent, action=plan.action, path=final, sha256=digests.sha256,
                   sm3=digests.sm3, size=digests.size,
                   argv=tuple(argv),
                   ledger_argv=("ffmpeg", *transport, *plan.args),
                   ffmpeg_version=ffmpeg_version(ffmpeg), role=plan.role)


def run_ffmpeg(argv: list[str], *, progress: ProgressFn | None, timeout_s: float,
               replacements: dict[str, str]) -> None:
    """Run ffmpeg with ``-progress pipe:1`` in ``argv``, feeding ``progress`` from its key=value
    blocks (ffmpeg-python has no progress API), killing it after ``timeout_s``.

    stderr goes to an unnamed temporary file (never a pipe nobody drains), and its tail, with
    ``replacements`` applied to host paths, becomes the error's reason.
    """
    _, done = run_streaming(argv, lambda out: _follow_progress(out, progress),
                            timeout_s=timeout_s)
    _raise_for(done.returncode, done.stderr, timed_out=done.timed_out, timeout_s=timeout_s,
               replacements=replacements)


def _follow_progress(stdout: IO[bytes] | None, progress: ProgressFn | None) -> None:
    """Read ffmpeg's progress blocks (``key=value`` lines ending in ``progress=continue|end``)
    and report each block's ``out_time_us`` in ms when it moved forward. ``out_time_ms`` is not
    used: despite its name, ffmpeg fills it with microseconds."""
    if stdout is None:
        return
    for position in progress_positions(stdout):
        if progress is not None:
            progress(position)


def progress_positions(lines: Iterable[bytes]) -> Iterable[int]:
    """Positions in ms, strictly increasing, one per progress block that advanced."""
    last = -1
    current: int | None = None
    for raw in lines:
        key, _, value = raw.decode("ascii", "replace").strip().partition("=")
        if key == "out_time_us" and value.lstrip("-").isdigit():
            current = int(value) // 1000
        elif key == "progress":
            if current is not None and current > last:
                last = current
                yield current
            current = None


def _raise_for(returncode: int, stderr: bytes, *, timed_out: bool, timeout_s: float,
               replacements: dict[str, str]) -> None:
    if timed_out:
        raise UnavailableError(f"ffmpeg ran longer than {timeout_s:g} s and was stopped")
    if returncode == 0:
        return
    reason = tail_reason(stderr, replacements=replacements, default=f"exit status {returncode}")
    if returncode < 0 or any(marker in reason for marker in _RESOURCE_ERRORS):
        raise UnavailableError(f"ffmpeg failed on the station's side: {reason}")
    raise VerificationError(reason, step="derive")


def _fsync_and_hash(path: Path) -> Digests:
    """fsync and hash at once: both release the GIL, and hashing reads the page cache while the
    disk writes (a 10 MB remux: ~17 ms fsync, ~9 ms hash, ~110 ms ffmpeg; bench/media_bench.py).
    The fsync's error, if any, is raised here."""
    failure: list[OSError] = []
    with path.open("rb", buffering=0) as fh:

        def sync() -> None:
            try:
                os.fsync(fh.fileno())
            except OSError as exc:
                failure.append(exc)

        syncer = threading.Thread(target=sync, name="derive-fsync")
        syncer.start()
        try:
            result = digest_stream(fh)
        finally:
            syncer.join()
    if failure:
        raise UnavailableError(f"cannot make the derivative durable: {failure[0]}") from failure[0]
    return result


def stream_hashes(path: Path, kinds: Iterable[str], *, ffmpeg: str = "ffmpeg",
                  timeout_s: float = STREAMHASH_TIMEOUT_S) -> dict[str, str]:
    """``ffmpeg -f streamhash -hash sha256`` of the first stream of each kind (``v``, ``a``):
    a hash of the packet payloads only, so it is equal across containers exactly when the
    packets were copied unchanged. Returns ``{"v": "SHA256=…", ...}`` for the kinds present."""
    maps = [arg for kind in kinds for arg in ("-map", f"0:{kind}:0?")]
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-i",
            f"file:{path.resolve()}", *maps, "-c", "copy", "-f", "streamhash",
            "-hash", "sha256", "-"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise UnavailableError(f"streamhash ran longer than {timeout_s:g} s") from exc
    except OSError as exc:
        raise UnavailableError(f"cannot run {ffmpeg}: {exc}") from exc
    _raise_for(done.returncode, done.stderr, timed_out=False, timeout_s=timeout_s,
               replacements={f"file:{path.resolve()}": INPUT})
    hashes: dict[str, str] = {}
    for line in done.stdout.decode("ascii", "replace").splitlines():
        _index, kind, digest = line.strip().split(",", 2)  # "0,v,SHA256=<hex>"
        hashes.setdefault(kind, digest)
    return hashes


def verify_remux_lossless(src: Path, out: Path, *, kinds: Iterable[str] = ("v", "a"),
                          ffmpeg: str = "ffmpeg") -> dict[str, str]:
    """Prove that ``out`` holds the packets of ``src`` unchanged for each of ``kinds`` (a
    Plan's ``copied``): equal ``-f streamhash`` digests. Returns the digests (worth ledgering:
    anyone can recompute them from the original). Raises VerificationError(step="derive") when
    a stream differs or is missing from the output."""
    kinds = tuple(kinds)
    original = stream_hashes(src, kinds, ffmpeg=ffmpeg)
    copy = stream_hashes(out, kinds, ffmpeg=ffmpeg)
    for kind in kinds:
        if kind in original and original[kind] != copy.get(kind):
            raise VerificationError(
                f"stream {kind} of the copy differs from the original: "
                f"{copy.get(kind, 'missing')} != {original[kind]}", step="derive")
    return original
