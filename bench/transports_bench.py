"""25 recorders docked at once over three transports (issue 19): 9 on the simulated USB bus
(their GA/T 947.4 session in-process), 8 speaking E12 and 8 speaking ZZX to their simulators on
loopback — sessions over real TCP — all through the whole pipeline to ``verified`` on a fresh
station (SQLite + local WORM store, SM3 + SM4 on), ``LIUHEN_MAX_DOCKS`` = 25. Beside it, in the
same run over the same files: the copy+hash bound (``cat | sha256sum`` two at a time, then ``cp``
+ ``sync``), and the same 25 cards docked as 25 USB recorders (what the network sessions cost).

Clip size per card: ``LIUHEN_BENCH_TRANSPORTS_MIB`` (default 32 MiB: 25 × 32 MiB is about a
minute a run here). Warm cache, medians of RUNS, as bench/station_bench.py.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.compose import open_station
from api.settings import Settings
from api.station import LogProgress
from bench.common import RUNS, report
from bench.station_bench import (
    BLOCK_BYTES,
    _cat_into,
    _checked,
    _cp_sync,
    _empty,
    _make_card,
    _quiet_local_store,
    _timed,
    _warm,
)
from devices.e12 import E12Transport
from devices.gat947 import Gat947Driver, Gat947Transport
from devices.sim.clock import DriftingClock
from devices.sim.device import SimulatedRecorder
from devices.sim.e12sim import E12Simulator
from devices.sim.recorder import OFFICERS
from devices.sim.zzxsim import ZzxSimulator
from devices.zfy import ZfyInfo
from devices.zzx import ZzxTransport
from evidence.ids import DeviceSerial
from ingest.station import Dock, DockResult

RECORDERS = 25
MIX = ("usb",) * 9 + ("e12",) * 8 + ("zzx",) * 8


def _recorders(cards: list[Path]) -> list[SimulatedRecorder]:
    """A simulated recorder (session, officer, a clock 95 s slow) per card."""
    return [SimulatedRecorder(
        serial=f"BENCH{i + 1:02d}", id_code="LHZF1", password=b"123456",
        zfy=ZfyInfo(serial=DeviceSerial(f"BENCH{i + 1:02d}"), officer=OFFICERS[i % len(OFFICERS)]),
        clock=DriftingClock(lambda: datetime.now(UTC), offset=timedelta(seconds=-95)),
        storage=card) for i, card in enumerate(cards)]


def _dock_all(recorders: list[SimulatedRecorder], mix: tuple[str, ...], data_dir: Path) -> float:
    """Wall seconds to dock every recorder at once, each over its transport in ``mix``."""
    with _quiet_local_store():
        station = open_station(Settings(data_dir=data_dir, max_docks=RECORDERS))
    try:
        ctx = station.context(LogProgress(lambda _line: None))
        with ExitStack() as stack:
            drivers = []
            for recorder, transport in zip(recorders, mix, strict=True):
                session: Gat947Transport = recorder
                if transport == "e12":
                    sim = stack.enter_context(E12Simulator(recorder))
                    session = E12Transport("127.0.0.1", sim.port)
                elif transport == "zzx":
                    zsim = stack.enter_context(ZzxSimulator(recorder))
                    session = ZzxTransport("127.0.0.1", zsim.port)
                drivers.append(Gat947Driver(session, usb_serial=DeviceSerial(recorder.serial),
                                            storage=recorder.volume))

            def work(driver: Gat947Driver) -> DockResult:
                return _checked(Dock(driver, ctx=ctx, password=b"123456").run())

            _warm(*(p for r in recorders for p in r.storage.rglob("*") if p.is_file()))
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=RECORDERS) as pool:
                results = list(pool.map(work, drivers))
            station.ledger.publish(actor="station")
            elapsed = time.perf_counter() - start
        if len(results) != RECORDERS:
            raise RuntimeError("not every recorder docked")
    finally:
        station.close()
        shutil.rmtree(data_dir)
    return elapsed


def run() -> None:
    started = time.perf_counter()
    clip_bytes = int(os.environ.get("LIUHEN_BENCH_TRANSPORTS_MIB", "32")) << 20
    with tempfile.TemporaryDirectory(prefix="liuhen-transports-bench-") as tmp:
        work = Path(tmp)
        block = os.urandom(min(BLOCK_BYTES, clip_bytes))  # clip_bytes: a multiple of 1 MiB
        cards = [work / "cards" / f"card{i}" for i in range(RECORDERS)]
        clips = [_make_card(card, i, block, clip_bytes) for i, card in enumerate(cards)]
        files = [p for card in cards for p in card.rglob("*") if p.is_file()]
        total = sum(p.stat().st_size for p in files)
        recorders = _recorders(cards)
        print(f"-- {RECORDERS} recorders docked at once (9 USB, 8 E12, 8 ZZX on loopback), "
              f"{clip_bytes >> 20} MiB clip + 2 small files each, {total / 1e6:,.0f} MB, "
              f"SM3 + SM4 on, on {os.cpu_count()} cores", flush=True)
        mixed, usb_only, hashes, writes = [], [], [], []
        copies = work / "copies"

        def hash_two_at_a_time() -> None:
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(lambda clip: _cat_into(clip, ["sha256sum"]), clips))

        for _ in range(RUNS):
            for r in recorders:  # each run finds every file on its card again
                r.session_open = r.msc_mode = False
            mixed.append(_dock_all(recorders, MIX, work / "data"))
            for r in recorders:
                r.session_open = r.msc_mode = False
            usb_only.append(_dock_all(recorders, ("usb",) * RECORDERS, work / "data"))
            _warm(*clips)
            hashes.append(_timed(hash_two_at_a_time))
            _empty(copies)
            _warm(*clips)
            writes.append(_timed(lambda: _cp_sync(clips, copies)))
            _empty(copies)
        seconds = statistics.median(mixed)
        bound = statistics.median(hashes) + statistics.median(writes)
        report(f"dock of {RECORDERS} recorders over USB, E12 and ZZX, wall time", seconds, "s",
               peer="copy+hash bound (sha256sum x2 + cp/sync)", peer_value=bound)
        report(f"dock of {RECORDERS} recorders over USB, E12 and ZZX", total / seconds / 1e6,
               "MB/s", peer=f"the same {RECORDERS} docked over USB only",
               peer_value=total / statistics.median(usb_only) / 1e6)
        print(f"   medians of {RUNS}: mixed " + ", ".join(f"{t:.1f}" for t in mixed)
              + " s; USB only " + ", ".join(f"{t:.1f}" for t in usb_only)
              + f" s; load average {os.getloadavg()[0]:.1f}; took "
              f"{time.perf_counter() - started:.0f} s", flush=True)
