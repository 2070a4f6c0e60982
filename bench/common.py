"""Shared helpers: medians of several runs, one line per figure with its peer and ratio, and
``liuhen serve`` in a second process."""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from access.accounts import Accounts
from evidence.ids import StationId
from evidence.records import Entry, EntryKind
from integrity.entry import encode_entry

RUNS = 3


@contextmanager
def served(env: dict[str, str]) -> Iterator[str]:
    """``liuhen serve`` on a free loopback port with ``env`` (its data dir and database), in a
    second process, once ``/api/health`` answers: its base URL. Stopped at the end."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("liuhen")), "serve", "--port", str(port)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def median_time(fn: Callable[[], object], *, runs: int = RUNS) -> float:
    """Median wall time of ``runs`` calls (the machine is shared and noisy)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report(name: str, value: float, unit: str, *, peer: str = "", peer_value: float = 0.0,
           goal: str = "") -> None:
    line = f"{name:<66} {value:>12,.2f} {unit}"
    if peer:
        ratio = value / peer_value if peer_value else float("nan")
        line += f"   | {peer}: {peer_value:,.2f} {unit}  ratio {ratio:.2f}x"
    if goal:
        line += f"   (goal {goal})"
    print(line, flush=True)


def make_entries(n: int) -> list[bytes]:
    """n distinct, canonical ~330-byte ``acquired`` entries (a template with a varying subject)."""
    template = encode_entry(Entry(
        kind=EntryKind.ACQUIRED, subject="0" * 64, station=StationId("station-01"),
        actor="000123", at=datetime(2026, 11, 24, 8, 57, 3, tzinfo=UTC),
        body={"device": "ZFY00042", "officer": "000123", "size": 104857600,
              "name_on_device": "DCIM/100MEDIA/20261124_085703_ZFY00042_000123.MP4"}))
    head, _, tail = template.partition(b"0" * 64)
    return [head + b"%064x" % i + tail for i in range(n)]


def unit_code(u: int) -> str:
    """The 12-digit code of the benches' ``u``-th 派出所 under 市局 110000000000."""
    return f"1101{u:04d}0000"


def add_bureau(people: Accounts, *, units: int, officers: int,
               first_password: str | None = None) -> None:
    """A 市局 with ``units`` 派出所 and ``officers`` officers (警号 100000 on), spread over the
    units round-robin; only the first officer gets ``first_password``."""
    people.add_unit("110000000000", "市局", parent=None, actor="bench")
    for u in range(units):
        people.add_unit(unit_code(u), f"派出所{u}", parent="110000000000", actor="bench")
    for o in range(officers):
        people.add_user(f"{100000 + o}", name=f"民警{o}", unit=unit_code(o % units),
                        roles=["officer"], password=first_password if o == 0 else None,
                        actor="bench")
