"""Two-level log on loopback (docs/adr/0014-two-level-log.md): a bureau (``liuhen serve`` on
PostgreSQL) and three stations with their own data dirs. Stations dock while the bureau is down,
then sync; every entry reaches the bureau exactly once; a forked station is refused with the
step named and flagged; unknown and unapproved stations are refused; audits pass everywhere and
the bureau's station audit names a tampered entry."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from api.cli import app as cli
from api.cli._common import settings_for
from api.compose import open_ledger, open_ledger_and_store
from api.stationlink import (
    BureauLink,
    read_acknowledged,
    read_link,
    read_object_receipts,
    write_link,
)
from evidence.bodies import AcquiredBody, StoredBody
from evidence.ids import Sha256Hex
from evidence.records import EntryKind, TreeHead
from integrity import merkle
from integrity.entry import decode_entry
from integrity.notes import sign_checkpoint
from tests.support.s3 import S3Env, ensure_rgw, new_bucket

pytestmark = pytest.mark.postgres
runner = CliRunner()
BUREAU_ORIGIN = "liuhen.test-bureau/ledger/v1"
MTIME = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Bureau:
    def __init__(self, data: Path, db_url: str) -> None:
        self.data = data
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**_clean_env(), "LIUHEN_DATA_DIR": str(data), "LIUHEN_DATABASE_URL": db_url,
                    "LIUHEN_ORIGIN": BUREAU_ORIGIN}
        self.server: subprocess.Popen[bytes] | None = None
        self.bucket: str | None = None
        self.s3: S3Env | None = None

    def held_object(self, key: str) -> bytes:
        """The bytes the bureau's store holds under ``key`` (local folder or the bucket)."""
        if self.s3 is None or self.bucket is None:
            return (self.data / "objects" / "objects" / key).read_bytes()
        got = self.s3.client().get_object(Bucket=self.bucket, Key=f"bureau/{key}")
        body: bytes = got["Body"].read()
        return body

    def cli(self, *args: str) -> tuple[int, str]:
        result = runner.invoke(cli, [*args], env=self.env)
        return result.exit_code, result.output

    def start(self) -> None:
        self.server = subprocess.Popen(
            [sys.executable, "-c", "from api.cli import main; main()", "serve", "--host",
             "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "liuhen serve did not come up"
            assert self.server.poll() is None, self.server.communicate()[0].decode()
            time.sleep(0.1)

    def stop(self) -> None:
        if self.server is not None:
            self.server.send_signal(signal.SIGINT)
            self.server.communicate(timeout=30)
            self.server = None


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LIUHEN_")}


@pytest.fixture
def bureau(request: pytest.FixtureRequest, tmp_path: Path, pg_url: str) -> Iterator[Bureau]:
    """The bureau on PostgreSQL, its objects in the local WORM store or, with the parameter
    ``rgw``, in a bucket with Object Lock on Ceph RGW (what a bureau runs)."""
    b = Bureau(tmp_path / "bureau", pg_url)
    if getattr(request, "param", "local") == "rgw":
        s3 = ensure_rgw()
        bucket = new_bucket(s3.client(), "bureau", lock=True, default=("COMPLIANCE", 3))
        b.bucket, b.s3 = bucket, s3
        b.env.update({"LIUHEN_STORE_URL": f"s3://{bucket}/bureau",
                      "LIUHEN_S3_ENDPOINT_URL": s3.endpoint_url,
                      "LIUHEN_S3_REGION": s3.region, "LIUHEN_RETENTION_DAYS": "2",
                      **s3.env()})
    code, out = b.cli("init")
    assert code == 0, out
    b.start()
    try:
        yield b
    finally:
        b.stop()


def _station(tmp_path: Path, name: str) -> tuple[Path, dict[str, str]]:
    data = tmp_path / name
    return data, {**_clean_env(), "LIUHEN_DATA_DIR": str(data)}


def _dock(data: Path, n: int, tag: str) -> None:
    """Entries as docking writes them (acquired), a checkpoint after each; no network."""
    env = os.environ.copy()
    os.environ.update(_clean_env())
    try:
        ledger = open_ledger(settings_for(data))
        try:
            for i in range(n):
                ledger.writer.append(AcquiredBody(
                    size=10 + i, device="LH1", officer="100001", unit_no="", clock_offset_ms=0,
                    name_on_device=f"{tag}-{i}.mp4", device_mtime=MTIME),
                    subject=f"{(tag + str(i)).encode().hex():0<64}"[:64], actor="100001")
                ledger.publish()
        finally:
            ledger.close()
    finally:
        os.environ.clear()
        os.environ.update(env)


def _store_clip(data: Path, content: bytes) -> str:
    """A clip stored as docking stores it (sealed with SM4 at rest by default) and its
    ``stored`` entry; returns its SHA-256."""
    env = os.environ.copy()
    os.environ.clear()
    os.environ.update(_clean_env())
    try:
        ledger, blobs = open_ledger_and_store(settings_for(data))
        try:
            sha = hashlib.sha256(content).hexdigest()
            staged = data / f"{sha}.orig"
            staged.write_bytes(content)
            obj = blobs.verify(blobs.put(
                f"originals/{sha[:2]}/{sha}", staged, sha256=Sha256Hex(sha), size=len(content),
                retain_until=datetime.now(UTC) + timedelta(days=200)), rehash=True)
            staged.unlink()
            seal = obj.sealing
            assert seal is not None
            ledger.writer.append(StoredBody(
                device="LH1", name_on_device="clip.mp4", store=obj.store, key=obj.key,
                version_id=obj.version_id, size=obj.size, lock_mode=obj.lock_mode,
                retain_until=obj.retain_until, cipher=seal.algorithm, kek_id=seal.kek_id,
                wrapped_key=seal.wrapped_key, sealed_sha256=seal.sealed_sha256,
                sealed_size=seal.sealed_size), subject=sha, actor="station")
            return sha
        finally:
            ledger.close()
    finally:
        os.environ.clear()
        os.environ.update(env)


def _size(data: Path) -> int:
    ledger = open_ledger(settings_for(data))
    try:
        return ledger.store.head().size
    finally:
        ledger.close()


def _sync(env: dict[str, str]) -> tuple[int, str]:
    result = runner.invoke(cli, ["sync", "--once"], env=env)
    return result.exit_code, result.output + repr(result.exception)


@pytest.mark.parametrize("bureau", ["local", "rgw"], indirect=True)
def test_three_stations_store_and_forward(tmp_path: Path, bureau: Bureau, pg_url: str) -> None:
    stations = {}
    for sid in ("pcs-a", "pcs-b", "pcs-c"):
        data, env = _station(tmp_path, sid)
        result = runner.invoke(cli, ["stations", "join", "--bureau", bureau.url,
                                     "--station-id", sid], env=env)
        assert result.exit_code == 0, result.output
        assert "pending" in result.output
        link = read_link(data)
        assert link is not None and link.origin == f"liuhen.test-bureau/station/{sid}"
        stations[sid] = (data, env)

    # station ids are unique: another data dir cannot take pcs-a with its own keys
    _other, other_env = _station(tmp_path, "impostor")
    taken = runner.invoke(cli, ["stations", "join", "--bureau", bureau.url,
                                "--station-id", "pcs-a"], env=other_env)
    assert taken.exit_code == 5 and "已被另一组密钥登记" in taken.output

    # not approved yet: refused (no token yet; and a token an admin made by hand is refused too)
    code, out = _sync(stations["pcs-a"][1])
    assert code == 3 and "HTTP 401" in out
    code, early = bureau.cli("tokens", "create", "--role", "station", "--name", "pcs-a")
    link_a = read_link(stations["pcs-a"][0])
    assert code == 0 and link_a is not None
    write_link(stations["pcs-a"][0], dataclasses.replace(link_a, token=early.split()[0]))
    code, out = _sync(stations["pcs-a"][1])
    assert code == 3 and "尚未获管理员批准" in out, out
    for sid, (_data, env) in stations.items():
        code, out = bureau.cli("stations", "approve", sid)
        assert code == 0, out
        token = re.search(r"--token (lh_\S+)", out)
        assert token is not None, out
        again = runner.invoke(cli, ["stations", "join", "--bureau", bureau.url,
                                    "--station-id", sid, "--token", token.group(1)], env=env)
        assert again.exit_code == 0 and "approved" in again.output, again.output
    # a station token acts only for its own station
    token_a = read_link(stations["pcs-a"][0])
    assert token_a is not None and token_a.token is not None
    other = httpx.get(f"{bureau.url}/api/stations/pcs-b",
                      headers={"Authorization": f"Bearer {token_a.token}"})
    assert other.status_code == 403 and "不能代表站点 pcs-b" in other.json()["detail"]
    trust = bureau.cli("trust-root")[1]
    assert "liuhen.test-bureau/station/pcs-b" in trust and '"status": "approved"' in trust

    # an unregistered station is refused: without a token, and with a station token an admin
    # made by hand for a station that never registered
    ghost, ghost_env = _station(tmp_path, "ghost")
    assert runner.invoke(cli, ["init"], env={**ghost_env, "LIUHEN_ORIGIN":
                                             "liuhen.test-bureau/station/ghost"}).exit_code == 0
    link = BureauLink(bureau_url=bureau.url, bureau_origin=BUREAU_ORIGIN, station_id="ghost",
                      origin="liuhen.test-bureau/station/ghost")
    write_link(ghost, link)
    code, out = _sync(ghost_env)
    assert code == 3 and "HTTP 401" in out
    code, ghost_token = bureau.cli("tokens", "create", "--role", "station", "--name", "ghost")
    assert code == 0
    write_link(ghost, dataclasses.replace(link, token=ghost_token.split()[0]))
    code, out = _sync(ghost_env)
    assert code == 3 and "未登记的站点" in out

    # the bureau goes down; the stations keep docking
    bureau.stop()
    clips = {}
    for i, (data, env) in enumerate(stations.values()):
        _dock(data, 3 + i, f"s{i}")
        clips[data.name] = _store_clip(data, f"clip of {data.name} ".encode() * 5000)
        code, out = _sync(env)
        assert code == 75 and "无法连接局端" in out

    bureau.start()
    for data, env in stations.values():
        code, out = _sync(env)
        assert code == 0, out
        assert read_acknowledged(data) == _size(data), out
        assert "对象 1 个" in out
        assert set(read_object_receipts(data)) == {_size(data) - 1}
        code, out = _sync(env)  # again: nothing new, nothing duplicated
        assert code == 0 and "推送 1 次、0 条" in out and "对象 0 个" in out
        assert "释放本地副本 0 个" in out  # kept 30 days after the receipt by default

    # a station keeping no days after the receipt releases its copy on the next sync, ledgered
    data_b, env_b = stations["pcs-b"]
    code, out = _sync({**env_b, "LIUHEN_SYNC_KEEP_DAYS": "0"})
    assert code == 0 and "释放本地副本 1 个" in out, out
    ledger_b = open_ledger(settings_for(data_b))
    try:
        kinds = [decode_entry(e.data).kind for e in ledger_b.store.find(clips["pcs-b"])]
    finally:
        ledger_b.close()
    assert kinds.count(EntryKind.COPY_RELEASED) == 1
    code, out = _sync(env_b)  # the release itself reaches the bureau; nothing released again
    assert code == 0 and "推送 1 次、1 条" in out and "释放本地副本 0 个" in out, out

    # bytes that are not the entry's are refused, with the step and the entry's index
    index = min(read_object_receipts(stations["pcs-a"][0]))
    link_a = read_link(stations["pcs-a"][0])
    assert link_a is not None
    auth = {"Authorization": f"Bearer {link_a.token}"}
    anonymous = httpx.put(f"{bureau.url}/api/stations/pcs-a/objects/{index}", content=b"x" * 9)
    assert anonymous.status_code == 401
    wrong = httpx.put(f"{bureau.url}/api/stations/pcs-a/objects/{index}", content=b"x" * 70000,
                      headers={"Content-Type": "application/octet-stream", **auth})
    assert wrong.status_code == 422 and wrong.json()["step"] == "object-digest"
    assert wrong.json()["index"] == index
    not_stored = httpx.put(f"{bureau.url}/api/stations/pcs-a/objects/0", content=b"x",
                           headers=auth)
    assert not_stored.status_code == 422 and "不是 stored 条目" in not_stored.json()["detail"]

    engine = create_engine(pg_url)
    with engine.connect() as conn:
        held: dict[str, int] = dict(conn.execute(text(
            "SELECT station_id, count(*) FROM station_entries GROUP BY station_id")).all())
        per_size = conn.execute(text("SELECT count(*), count(DISTINCT (station_id, size)) "
                                     "FROM station_checkpoints")).one()
        bureau_entries = conn.execute(text(
            "SELECT count(*) FROM ledger_entries WHERE kind = 'station_checkpoint'")).scalar()
    assert held == {sid: _size(data) for sid, (data, _env) in stations.items()}
    assert per_size[0] == per_size[1] == bureau_entries
    with engine.connect() as conn:
        objects = conn.execute(text("SELECT station_id, key FROM station_objects")).all()
    assert sorted(sid for sid, _key in objects) == sorted(stations)
    for sid, key in objects:  # the sealed bytes, kept as the station stored them
        held_bytes = bureau.held_object(key)
        assert hashlib.sha256(held_bytes).hexdigest() == key.rsplit("/", 1)[1]
        assert f"clip of {sid}".encode() not in held_bytes  # ciphertext, not the clip

    # a forked station: a copy of pcs-c's data dir, diverging after the synced prefix
    data_c, env_c = stations["pcs-c"]
    fork = tmp_path / "pcs-c-fork"
    shutil.copytree(data_c, fork)
    _dock(data_c, 1, "real")
    _dock(fork, 1, "forged")
    assert _sync(env_c)[0] == 0
    code, out = _sync({**env_c, "LIUHEN_DATA_DIR": str(fork)})
    assert code == 1 and "[station-consistency]" in out, out
    listed = bureau.cli("stations", "list")[1]
    assert "pcs-c  approved" in listed and "station-consistency" in listed

    # a station that re-pushes its history from 0 with entry 1 rewritten (and re-signed by its
    # own log keys) is refused at that entry
    data_b = stations["pcs-b"][0]
    ledger_b = open_ledger(settings_for(data_b))
    try:
        datas = [d for _i, d, _leaf in ledger_b.store.entry_rows()]
        datas[1] = datas[1].replace(b"s1-1.mp4", b"s1-X.mp4")
        assert datas[1] != next(ledger_b.store.entry_rows(1, 2))[1]
        leaves = [merkle.leaf_hash(d) for d in datas]
        note = sign_checkpoint(ledger_b.origin, TreeHead(len(datas), merkle.root(leaves)),
                               ledger_b.logs).note
    finally:
        ledger_b.close()
    link_b = read_link(data_b)
    assert link_b is not None
    rewritten = httpx.post(f"{bureau.url}/api/stations/pcs-b/push",
                           headers={"Authorization": f"Bearer {link_b.token}"},
                           json={"start": 0, "note": note.decode(),
                                 "entries": [base64.b64encode(d).decode() for d in datas]})
    assert rewritten.status_code == 422, rewritten.text
    assert (rewritten.json()["step"], rewritten.json()["index"]) == ("station-consistency", 1)

    # audits: each station's own log, the bureau's log, every station log the bureau holds
    for _data, env in stations.values():
        result = runner.invoke(cli, ["audit"], env=env)
        assert result.exit_code == 0, result.output
    time.sleep(1.5)  # the bureau's server publishes a checkpoint over its latest entries
    code, out = bureau.cli("audit")
    assert code == 0 and out.count("station log verified") == 3, out
    code, out = bureau.cli("stations", "audit")
    assert code == 0 and out.count("核验通过") == 3, out

    # a station entry's two-hop proof, verified offline against the bureau's trust root
    (tmp_path / "trust.json").write_text(bureau.cli("trust-root")[1], encoding="utf-8")
    code, out = bureau.cli("stations", "proof", "pcs-b", "2")
    assert code == 0, out
    (tmp_path / "proof.json").write_text(out, encoding="utf-8")
    checked = runner.invoke(cli, ["stations", "verify-proof", str(tmp_path / "proof.json"),
                                  "--trust-root", str(tmp_path / "trust.json")])
    assert checked.exit_code == 0 and "两跳证明核验通过" in checked.output, checked.output
    forged = json.loads(out)
    forged["entry"] = base64.b64encode(base64.b64decode(forged["entry"]) + b" ").decode()
    (tmp_path / "forged.json").write_text(json.dumps(forged), encoding="utf-8")
    checked = runner.invoke(cli, ["stations", "verify-proof", str(tmp_path / "forged.json"),
                                  "--trust-root", str(tmp_path / "trust.json")])
    assert checked.exit_code == 1 and "[station-inclusion]" in checked.output, checked.output
    assert "at index 2" in checked.output
    moved = json.loads(out)
    moved["bureau_index"] += 1  # the right entry claimed at another place in the bureau's log
    (tmp_path / "moved.json").write_text(json.dumps(moved), encoding="utf-8")
    checked = runner.invoke(cli, ["stations", "verify-proof", str(tmp_path / "moved.json"),
                                  "--trust-root", str(tmp_path / "trust.json")])
    assert checked.exit_code == 1 and "[bureau-inclusion]" in checked.output, checked.output

    # the bureau's bundle of a station clip carries both hops; verify-bundle checks them offline
    bundle, clip_file = tmp_path / "pcs-b.bundle.json", tmp_path / "pcs-b.clip"
    clip_file.write_bytes(b"clip of pcs-b " * 5000)
    code, out = bureau.cli("export-bundle", "--station", "pcs-b", clips["pcs-b"], "-o",
                           str(bundle))
    assert code == 0, out
    checked = runner.invoke(cli, ["verify-bundle", str(bundle), "--clip", str(clip_file),
                                  "--trust-root", str(tmp_path / "trust.json")])
    assert checked.exit_code == 0 and "站点一跳通过" in checked.output, checked.output
    assert "局端一跳通过" in checked.output
    value = json.loads(bundle.read_bytes())
    value["station"]["entry"] = base64.b64encode(
        base64.b64decode(value["station"]["entry"]) + b" ").decode()
    bundle.write_text(json.dumps(value), encoding="utf-8")
    checked = runner.invoke(cli, ["verify-bundle", str(bundle),
                                  "--trust-root", str(tmp_path / "trust.json")])
    assert checked.exit_code == 1 and "[B8-H2]" in checked.output, checked.output
    assert "站点一跳" in checked.output

    # a revoked station is refused from then on
    assert bureau.cli("stations", "revoke", "pcs-a")[0] == 0
    code, out = _sync(stations["pcs-a"][1])
    assert code == 3 and "已被吊销" in out

    # a tampered station entry at the bureau is found, with the step and index
    with engine.begin() as conn:
        conn.execute(text("UPDATE station_entries SET data = data || '\\x00'::bytea "
                          "WHERE station_id = 'pcs-b' AND idx = 2"))
    code, out = bureau.cli("stations", "audit")
    assert code == 1 and "[station-entry]" in out and "at index 2" in out, out
    code, out = bureau.cli("audit")
    assert code == 1 and "[station-entry]" in out, out
    engine.dispose()


def test_kill_9_in_the_middle_of_syncs_loses_and_duplicates_nothing(
        tmp_path: Path, bureau: Bureau, pg_url: str) -> None:
    data, env = _station(tmp_path, "pcs-k")
    assert runner.invoke(cli, ["stations", "join", "--bureau", bureau.url,
                               "--station-id", "pcs-k"], env=env).exit_code == 0
    code, out = bureau.cli("stations", "approve", "pcs-k")
    token = re.search(r"--token (lh_\S+)", out)
    assert code == 0 and token is not None
    assert runner.invoke(cli, ["stations", "join", "--bureau", bureau.url, "--station-id",
                               "pcs-k", "--token", token.group(1)], env=env).exit_code == 0
    _dock(data, 120, "k")
    env = {**env, "LIUHEN_SYNC_BATCH_ENTRIES": "3"}  # many small pushes: many places to die
    command = [sys.executable, "-c", "from api.cli import main; main()", "sync", "--once"]
    engine = create_engine(pg_url)

    def held() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM station_entries")).scalar_one())

    kills = 0
    for attempt in range(4):
        before = held()
        sync = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while sync.poll() is None and held() == before and time.monotonic() < deadline:
            time.sleep(0.02)  # kill once this sync has made progress: in the middle of it
        if sync.poll() is None:
            sync.send_signal(signal.SIGKILL)
            kills += 1
        sync.wait()
        if attempt == 1:  # and once the bureau itself, while a sync is pushing
            sync = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            before = held()
            while sync.poll() is None and held() == before and time.monotonic() < deadline:
                time.sleep(0.02)
            assert bureau.server is not None
            bureau.server.send_signal(signal.SIGKILL)
            bureau.server.wait()
            bureau.server = None
            sync.wait()  # it fails (the bureau is gone) or had finished
            bureau.start()
    assert kills >= 1 and held() > 0
    code, out = _sync(env)
    assert code == 0, out
    assert held() == _size(data) == read_acknowledged(data)
    with engine.connect() as conn:
        sizes = conn.execute(text("SELECT size, bureau_index FROM station_checkpoints")).all()
        recorded = conn.execute(text(
            "SELECT count(*) FROM ledger_entries WHERE kind = 'station_checkpoint'")).scalar()
    assert all(index is not None for _size_, index in sizes) and recorded == len(sizes)
    code, out = bureau.cli("stations", "audit")
    assert code == 0 and "核验通过" in out, out
    engine.dispose()
