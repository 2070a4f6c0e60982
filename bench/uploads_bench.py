"""Network uploads (tus, issue 19): one upload of N MiB (``LIUHEN_BENCH_UPLOAD_MIB``, default
256) to ``liuhen serve`` on loopback — one PATCH, hashed (SHA-256 and SM3) as it streams in, then
ingested to ``stored`` (SM3 + SM4 on, local WORM store) before the answer — beside ``curl
--upload-file`` of the same bytes to a bare HTTP server on loopback that only writes them to a
file (Python's http.server in this process). Medians of RUNS, a fresh file each run (the store
is content-addressed)."""

from __future__ import annotations

import base64
import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.common import RUNS, report, served

MIB = 1 << 20


class _Sink(http.server.BaseHTTPRequestHandler):
    """PUT: the body written to a file, nothing else."""

    target: Path

    def do_PUT(self) -> None:
        left = int(self.headers["Content-Length"])
        with self.target.open("wb") as fh:
            while left:
                data = self.rfile.read(min(left, MIB))
                fh.write(data)
                left -= len(data)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


def _liuhen(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", "from api.cli import main; main()", *args],
                          env=env, capture_output=True, text=True, check=True, timeout=120)
    return done.stdout.strip()


def _upload(url: str, token: str, path: Path) -> float:
    size = path.stat().st_size
    auth = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    name = base64.b64encode(path.name.encode()).decode()
    start = time.perf_counter()
    created = httpx.post(f"{url}/api/uploads", headers={
        **auth, "Upload-Length": str(size), "Upload-Metadata": f"filename {name}"})
    created.raise_for_status()

    def body() -> Iterator[bytes]:
        with path.open("rb") as fh:
            while data := fh.read(MIB):
                yield data

    done = httpx.patch(url + created.headers["Location"], content=body(), timeout=600,
                       headers={**auth, "Upload-Offset": "0",
                                "Content-Type": "application/offset+octet-stream"})
    elapsed = time.perf_counter() - start
    if done.status_code != 204 or done.headers.get("Upload-Offset") != str(size):
        raise RuntimeError(f"upload failed: {done.status_code} {done.text[:200]}")
    return elapsed


def run() -> None:
    size = int(os.environ.get("LIUHEN_BENCH_UPLOAD_MIB", "256")) * MIB
    with tempfile.TemporaryDirectory(prefix="liuhen-uploads-bench-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "LIUHEN_DATABASE_URL": f"sqlite:///{work / 'ledger.db'}"}
        data = work / "data"
        _liuhen("init", "--data-dir", str(data), env=env)
        token = _liuhen("devices", "add", "BENCH4G01", "--officer", "010203", "--data-dir",
                        str(data), env=env)
        _Sink.target = work / "sink.bin"
        sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
        threading.Thread(target=sink.serve_forever, daemon=True).start()
        try:
            with served({**env, "LIUHEN_DATA_DIR": str(data)}) as url:
                _measure(url, token, size, work, sink.server_address[1])
        finally:
            sink.shutdown()


def _measure(url: str, token: str, size: int, work: Path, sink_port: int) -> None:
    print(f"-- tus upload of {size // MIB} MiB to liuhen serve (SQLite, local WORM store, "
          "SM3 + SM4 on), ingested before the answer", flush=True)
    ours, curls = [], []
    for run_no in range(RUNS):
        clip = work / f"20261124_0857{run_no:02d}_BENCH4G01_010203.MP4"
        with clip.open("wb") as fh:
            block = os.urandom(MIB)
            for i in range(size // MIB):
                fh.write(i.to_bytes(8, "little") + block[8:])
        ours.append(_upload(url, token, clip))
        start = time.perf_counter()
        # no "Expect: 100-continue": the bare server would make curl wait a second for it
        subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", "Expect:", "--upload-file",
                        str(clip), f"http://127.0.0.1:{sink_port}/sink"], check=True)
        curls.append(time.perf_counter() - start)
        clip.unlink()
    report("tus upload to liuhen serve, to stored", size / statistics.median(ours) / 1e6,
           "MB/s", peer="curl --upload-file to a bare HTTP server",
           peer_value=size / statistics.median(curls) / 1e6)
    print("   runs (s): ours " + ", ".join(f"{t:.1f}" for t in ours) + "; curl "
          + ", ".join(f"{t:.2f}" for t in curls)
          + f"; load average {os.getloadavg()[0]:.1f}", flush=True)
