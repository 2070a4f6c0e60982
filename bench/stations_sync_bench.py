"""Station logs accepted by a bureau (ledger/stations.py): entries per second pushed by 8
stations at once into a bureau on PostgreSQL (signature and both roots verified, entries and
checkpoint stored, a ``station_checkpoint`` entry group-committed to the bureau's log), beside a
bare executemany of the same rows (station, index, data, both leaf hashes) through the same
driver, the storage floor this builds on.

Then the objects (``run_objects``): a sync of 8 stored clips (sealed at rest, as docked) from a
station to ``liuhen serve`` whose store is Object Lock on this run's own Ceph RGW, beside
``aws s3 cp`` of the same stored bytes to the same RGW (boto3's ``upload_file`` where no AWS
CLI is installed) and beside a bare HTTP upload of them on loopback (httpx → uvicorn, spooled
to disk), median of 3 runs each. The aws copies go to a bucket without a lock that is emptied
after each run: the RGW's OSD is 10 GiB and the bureau's locked copies stay for a day."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn

from api.cli._common import settings_for
from api.compose import open_ledger_and_store, sync_once, utc_now
from api.settings import Settings
from api.stationlink import BureauLink, read_link
from bench.common import RUNS, make_entries, report
from evidence.bodies import StoredBody
from evidence.ids import Origin, Sha256Hex, StationId
from evidence.records import TreeHead
from integrity import merkle
from integrity.notes import sign_checkpoint
from ledger.appending import LedgerWriter
from ledger.stations import BureauStations, station_origin
from storage.group_commit import GroupCommitter
from storage.ledger_store import SqlLedgerStore
from storage.stations import SqlStationRegistry
from tests.support.keys import signer
from tests.support.s3 import S3Env, ensure_rgw, free_port, new_bucket

BUREAU = Origin("liuhen.bench-bureau/ledger/v1")
STATIONS = 8
PER_STATION = 4_000
BATCH = 500
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _database() -> str:
    name = f"liuhen_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return name


def _drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def _pushes(sid: str, datas: list[bytes]) -> list[tuple[int, list[bytes], bytes]]:
    """The station's pushes: (start, entries, its checkpoint note at start + len)."""
    log = signer(f"{sid}-log", "log")
    origin = Origin(station_origin(BUREAU, sid))
    leaves = [merkle.leaf_hash(d) for d in datas]
    sm3 = [merkle.leaf_hash(d, tree_hash=merkle.SM3) for d in datas]
    out = []
    for start in range(0, len(datas), BATCH):
        end = start + BATCH
        cp = sign_checkpoint(origin, TreeHead(end, merkle.root(leaves[:end])), [log],
                             sm3=TreeHead(end, merkle.root(sm3[:end], tree_hash=merkle.SM3)))
        out.append((start, datas[start:end], cp.note))
    return out


def _bureau_rate(name: str, datas: list[bytes]) -> float:
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    store = SqlLedgerStore.open(url, origin=BUREAU, clock=utc_now)
    committer = GroupCommitter(store, signers=[signer("bureau", "station")])
    writer = LedgerWriter(appender=committer, checkpoints=store, station=StationId("bureau"),
                          clock=utc_now)
    bureau = BureauStations(SqlStationRegistry(store.engine), writer=writer,
                            bureau_origin=BUREAU, clock=lambda: datetime.now(UTC),
                            find=store.find)
    ids = [f"pcs-{i}" for i in range(STATIONS)]
    for sid in ids:
        bureau.register(sid, origin=station_origin(BUREAU, sid),
                        keys=[signer(f"{sid}-log", "log").public,
                              signer(f"{sid}-station", "station").public])
        bureau.approve(sid, actor="bench")
    pushes = {sid: _pushes(sid, datas) for sid in ids}

    def station(sid: str) -> None:
        for start, entries, note in pushes[sid]:
            bureau.push(sid, start=start, entries=entries, note=note)

    threads = [threading.Thread(target=station, args=(sid,)) for sid in ids]
    begin = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - begin
    committer.close()
    store.close()
    return STATIONS * len(datas) / elapsed


def _bare_rate(name: str, datas: list[bytes]) -> float:
    rows = [(f"pcs-{s}", i, d, merkle.leaf_hash(d), merkle.leaf_hash(d, tree_hash=merkle.SM3))
            for s in range(STATIONS) for i, d in enumerate(datas)]
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as conn:
        conn.execute("create table e (station_id text, idx bigint, data bytea, leaf bytea, "
                     "sm3 bytea, primary key (station_id, idx))")
        conn.commit()
        begin = time.perf_counter()
        for i in range(0, len(rows), BATCH):
            with conn.cursor() as cur:
                cur.executemany("insert into e values (%s, %s, %s, %s, %s)", rows[i:i + BATCH])
            conn.commit()
        return len(rows) / (time.perf_counter() - begin)


def run() -> None:
    datas = make_entries(PER_STATION)
    rates, bares = [], []
    for _ in range(3):
        name = _database()
        try:
            rates.append(_bureau_rate(name, datas))
            bares.append(_bare_rate(name, datas))
        finally:
            _drop(name)
    rates.sort()
    bares.sort()
    report(f"bureau accepts station entries, {STATIONS} stations at once (PostgreSQL)",
           rates[1], "entries/s", peer="bare executemany of the same rows",
           peer_value=bares[1])
    run_objects()


# --- objects: sync throughput station → bureau beside aws s3 cp and a bare HTTP upload ------

FILES = 8


def _file_bytes() -> int:
    """8 × 256 MiB by default, 8 × 1 GiB with LIUHEN_BENCH_SYNC_GIB=1 (issue 13's figure);
    LIUHEN_BENCH_SYNC_MIB=N for a quick run."""
    if os.environ.get("LIUHEN_BENCH_SYNC_GIB") == "1":
        return 1 << 30
    return int(os.environ.get("LIUHEN_BENCH_SYNC_MIB", "256")) << 20


def _liuhen(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", "from api.cli import main; main()", *args],
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"liuhen {' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout


class _Bureau:
    """``liuhen serve`` on PostgreSQL with its store on the RGW (Object Lock, 1 day)."""

    def __init__(self, root: Path, s3: S3Env, bucket: str, database: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("LIUHEN_")},
                    **s3.env(), "LIUHEN_DATA_DIR": str(root / "bureau"),
                    "LIUHEN_DATABASE_URL":
                        f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}",
                    "LIUHEN_ORIGIN": str(BUREAU), "LIUHEN_STORE_URL": f"s3://{bucket}/bureau",
                    "LIUHEN_S3_ENDPOINT_URL": s3.endpoint_url, "LIUHEN_S3_REGION": s3.region,
                    "LIUHEN_RETENTION_DAYS": "1"}
        _liuhen(self.env, "init")
        self.server = subprocess.Popen(
            [sys.executable, "-c", "from api.cli import main; main()", "serve", "--host",
             "127.0.0.1", "--port", str(self.port)], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not _answers(f"{self.url}/api/health"):
            if time.monotonic() > deadline or self.server.poll() is not None:
                raise RuntimeError("liuhen serve did not come up")
            time.sleep(0.2)

    def station(self, root: Path, sid: str) -> tuple[Settings, BureauLink]:
        """A joined and approved station data dir."""
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("LIUHEN_")},
               "LIUHEN_DATA_DIR": str(root / sid)}
        join = ["stations", "join", "--bureau", self.url, "--station-id", sid]
        _liuhen(env, *join)
        token = _liuhen(self.env, "stations", "approve", sid).split("--token ")[1].split()[0]
        _liuhen(env, *join, "--token", token)
        link = read_link(root / sid)
        assert link is not None
        return settings_for(root / sid), link

    def close(self) -> None:
        self.server.send_signal(signal.SIGINT)
        self.server.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _docked(settings: Settings, size: int) -> list[Path]:
    """FILES random clips stored as docking stores them (sealed at rest) with their ``stored``
    entries; the stored (sealed) files, the bytes a sync uploads."""
    ledger, blobs = open_ledger_and_store(settings)
    paths = []
    try:
        for _ in range(FILES):
            staged = settings.data_dir / "staged.orig"
            digest = hashlib.sha256()
            with staged.open("wb") as fh:
                for _chunk in range(size // (64 << 20) or 1):
                    chunk = os.urandom(min(size, 64 << 20))
                    digest.update(chunk)
                    fh.write(chunk)
            sha = digest.hexdigest()
            obj = blobs.put(f"originals/{sha[:2]}/{sha}", staged, sha256=Sha256Hex(sha),
                            size=size, retain_until=datetime.now(UTC) + timedelta(days=200))
            staged.unlink()
            seal = obj.sealing
            assert seal is not None
            ledger.writer.append(StoredBody(
                device="BENCH", name_on_device="clip.mp4", store=obj.store, key=obj.key,
                version_id=obj.version_id, size=obj.size, lock_mode=obj.lock_mode,
                retain_until=obj.retain_until, cipher=seal.algorithm, kek_id=seal.kek_id,
                wrapped_key=seal.wrapped_key, sealed_sha256=seal.sealed_sha256,
                sealed_size=seal.sealed_size), subject=sha, actor="bench")
            paths.append(settings.data_dir / "objects" / "objects" / obj.key)
    finally:
        ledger.close()
    return paths


async def _sink(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The bare HTTP upload's server: spool the body to a temp file, answer 200."""
    if scope["type"] != "http":
        return
    with tempfile.NamedTemporaryFile(dir=scope["app_dir"]) as fh:
        more = True
        while more:
            message = await receive()
            fh.write(message.get("body", b""))
            more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


def _bare_http(paths: list[Path], spool: Path) -> float:
    """The same files PUT one after another with httpx, streamed in 1 MiB chunks as the
    station's client does, to a bare ASGI app on uvicorn that spools them: the HTTP floor."""
    port = free_port()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await _sink({**scope, "app_dir": str(spool)}, receive, send)

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            begin = time.perf_counter()
            for path in paths:
                with path.open("rb") as fh:
                    client.put("/upload", content=iter(lambda: fh.read(1 << 20), b""),
                               headers={"Content-Type": "application/octet-stream"}
                               ).raise_for_status()
            return time.perf_counter() - begin
    finally:
        server.should_exit = True
        thread.join()


def _aws_cp(s3: S3Env, paths: list[Path], bucket: str, run_id: str) -> float:
    """``aws s3 cp`` of each file (its defaults: 8 MiB parts, 10 threads), one after another."""
    aws = shutil.which("aws")
    begin = time.perf_counter()
    for i, path in enumerate(paths):
        if aws:
            subprocess.run([aws, "s3", "cp", str(path), f"s3://{bucket}/{run_id}/{i}",
                            "--endpoint-url", s3.endpoint_url, "--only-show-errors"],
                           check=True, env={**os.environ, **s3.env()})
        else:  # the same transfer manager, in-process
            s3.client().upload_file(str(path), bucket, f"{run_id}/{i}")
    return time.perf_counter() - begin


def run_objects() -> None:
    size = _file_bytes()
    print(f"-- sync {FILES} × {size >> 20} MiB station → bureau (liuhen serve, PostgreSQL, "
          "own Ceph RGW with Object Lock) on loopback", flush=True)
    s3 = ensure_rgw()
    admin = s3.client()
    locked = new_bucket(admin, "sync", lock=True, default=("COMPLIANCE", 1))
    plain = new_bucket(admin, "awscp", lock=False)  # emptied after each run: the OSD is small
    database = _database()
    ours, theirs, bare = [], [], []
    with tempfile.TemporaryDirectory(prefix="liuhen-sync-bench-") as tmp:
        root = Path(tmp)
        bureau = _Bureau(root, s3, locked, database)
        try:
            for i in range(RUNS):
                settings, link = bureau.station(root, f"pcs-{i}")
                paths = _docked(settings, size)
                begin = time.perf_counter()
                result = sync_once(settings, link)
                ours.append(time.perf_counter() - begin)
                assert result.objects == FILES, result
                theirs.append(_aws_cp(s3, paths, plain, f"run{i}"))
                for item in admin.list_objects_v2(Bucket=plain).get("Contents", []):
                    admin.delete_object(Bucket=plain, Key=item["Key"])
                bare.append(_bare_http(paths, root))
                print(f"   run {i + 1}: liuhen sync {ours[-1]:.2f} s, aws s3 cp "
                      f"{theirs[-1]:.2f} s, bare HTTP {bare[-1]:.2f} s", flush=True)
                shutil.rmtree(settings.data_dir / "objects", ignore_errors=True)
        finally:
            bureau.close()
            _drop(database)
    mb = FILES * size / 1e6
    name = f"liuhen sync {FILES} × {size >> 20} MiB station → bureau (S3 Object Lock)"
    report(name, mb / statistics.median(ours), "MB/s",
           peer="aws s3 cp" if shutil.which("aws") else "boto3 upload_file",
           peer_value=mb / statistics.median(theirs))
    report(name, mb / statistics.median(ours), "MB/s", peer="bare HTTP upload (httpx→uvicorn)",
           peer_value=mb / statistics.median(bare))
