"""Network uploads from 4G recorders (tus 1.0 under /api/uploads, issue 19) against a real
``liuhen serve`` on SQLite and PostgreSQL: a device credential made by ``liuhen devices add``; an
upload by a tus client that is not liuhen's (tuspy); a 1 GiB upload cut three times that resumes
to one verified clip with exactly one ``acquired`` entry; the device's clock recorded as the
clock offset; a wrong credential refused before a byte of the body is read; another device's
upload invisible."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from api.compose import open_ledger
from api.settings import Settings
from integrity.entry import decode_entry

GIB = 1 << 30
BLOCK = 1 << 20
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _liuhen(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", "from api.cli import main; main()", *args],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@dataclass
class Bureau:
    url: str
    data: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    def device(self, serial: str, officer: str = "010203") -> dict[str, str]:
        token = _liuhen("devices", "add", serial, "--officer", officer, "--data-dir",
                        str(self.data), env=self.env)
        return {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}

    def entries(self) -> list[tuple[str, str, dict[str, object]]]:
        ledger = open_ledger(Settings(data_dir=self.data,
                                      database_url=self.env["LIUHEN_DATABASE_URL"]))
        try:
            return [(e.kind.value, e.subject, e.body) for e in
                    (decode_entry(r.data) for r in ledger.store.entries())]
        finally:
            ledger.close()


@pytest.fixture
def bureau(tmp_path: Path, ledger_url: str) -> Iterator[Bureau]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = tmp_path / "bureau"
    env = {**os.environ, "LIUHEN_DATABASE_URL": ledger_url}
    _liuhen("init", "--data-dir", str(data), env=env)
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", "from api.cli import main; main()", "serve", "--data-dir",
         str(data), "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log,
        stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, \
            (tmp_path / "serve.log").read_text()
        time.sleep(0.2)
    yield Bureau(url=url, data=data, env=env, process=process)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    log.close()


def _create(bureau: Bureau, auth: dict[str, str], length: int, name: str,
            device_time: datetime | None = None) -> str:
    meta = f"filename {base64.b64encode(name.encode()).decode()}"
    if device_time is not None:
        meta += f",device_time {base64.b64encode(device_time.isoformat().encode()).decode()}"
    r = httpx.post(f"{bureau.url}/api/uploads", headers={
        **auth, "Upload-Length": str(length), "Upload-Metadata": meta})
    assert r.status_code == 201, r.text
    return bureau.url + r.headers["Location"]


def _offset(location: str, auth: dict[str, str]) -> int:
    r = httpx.head(location, headers=auth)
    assert r.status_code == 200
    return int(r.headers["Upload-Offset"])


def _content(length: int) -> Iterator[bytes]:
    """``length`` deterministic bytes, 1 MiB blocks each stamped with its index."""
    block = bytearray(hashlib.sha256(b"liuhen").digest() * (BLOCK // 32))
    for i in range(length // BLOCK):
        block[:8] = i.to_bytes(8, "little")
        yield bytes(block)


class _Cut(Exception):
    pass


def _patch(location: str, auth: dict[str, str], start: int, length: int, *,
           cut_after: int | None = None) -> httpx.Response | None:
    """PATCH the bytes from ``start``; with ``cut_after``, the connection is dropped after that
    many bytes of this request (the client aborts mid-body)."""

    def body() -> Iterator[bytes]:
        sent, skip = 0, start
        for whole in _content(length):
            if skip >= len(whole):
                skip -= len(whole)
                continue
            block, skip = whole[skip:], 0
            if cut_after is not None and sent + len(block) > cut_after:
                yield block[:cut_after - sent]
                raise _Cut
            sent += len(block)
            yield block

    headers = {**auth, "Upload-Offset": str(start),
               "Content-Type": "application/offset+octet-stream"}
    try:
        return httpx.patch(location, headers=headers, content=body(), timeout=600)
    except (_Cut, httpx.TransportError):
        return None


def test_a_1_gib_upload_cut_three_times_resumes_to_one_verified_clip(bureau: Bureau) -> None:
    auth = bureau.device("ZFY4G0001")
    expected = hashlib.sha256()
    for block in _content(GIB):
        expected.update(block)
    location = _create(bureau, auth, GIB, "20261124_085703_ZFY4G0001_010203.MP4",
                       device_time=datetime.now(UTC) - timedelta(seconds=95))
    offsets = [0]
    for cut in (100 << 20, 300 << 20, 250 << 20):
        assert _patch(location, auth, offsets[-1], GIB, cut_after=cut) is None
        time.sleep(0.5)  # the server notices the dropped connection
        offsets.append(_offset(location, auth))
    assert all(b > a for a, b in itertools.pairwise(offsets))  # each cut kept bytes
    done = _patch(location, auth, offsets[-1], GIB)
    assert done is not None and done.status_code == 204, done and done.text
    assert done.headers["Upload-Offset"] == str(GIB)
    assert done.headers["Upload-Sha256"] == expected.hexdigest()
    entries = bureau.entries()
    acquired = [b for k, s, b in entries if k == "acquired" and s == expected.hexdigest()]
    assert len(acquired) == 1 and acquired[0]["device"] == "ZFY4G0001"
    assert any(k == "stored" and s == expected.hexdigest() for k, s, _ in entries)
    clock = [b for k, s, b in entries if k == "clock_observed" and s == "ZFY4G0001"]
    assert clock and abs(int(str(clock[0]["offset_ms"])) + 95_000) < 10_000
    # the same PATCH again answers the offset, and nothing is ingested twice
    again = _patch(location, auth, GIB, GIB)
    assert again is not None and again.status_code == 204
    assert len([1 for k, s, _ in bureau.entries()
                if k == "acquired" and s == expected.hexdigest()]) == 1


def test_a_tus_client_that_is_not_liuhens(bureau: Bureau, tmp_path: Path) -> None:
    from tusclient import client as tus

    auth = bureau.device("ZFY4G0002", officer="020417")
    clip = tmp_path / "20261124_090000_ZFY4G0002_020417.MP4"
    clip.write_bytes(os.urandom(3 << 20))
    uploader = tus.TusClient(f"{bureau.url}/api/uploads",
                             headers={"Authorization": auth["Authorization"]}).uploader(
        str(clip), chunk_size=1 << 20, metadata={"filename": clip.name})
    uploader.upload()
    sha = hashlib.sha256(clip.read_bytes()).hexdigest()
    acquired = [b for k, s, b in bureau.entries() if k == "acquired" and s == sha]
    assert len(acquired) == 1 and acquired[0]["name_on_device"] == clip.name
    assert acquired[0]["officer"] == "020417"


def test_a_wrong_credential_is_refused_before_the_body(bureau: Bureau) -> None:
    auth = bureau.device("ZFY4G0003")
    location = _create(bureau, auth, 8 << 20, "a.MP4")
    wrong = {**auth, "Authorization": "Bearer lh_not-a-credential"}
    with socket.create_connection(("127.0.0.1", int(bureau.url.rsplit(":", 1)[1]))) as raw:
        path = location.removeprefix(bureau.url)
        raw.sendall((f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Authorization: {wrong['Authorization']}\r\nTus-Resumable: 1.0.0\r\n"
                     "Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
                     f"Content-Length: {8 << 20}\r\n\r\n").encode() + b"x" * 1024)
        answer = raw.recv(4096)  # answered without waiting for the 8 MiB
    assert answer.startswith(b"HTTP/1.1 401")
    assert _offset(location, auth) == 0
    other = bureau.device("ZFY4G0004")
    assert httpx.head(location, headers=other).status_code == 404  # not another device's
    assert httpx.post(f"{bureau.url}/api/uploads", headers={
        **wrong, "Upload-Length": "10"}).status_code == 401
