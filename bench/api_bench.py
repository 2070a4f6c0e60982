"""Verify-by-hash over HTTP at 1M ledger entries under 50 concurrent clients (issue 6 goal:
p99 <= 50 ms), measured by ``wrk`` from a second process against ``liuhen serve``; the peer is
the same server's ``/api/health`` (no database, no proof) under the same load: what the HTTP
stack alone costs on this machine."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from api.compose import open_ledger
from api.settings import Settings
from bench.common import make_entries, report, served
from storage.tokens import SqlTokenRepo

N = 1_000_000
BATCH = 50_000  # build batches: setup, not measured
CLIENTS = 50
SECONDS = 10
RUNS = 3

_LUA = """
math.randomseed(7)
local n = {n}
local auth = "Bearer {token}"
request = function()
  local path = string.format("{path}", math.random(0, n - 1))
  return wrk.format("GET", path, {{["Authorization"] = auth}})
end
"""


def _build(data_dir: Path) -> str:
    """A 1M-entry SQLite ledger as a station writes it, one checkpoint over all of it, and an
    auditor's token; returns the token."""
    ledger = open_ledger(Settings(data_dir=data_dir))
    try:
        datas = make_entries(N)
        for i in range(0, N, BATCH):
            ledger.store.append_batch([(d, "acquired", f"{i + j:064x}")
                                       for j, d in enumerate(datas[i:i + BATCH])],
                                      signers=ledger.stations)
        ledger.publish()
        token, _ = SqlTokenRepo(ledger.store.engine).issue(name="auditor-bench", role="auditor",
                                                           now=datetime.now(UTC))
        ledger.catalogue.catch_up()  # the server starts with its read model current
    finally:
        ledger.close()
    return token


def _found(match: re.Match[str] | None, text: str) -> re.Match[str]:
    """``match``, or a stop naming the wrk output it was looked for in (wrk changed its format)."""
    if match is None:
        raise SystemExit(f"unexpected wrk output:\n{text}")
    return match


def _ms(text: str) -> float:
    value, unit = _found(re.fullmatch(r"([\d.]+)(us|ms|s)", text), text).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def _wrk(url: str, script: Path) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, requests/s) of one wrk run; non-2xx responses fail the bench."""
    out = subprocess.run(["wrk", "-t2", f"-c{CLIENTS}", f"-d{SECONDS}s", "--latency",
                          "-s", str(script), url], check=True, capture_output=True,
                         text=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw error responses:\n{out}")
    p50 = _ms(_found(re.search(r"^\s+50%\s+(\S+)", out, re.M), out).group(1))
    p99 = _ms(_found(re.search(r"^\s+99%\s+(\S+)", out, re.M), out).group(1))
    rps = float(_found(re.search(r"Requests/sec:\s+([\d.]+)", out), out).group(1))
    return p50, p99, rps


def run() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: scripts/system-deps.sh installs it (Debian package)")
    print(f"-- verify by hash over HTTP, {N:,} entries (SQLite), {CLIENTS} clients (wrk)",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        start = time.perf_counter()
        token = _build(data_dir)
        print(f"   (ledger built in {time.perf_counter() - start:.0f} s)", flush=True)
        env = {**os.environ, "LIUHEN_DATA_DIR": str(data_dir)}
        with served(env) as base:
            auth = {"Authorization": f"Bearer {token}"}
            warm = time.perf_counter()  # the first proof loads the tree's levels (cold cache)
            first = httpx.get(f"{base}/api/verify/{0:064x}", headers=auth, timeout=60)
            first.raise_for_status()
            cold_s = time.perf_counter() - warm
            verify_lua = Path(tmp) / "verify.lua"
            verify_lua.write_text(_LUA.format(n=N, token=token, path="/api/verify/%064x"))
            health_lua = Path(tmp) / "health.lua"
            health_lua.write_text(_LUA.format(n=N, token=token, path="/api/health?i=%d"))
            figures = [_wrk(base, verify_lua) for _ in range(RUNS)]
            peers = [_wrk(base, health_lua) for _ in range(RUNS)]
    p50 = statistics.median(f[0] for f in figures)
    p99 = statistics.median(f[1] for f in figures)
    rps = statistics.median(f[2] for f in figures)
    report("verify by hash, p99 latency (50 clients, 1M entries)", p99, "ms",
           peer="GET /api/health p99, same load", peer_value=statistics.median(
               f[1] for f in peers), goal="<= 50 ms")
    report("  verify by hash, p50 latency", p50, "ms",
           peer="GET /api/health p50", peer_value=statistics.median(f[0] for f in peers))
    report("  verify by hash, requests/s", rps, "/s",
           peer="GET /api/health", peer_value=statistics.median(f[2] for f in peers))
    report("  first verify after start (loads 1M leaf hashes)", cold_s, "s")
