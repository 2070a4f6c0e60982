"""Station figures: acquiring one 1 GiB clip from a directory card, and docking 8 such recorders
at once through the whole pipeline to ``verified``, each beside coreutils doing the same reads,
hashes and writes in the same run (median of 3, contenders interleaved).

Warm cache, not cold: the machine is shared, so the page cache is never dropped. Instead every
contender reads its input once just before it is timed (so all read from memory, as from a fast
card reader), and ``os.sync()`` runs before each timing so no contender pays for another's
writeback. Writes are durable in every contender: the station fsyncs, so the peers ``sync`` their
copies too.

Everything lives in one temporary directory under /tmp (≈ 8 GiB of cards, up to ≈ 17 GiB with
staging and objects), emptied between runs and removed at the end.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import statistics
import struct
import subprocess
import tempfile
import threading
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from api.compose import Station, open_station, utc_now
from api.settings import Settings
from api.station import LogProgress
from bench.common import RUNS, report
from devices.massstorage import MassStorageDriver
from evidence.ids import DeviceSerial
from evidence.records import Assignment, FileRow, FileState
from ingest.station import Dock, DockResult
from integrity import sm4stream as s4
from integrity.hashing import CHUNK_BYTES, new_sm3
from storage.ingest_repo import SqlIngestRepo
from storage.localstore import UnsafeStoreWarning

GIB = 1 << 30
DOCK_CLIP_MIB = "256"
"""``run_dock``'s clip size: 8 × 256 MiB (2.15 GB) is about 3 minutes on a shared 2-core machine
(96 s at 128 MiB under load 5, 277 s at 256 MiB under load 7); 8 × 1 GiB fits the disk (needs
≈ 25 GB under /tmp) but takes three runs of ~3 minutes each there."""
DOCK_RUNS = 3
BLOCK_BYTES = 64 << 20  # one random block, stamped per card and chunk: fast, yet all distinct
CARDS = 8
CLIP = "DCIM/100MEDIA/20261124_085703_{serial}_000123.MP4"
SMALL = {"DCIM/100MEDIA/20261124_085703_{serial}_000123.JPG": 300 << 10,
         "LOG/20261124_{serial}.TXT": 4 << 10}
STEPS = {FileState.ACQUIRED: "acquire", FileState.COMMITTED: "commit",
         FileState.STORED: "store", FileState.VERIFIED: "verify"}


# -- fixtures -------------------------------------------------------------------------------------

def _serial(card: int) -> DeviceSerial:
    return DeviceSerial(f"BENCH{card + 1:02d}")


def _make_card(root: Path, card: int, block: bytes, clip_bytes: int = GIB) -> Path:
    """A recorder's card: one clip of ``clip_bytes`` (1 GiB) and two small files, content
    distinct per card (the object store is content-addressed: identical clips are stored once)."""
    serial = _serial(card)
    clip = root / CLIP.format(serial=serial)
    clip.parent.mkdir(parents=True, exist_ok=True)
    chunk = bytearray(block)
    with clip.open("wb") as fh:
        for i in range(clip_bytes // len(block)):
            chunk[:16] = struct.pack("<QQ", card, i)
            fh.write(chunk)
    for name, size in SMALL.items():
        path = root / name.format(serial=serial)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(struct.pack("<Q", card) + block[8:size])
    return clip


def _warm(*paths: Path) -> None:
    """Read each file once so that the timed read comes from the page cache."""
    buffer = bytearray(8 << 20)
    for path in paths:
        with path.open("rb", buffering=0) as fh:
            while fh.readinto(buffer):
                pass


def _settle() -> None:
    """Flush other contenders' dirty pages before a timing (this does not drop the cache)."""
    os.sync()


def _assignment(serial: str) -> Assignment:
    return Assignment(serial=serial, id_code="", officer_no="000123", officer_name="",
                      unit_no="", unit_name="")


@contextmanager
def _quiet_local_store() -> Iterator[None]:
    # The local store warns on construction that it is weaker than S3 Object Lock (STYLE.md §5);
    # once per fresh data dir would drown the figures. It is the embedded default measured here.
    logger = logging.getLogger("storage.localstore")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnsafeStoreWarning)
            yield
    finally:
        logger.setLevel(level)


# -- timing the steps without touching ingest/ ------------------------------------------

class _StepClock(SqlIngestRepo):
    """The station's own ingest repository, noting when each file reaches each state.

    ``Dock`` saves a file's row as each step of DESIGN.md §3 ends, and one dock runs in one
    thread, so the time from one save (or from discovery) to the next in the same thread is that
    step: ``acquired`` ends the one read pass from the card (open, read, SHA-256, write and fsync
    to staging, rename: ``Dock._copy``); ``committed`` the ledger append; ``stored`` the object
    put; ``verified`` the re-hash of the stored object and its ledger entry. The saves themselves
    are timed apart (``bookkeeping``). ``Dock._verify`` unlinks the staging file after its save,
    so that unlink lands in the next step timed in the thread: ``release`` for a dock's last file
    (hence its label), the next file's ``acquire`` otherwise. This is the acquire step measured
    inside a real dock, so it needs neither a private call nor an edit of ingest/.
    """

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, clock=utc_now)
        self._lock = threading.Lock()
        self._mark = threading.local()
        self.seconds: dict[str, float] = defaultdict(float)
        self.acquire_seconds: dict[int, float] = {}
        """Per row size: the acquire step of the file of that size (the 1 GiB clip)."""

    def discover(self, *, serial: str, path: str, raw_path: bytes, size: int,
                 device_mtime: datetime) -> FileRow:
        row = super().discover(serial=serial, path=path, raw_path=raw_path, size=size,
                               device_mtime=device_mtime)
        self._mark.at = time.perf_counter()
        return row

    def save(self, row: FileRow) -> FileRow:
        start = time.perf_counter()
        saved = super().save(row)
        end = time.perf_counter()
        step = STEPS.get(row.state, "unlink staging+release")
        with self._lock:
            self.seconds[step] += start - self._mark.at
            self.seconds["bookkeeping"] += end - start
            if row.state is FileState.ACQUIRED:
                self.acquire_seconds[row.size] = start - self._mark.at
        self._mark.at = end
        return saved


def _open(data_dir: Path) -> tuple[Station, _StepClock]:
    with _quiet_local_store():
        station = open_station(Settings(data_dir=data_dir))
    return station, _StepClock(station.ledger.store.engine)


def _checked(result: DockResult) -> DockResult:
    if result.failed or result.verified != result.files:
        raise RuntimeError(f"dock of {result.serial} did not verify every file: {result}")
    return result


def _dock_one(card: Path, data_dir: Path) -> tuple[float, float, dict[str, float]]:
    """One recorder docked on a fresh station: (acquire seconds of the clip, whole dock seconds
    to verified and released, per-step seconds)."""
    station, clock = _open(data_dir)
    try:
        ctx = dataclasses.replace(station.context(LogProgress(lambda _line: None)), repo=clock)
        serial = _serial(0)
        driver = MassStorageDriver.from_directory(card, serial=serial)
        _warm(*(p for p in card.rglob("*") if p.is_file()))
        _settle()
        start = time.perf_counter()
        _checked(Dock(driver, ctx=ctx, password=None, assignment=_assignment(serial)).run())
        elapsed = time.perf_counter() - start
    finally:
        station.close()
        shutil.rmtree(data_dir)
    return clock.acquire_seconds[GIB], elapsed, dict(clock.seconds)


def _dock_fleet(cards: list[Path], data_dir: Path) -> tuple[float, dict[str, float], str]:
    """All recorders docked at once, the way ``api.station.run_station`` does it: one worker per
    recorder, at most ``settings.max_docks`` at a time, checkpoints published at most once a
    second meanwhile and once at the end. Wall seconds from the first dock to the last
    checkpoint, every file ``verified`` (ledger and object store included); and the data dir's
    encryption at rest (``sm4`` by default for a new data dir)."""
    station, clock = _open(data_dir)
    encryption = (data_dir / "encryption").read_text().strip()
    try:
        ledger = station.ledger
        ctx = dataclasses.replace(station.context(LogProgress(lambda _line: None)), repo=clock)
        drivers = [MassStorageDriver.from_directory(card, serial=_serial(i))
                   for i, card in enumerate(cards)]
        _warm(*(p for card in cards for p in card.rglob("*") if p.is_file()))
        _settle()
        finished = threading.Event()

        def publish_every_second() -> None:
            while not finished.wait(1.0):
                ledger.publish(actor="station")

        def work(driver: MassStorageDriver) -> DockResult:
            serial = driver.identify().serial
            return Dock(driver, ctx=ctx, password=None, assignment=_assignment(serial)).run()

        start = time.perf_counter()
        publisher = threading.Thread(target=publish_every_second, daemon=True)
        publisher.start()
        try:
            with ThreadPoolExecutor(max_workers=ledger.settings.max_docks,
                                    thread_name_prefix="dock") as pool:
                results = list(pool.map(work, drivers))
        finally:
            finished.set()
            publisher.join()
        ledger.publish(actor="station")
        elapsed = time.perf_counter() - start
        for result in results:
            _checked(result)
    finally:
        station.close()
        shutil.rmtree(data_dir)
    return elapsed, dict(clock.seconds), encryption


# -- peers ---------------------------------------------------------------------------------------

def _cat_into(path: Path, tool: list[str]) -> None:
    """``cat PATH | TOOL``: one read pass and one hash, in two processes like a shell pipe."""
    cat = subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE)
    assert cat.stdout is not None
    try:
        subprocess.run(tool, stdin=cat.stdout, stdout=subprocess.DEVNULL, check=True)
    finally:
        cat.stdout.close()
        if cat.wait() != 0:
            raise RuntimeError(f"cat {path} failed")


def _cp_sync(sources: list[Path], dest: Path) -> list[Path]:
    """``cp SOURCES DEST && sync COPIES``: one durable write of each file (the station fsyncs
    its staging files, so the peer's copies are made durable too)."""
    subprocess.run(["cp", *map(str, sources), str(dest)], check=True)
    copies = [dest / s.name for s in sources]
    subprocess.run(["sync", *map(str, copies)], check=True)
    return copies


def _two_pass(clip: Path, dest: Path, tool: list[str]) -> None:
    """``cp CLIP DEST && sync COPY && TOOL COPY``: write, then read back and hash (two passes)."""
    (copy,) = _cp_sync([clip], dest)
    subprocess.run([*tool, str(copy)], stdout=subprocess.DEVNULL, check=True)


def _timed(fn: Callable[[], object]) -> float:
    _settle()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _empty(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()


# -- figures -------------------------------------------------------------------------------------

def _acquisition(card: Path, clip: Path, work: Path) -> None:
    print("-- station acquire, one 1 GiB clip on a directory card (MassStorageDriver); warm: "
          "every contender reads the file once before it is timed, page cache not dropped",
          flush=True)
    copies = work / "copies"
    acquire, dock, cat_sha, cat_ssl, cat_sm3, two_pass, two_pass_ssl = ([] for _ in range(7))
    steps: dict[str, list[float]] = defaultdict(list)
    for _ in range(RUNS):
        a, d, per_step = _dock_one(card, work / "data")
        acquire.append(a)
        dock.append(d)
        for name, seconds in per_step.items():
            steps[name].append(seconds)
        _warm(clip)
        cat_sha.append(_timed(lambda: _cat_into(clip, ["sha256sum"])))
        cat_ssl.append(_timed(lambda: _cat_into(clip, ["openssl", "dgst", "-sha256"])))
        cat_sm3.append(_timed(lambda: _cat_into(clip, ["openssl", "dgst", "-sm3"])))
        _empty(copies)
        _warm(clip)
        two_pass.append(_timed(lambda: _two_pass(clip, copies, ["sha256sum"])))
        _empty(copies)
        _warm(clip)
        two_pass_ssl.append(_timed(lambda: _two_pass(clip, copies,
                                                     ["openssl", "dgst", "-sha256"])))
        _empty(copies)

    def mbps(times: list[float]) -> float:
        return GIB / statistics.median(times) / 1e6

    # Dock._copy: one pass from the card, SHA-256 and SM3 (second thread) while writing to
    # staging, fsync, rename. SM3 is the slower digest: its CLI is the peer that bounds it.
    report("acquire (Dock._copy in a real dock), 1 GiB", mbps(acquire), "MB/s",
           peer="cat FILE | openssl dgst -sm3", peer_value=mbps(cat_sm3), goal=">= 0.95x")
    report("acquire (SHA-256 + SM3) vs a SHA-256-only peer", mbps(acquire), "MB/s",
           peer="cat FILE | sha256sum", peer_value=mbps(cat_sha))
    report("acquire, one pass: copy + hash", mbps(acquire), "MB/s",
           peer="cp FILE DEST && sync DEST && sha256sum DEST", peer_value=mbps(two_pass),
           goal=">= 1.8x")
    # coreutils 9.1 sha256sum here has no SHA-NI; openssl dgst (the library hashlib calls) does.
    report("acquire vs the same peers hashing with OpenSSL", mbps(acquire), "MB/s",
           peer="cat FILE | openssl dgst -sha256", peer_value=mbps(cat_ssl))
    report("acquire, one pass vs two with OpenSSL", mbps(acquire), "MB/s",
           peer="cp && sync && openssl dgst -sha256", peer_value=mbps(two_pass_ssl))
    report("whole dock to verified (ledger + local store)", mbps(dock), "MB/s")
    print("   per step (s): " + ", ".join(f"{name} {statistics.median(v):.2f}"
                                          for name, v in steps.items()), flush=True)


def _fleet(cards: list[Path], clips: list[Path], work: Path) -> None:
    total = sum(p.stat().st_size for card in cards for p in card.rglob("*") if p.is_file())
    print(f"-- dock of {len(cards)} recorders x 1 GiB clip (+2 small files) at once, "
          f"{total / 1e9:.2f} GB, max_docks=4 on {os.cpu_count()} cores; full pipeline to "
          "verified: acquire, ledger, local WORM store put, re-hash; warm cards", flush=True)
    copies = work / "copies"
    dock, hash_sha, hash_ssl, write = [], [], [], []
    steps: dict[str, list[float]] = defaultdict(list)

    def hash_two_at_a_time(tool: list[str]) -> None:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda clip: _cat_into(clip, tool), clips))

    for _ in range(RUNS):
        elapsed, per_step, _ = _dock_fleet(cards, work / "data")
        dock.append(elapsed)
        for name, seconds in per_step.items():
            steps[name].append(seconds)
        _warm(*clips)
        hash_sha.append(_timed(lambda: hash_two_at_a_time(["sha256sum"])))
        hash_ssl.append(_timed(lambda: hash_two_at_a_time(["openssl", "dgst", "-sha256"])))
        _empty(copies)
        _warm(*clips)
        write.append(_timed(lambda: _cp_sync(clips, copies)))
        _empty(copies)

    # The copy+hash bound: the same clips read and hashed once each by `cat CLIP | sha256sum`,
    # two at a time (two cores), then written once by `cp` (+ `sync`, since the station fsyncs):
    # bound time = median(hash pass) + median(write pass). The station does more than this
    # (it writes twice and hashes three times: staging, object store, re-hash), and ledgers.
    seconds = statistics.median(dock)
    bound = statistics.median(hash_sha) + statistics.median(write)
    bound_ssl = statistics.median(hash_ssl) + statistics.median(write)
    report(f"dock of {len(cards)} recorders, wall time", seconds, "s",
           peer="copy+hash bound (sha256sum x2 + cp/sync)", peer_value=bound)
    report(f"dock of {len(cards)} recorders, throughput", total / seconds / 1e9, "GB/s",
           peer="copy+hash bound (sha256sum x2 + cp/sync)", peer_value=total / bound / 1e9)
    report("  same, bound hashing with openssl dgst", total / seconds / 1e9, "GB/s",
           peer="copy+hash bound (openssl x2 + cp/sync)", peer_value=total / bound_ssl / 1e9)
    print(f"   bound parts (s): sha256sum x2 {statistics.median(hash_sha):.2f}, openssl x2 "
          f"{statistics.median(hash_ssl):.2f}, cp+sync {statistics.median(write):.2f}",
          flush=True)
    print("   per step, summed over dock threads (s): " + ", ".join(
        f"{name} {statistics.median(v):.2f}" for name, v in steps.items()), flush=True)


def _sm3_file(path: Path) -> None:
    digest = new_sm3()
    buffer = bytearray(CHUNK_BYTES)
    with path.open("rb", buffering=0) as fh, memoryview(buffer) as view:
        while n := fh.readinto(view):
            digest.update(view[:n])


def _sm4_file(path: Path) -> None:
    """SM4-GCM over the file's segments as the upload path seals them (integrity.sm4stream),
    into a buffer that is thrown away: the cipher's cost, no write."""
    sealer = s4.Sealer(os.urandom(s4.KEY_BYTES), s4.Header(prefix=os.urandom(s4.PREFIX_BYTES)))
    size = path.stat().st_size
    buffer = bytearray(s4.SEGMENT_BYTES)
    out = memoryview(bytearray(s4.SEGMENT_BYTES + s4.TAG_BYTES))
    with path.open("rb", buffering=0) as fh, memoryview(buffer) as view:
        for index in range(s4.segment_count(size)):
            n = fh.readinto(view)
            sealer.seal_into(index, view[:n], out, final=index == s4.segment_count(size) - 1)


def run_dock() -> None:
    """`python -m bench dock`: 8 recorders docked at once with SM3 + SM4 on (a new data dir's
    defaults), beside the crypto bound measured in the same run over the same clips: the slower
    of SM3 and SM4-GCM (the station's own libraries, two clips at a time on the two cores), since
    every byte must be both SM3-hashed and SM4-sealed. Clip size: DOCK_CLIP_MIB (env
    LIUHEN_BENCH_DOCK_MIB), sized so the bench fits this shared machine in about 3 minutes."""
    started = time.perf_counter()
    clip_bytes = int(os.environ.get("LIUHEN_BENCH_DOCK_MIB", DOCK_CLIP_MIB)) << 20
    with tempfile.TemporaryDirectory(prefix="liuhen-dock-bench-") as tmp:
        work = Path(tmp)
        block = os.urandom(BLOCK_BYTES)
        cards = [work / "cards" / f"card{i}" for i in range(CARDS)]
        clips = [_make_card(card, i, block, clip_bytes) for i, card in enumerate(cards)]
        total = sum(p.stat().st_size for card in cards for p in card.rglob("*") if p.is_file())
        print(f"-- dock of {CARDS} recorders x {clip_bytes >> 20} MiB clip (+2 small files), "
              f"{total / 1e6:,.0f} MB, SM3 + SM4-GCM on, on {os.cpu_count()} cores", flush=True)
        docks, sm3s, sm4s = [], [], []

        def two_at_a_time(fn: Callable[[Path], None]) -> None:
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(fn, clips))

        for _ in range(DOCK_RUNS):
            elapsed, _, encryption = _dock_fleet(cards, work / "data")
            if encryption != "sm4":
                raise RuntimeError(f"the dock ran with encryption {encryption!r}, not sm4")
            docks.append(elapsed)
            _warm(*clips)
            sm3s.append(_timed(lambda: two_at_a_time(_sm3_file)))
            sm4s.append(_timed(lambda: two_at_a_time(_sm4_file)))
        clip_total = sum(p.stat().st_size for p in clips)
        dock_mbps = total / statistics.median(docks) / 1e6
        sm3_mbps = clip_total / statistics.median(sm3s) / 1e6
        sm4_mbps = clip_total / statistics.median(sm4s) / 1e6
        bound, which = min((sm3_mbps, "SM3"), (sm4_mbps, "SM4-GCM"))
        report(f"dock of {CARDS} recorders, SM3 + SM4 on, to verified", dock_mbps, "MB/s",
               peer=f"crypto bound (the slower: {which}, 2 at a time)", peer_value=bound)
        print(f"   (SM3 {sm3_mbps:,.0f} MB/s, SM4-GCM {sm4_mbps:,.0f} MB/s over the same clips, "
              f"2 threads; dock medians of {DOCK_RUNS}: "
              + ", ".join(f"{t:.1f} s" for t in docks) + f"; load average "
              f"{os.getloadavg()[0]:.1f}; took {time.perf_counter() - started:.0f} s)",
              flush=True)


def run() -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="liuhen-station-bench-") as tmp:
        work = Path(tmp)
        block = os.urandom(BLOCK_BYTES)
        cards = [work / "cards" / f"card{i}" for i in range(CARDS)]
        clips = [_make_card(card, i, block) for i, card in enumerate(cards)]
        # Figure 1's recorder holds the first clip alone (a hard link: no second GiB on disk).
        single = work / "single"
        (single / CLIP.format(serial=_serial(0))).parent.mkdir(parents=True)
        os.link(clips[0], single / CLIP.format(serial=_serial(0)))
        _settle()
        _acquisition(single, clips[0], work)
        _fleet(cards, clips, work)
    print(f"   (station bench took {time.perf_counter() - started:.0f} s)", flush=True)
