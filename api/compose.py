"""The composition root: the one place that names concrete adapters (DESIGN.md §2)."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import stat
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from access.accounts import Accounts
from access.alerts import AlertRules, Alerts, parse_hours
from access.approvals import ApprovalPolicy, Approvals
from access.certlogin import CertificateLogin
from access.login import Login, LoginPolicy
from access.ports import TokenRepo
from access.scope import Scopes
from access.statistics import StatisticsReport
from access.supervision import AccessLog
from api.settings import Settings
from api.stationlink import (
    BureauLink,
    add_object_receipt,
    read_object_receipts,
    write_acknowledged,
)
from cases.casework import Cases
from cases.export import Exporter
from evidence.bodies import StoredBody
from evidence.errors import NotFoundError, PolicyViolationError, UnavailableError
from evidence.identity import InvalidInputError
from evidence.ids import DeviceSerial, Origin, Sha256Hex, StationId
from evidence.records import Assignment, Checkpoint, Clip, StoredObject, Upload
from evidence.timerange import YearRange
from evidence.timewindows import Schedule, parse_windows
from ingest.context import IngestContext, StationPolicy
from ingest.media import FfmpegTools, find_ffmpeg
from ingest.network import LoggedProgress, NetworkIngest
from ingest.ports import BlobStore, DeviceEvents, DockSource, Progress, Recorder
from integrity.sm2cert import BureauCA
from integrity.trust import TrustRoot
from jobs.context import Anchoring, FixityPolicy, JobContext
from jobs.ports import JobProgress, NoProgress
from jobs.retention import CaseRetention, RetentionContext, RetentionPolicy
from ledger.anchoring import AnchorResult, anchor_checkpoint
from ledger.appending import LedgerWriter
from ledger.copyrelease import release_copies
from ledger.files import write_atomic
from ledger.forwarding import SyncResult, Throttle, forward, forward_objects
from ledger.keyring import Keyring
from ledger.ports import Clock, ObjectSink, Signer, TileReader, TileStore
from ledger.proofs import Proofs
from ledger.publishing import publish_checkpoint
from ledger.readmodel import Freshness
from ledger.stations import BureauStations
from ledger.tiles import TileProofs, publish_tiles
from storage.accounts import SqlAccountRepo
from storage.blobio import mkdir_private, write_replace
from storage.casework_lock import CaseworkLock
from storage.catalogue import SqlCatalogue
from storage.group_commit import GroupCommitter
from storage.ingest_repo import SqlIngestRepo
from storage.jobstore import SqlJobLeases, shared_job_store
from storage.keyfiles import load_or_create_signer
from storage.ledger_store import SqlLedgerStore
from storage.localstore import LocalWormStore
from storage.sessions import SqlSessionRepo
from storage.station_board import SqlStationBoard
from storage.stations import SqlStationRegistry
from storage.tilestore import LocalTileStore
from storage.tokens import SqlTokenRepo
from storage.tus import SqlUploadRepo

if TYPE_CHECKING:
    import httpx

    from storage.bureau_client import BureauClient
    from storage.kekfile import KekFileKeyService
    from storage.object_keys import SqlObjectKeys
    from storage.sealedstore import RangedStore
    from storage.tsa import HttpTimestampAuthority


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Ledger:
    """The ledger services of one station, built from settings."""

    settings: Settings
    store: SqlLedgerStore
    committer: GroupCommitter
    stations: list[Signer]
    """The station's keys, Ed25519 first, then SM2 when the keyring has one."""
    logs: list[Signer]
    """The log keys, likewise."""
    trust: TrustRoot
    writer: LedgerWriter
    tsas: list[HttpTimestampAuthority]
    catalogue: SqlCatalogue
    """The read model folded from the ledger: clips, cases, links, accesses."""
    casework_lock: CaseworkLock
    """Case changes one at a time per database, across processes (storage/casework_lock.py)."""
    tiles: TileStore | None = None
    """Where the log is published as C2SP tlog-tiles (``publish_tiles``), or None."""

    @property
    def origin(self) -> Origin:
        return self.trust.origin

    @property
    def latest_note_path(self) -> Path:
        """The latest checkpoint, also kept outside the database so that a rollback of the
        database below it is detected by ``liuhen audit``."""
        return self.settings.data_dir / "checkpoints" / "latest.note"

    def publish(self, *, actor: str = "checkpointer"
                ) -> tuple[Checkpoint | None, AnchorResult | None]:
        """Sign a checkpoint over the current head if it grew, then anchor the latest checkpoint
        with every configured TSA that has not stamped it yet (so a TSA that was down is retried
        on the next run). Returns (new checkpoint or None, anchoring result or None)."""
        checkpoint = publish_checkpoint(self.store, origin=self.origin, signers=self.logs,
                                        now=utc_now())
        if checkpoint is not None:
            write_atomic(self.latest_note_path, checkpoint.note)
        latest = checkpoint or self.store.latest_checkpoint()
        result = None
        if self.tsas and latest is not None:
            result = anchor_checkpoint(latest, store=self.store, tsas=self.tsas,
                                       tsa_roots=self.trust.tsa_roots, writer=self.writer,
                                       clock=utc_now, actor=actor)
        # After anchoring, so that tiles that cannot be written hold up nothing else; the next
        # publish continues from the tiles' own checkpoint.
        if self.tiles is not None and latest is not None:
            publish_tiles(self.tiles, self.store, latest)
        return checkpoint, result

    def close(self) -> None:
        self.committer.close()
        self.store.close()


def keyring(settings: Settings) -> Keyring:
    """The data dir's keyring, with private keys in PEM files (storage/keyfiles.py). A
    服务器密码机 adapter replaces ``load_or_create_signer`` here (docs/guomi-keys.md)."""
    return Keyring(settings.data_dir,
                   lambda path, name, role, algorithm: load_or_create_signer(
                       path, name=name, role=role, algorithm=algorithm))


def load_trust(settings: Settings) -> TrustRoot:
    """The station's trust root, created with fresh station and log keys on first use."""
    return keyring(settings).load_or_create(
        origin=settings.origin, station_id=settings.station_id,
        tsa_roots=[p.read_bytes() for p in settings.tsa_roots])


def _timestamp_authorities(settings: Settings) -> list[HttpTimestampAuthority]:
    if not settings.tsa_urls and not settings.tsa_sm2_urls:
        return []
    from storage.tsa import HttpTimestampAuthority  # noqa: PLC0415 - httpx only when TSAs are set

    return ([HttpTimestampAuthority(url, name=url) for url in settings.tsa_urls]
            + [HttpTimestampAuthority(url, name=url, imprint="sm3")
               for url in settings.tsa_sm2_urls])


def open_ledger(settings: Settings) -> Ledger:
    mkdir_private(settings.data_dir)  # keys, database, staging: owner-only (0700)
    keys = keyring(settings)
    trust = load_trust(settings)
    stations = keys.active_signers(trust, "station")
    logs = keys.active_signers(trust, "log")
    store = SqlLedgerStore.open(settings.db_url(), origin=trust.origin, clock=utc_now)
    committer = GroupCommitter(store, signers=stations)
    writer = LedgerWriter(appender=committer, checkpoints=store,
                          station=StationId(settings.station_id), clock=utc_now)
    tsas = _timestamp_authorities(settings)
    return Ledger(settings=settings, store=store, committer=committer, stations=stations, logs=logs,
                  trust=trust, writer=writer, tsas=tsas, catalogue=SqlCatalogue(store.engine),
                  casework_lock=CaseworkLock(store.engine),
                  tiles=tile_store(settings) if settings.publish_tiles else None)


def tile_store(settings: Settings) -> TileStore:
    """Where the publisher writes the tiles: ``tiles_url`` (S3 Object Lock), else the
    directory ``<data_dir>/log``."""
    if settings.tiles_url is None:
        return LocalTileStore(settings.data_dir / "log")
    if not settings.tiles_url.startswith("s3://"):
        raise PolicyViolationError(f"unsupported tiles URL {settings.tiles_url!r}: use "
                                   "s3://BUCKET/PREFIX, or leave it unset for <data_dir>/log")
    from storage.s3tiles import S3TileStore  # noqa: PLC0415 - boto3 only when used

    return S3TileStore.connect(settings.tiles_url, endpoint_url=settings.s3_endpoint_url,
                               region=settings.s3_region, retention_days=settings.retention_days,
                               clock=utc_now)


def tile_reader(where: str) -> TileReader:
    """The tiles of ``liuhen audit --tiles`` and ``verify-bundle --tiles``: an ``http(s)://``
    URL prefix, else a directory."""
    if where.startswith(("http://", "https://")):
        from storage.httptiles import HttpTileReader  # noqa: PLC0415 - httpx only when used

        return HttpTileReader(where)
    return LocalTileStore(Path(where))


def make_blob_store(settings: Settings, *, clock: Clock = utc_now) -> BlobStore:
    """The object store named by settings: S3 Object Lock, or the local write-once directory.

    ``clock`` rules the local store's retention floor; an S3 server's own clock rules its locks,
    so the S3 store keeps reading the real one."""
    url = settings.objects_url()
    if url.startswith("file://"):
        from storage.localstore import LocalWormStore  # noqa: PLC0415 - chosen by settings

        return LocalWormStore(Path(url.removeprefix("file://")),
                              min_retention_days=settings.retention_days, clock=clock)
    if url.startswith("s3://"):
        from storage.s3store import S3ObjectLockStore  # noqa: PLC0415 - boto3 only when used

        return S3ObjectLockStore.connect(url, endpoint_url=settings.s3_endpoint_url,
                                         region=settings.s3_region,
                                         min_retention_days=settings.retention_days,
                                         sse=settings.s3_sse, kms_key_id=settings.s3_kms_key_id,
                                         clock=utc_now)
    raise PolicyViolationError(f"unsupported store URL {url!r}: use s3://BUCKET/PREFIX or "
                               "file:///path")


ENCRYPTIONS = ("sm4", "none")


def encryption_mode(settings: Settings) -> str:
    """``sm4`` or ``none`` for this data dir: recorded in ``<data_dir>/encryption`` on first use
    (``sm4`` unless ``LIUHEN_ENCRYPTION`` says otherwise); a setting that contradicts the
    record is refused, so encryption never switches off (or on) silently."""
    wanted = settings.encryption
    if wanted is not None and wanted not in ENCRYPTIONS:
        raise PolicyViolationError(f"加密方式 {wanted!r} 无效：只能是 sm4 或 none "
                                   f"(LIUHEN_ENCRYPTION: use sm4 or none)")
    record = settings.data_dir / "encryption"
    if record.is_file():
        recorded = record.read_text().strip()
        if wanted is not None and wanted != recorded:
            raise PolicyViolationError(
                f"数据目录 {settings.data_dir} 记录的加密方式是 {recorded}，设置却是 {wanted}；"
                f"不会静默切换 (the data dir records encryption {recorded}, "
                f"LIUHEN_ENCRYPTION says {wanted}: refused)")
        return recorded
    mode = wanted or "sm4"
    mkdir_private(settings.data_dir)
    write_replace(record, mode.encode() + b"\n")
    record.chmod(0o600)
    return mode


def kek_service(settings: Settings) -> KekFileKeyService:
    """The KEK key service: key files under ``<data_dir>/keys/kek`` (storage/kekfile.py); a
    服务器密码机 or KMS adapter with the same methods is chosen here instead."""
    from storage.kekfile import KekFileKeyService  # noqa: PLC0415 - only when encrypting

    return KekFileKeyService(settings.data_dir / "keys" / "kek")


def object_keys(ledger: Ledger) -> SqlObjectKeys:
    """The wrapped data keys in the ledger's database (storage/object_keys.py)."""
    from storage.object_keys import SqlObjectKeys  # noqa: PLC0415 - only when encrypting

    return SqlObjectKeys(ledger.store.engine, clock=utc_now)


def open_ledger_and_store(settings: Settings, *,
                          clock: Clock = utc_now) -> tuple[Ledger, BlobStore]:
    """The ledger and the object store named by settings — behind the SM4-GCM envelope when the
    data dir encrypts at rest; the ledger is closed again when the store cannot be opened (a
    bucket without Object Lock, a store outage)."""
    ledger = open_ledger(settings)
    try:
        store = make_blob_store(settings, clock=clock)
        if encryption_mode(settings) == "none":
            return ledger, store
        from storage.sealedstore import SealedStore  # noqa: PLC0415 - only when encrypting

        return ledger, SealedStore(cast("RangedStore", store), keys=kek_service(settings),
                                   records=object_keys(ledger))
    except BaseException:
        ledger.close()
        raise


@dataclass
class Station:
    """A station's services: the ledger plus ingest state, object store and policy."""

    ledger: Ledger
    repo: SqlIngestRepo
    blobs: BlobStore
    media: FfmpegTools | None
    """ffmpeg/ffprobe for the media stage; None when this machine has none (stage skipped)."""

    def context(self, progress: Progress) -> IngestContext:
        s = self.ledger.settings
        return IngestContext(
            station=StationId(s.station_id), writer=self.ledger.writer, ledger=self.ledger.store,
            repo=self.repo, blobs=self.blobs, staging=s.data_dir / "staging", clock=utc_now,
            progress=progress,
            policy=StationPolicy(retention_days=s.retention_days, release=s.release_policy,
                                 officer_no_pattern=s.officer_no_pattern))

    def close(self) -> None:
        self.ledger.close()


def open_station(settings: Settings) -> Station:
    if settings.release_policy not in ("mark", "delete"):
        raise PolicyViolationError(f"release policy {settings.release_policy!r}: use mark or "
                                   "delete")
    ledger, blobs = open_ledger_and_store(settings)
    media: FfmpegTools | None = None
    try:
        media = find_ffmpeg()  # ffprobe optional: probing falls back to ffmpeg (docs/media.md)
    except UnavailableError as exc:
        logging.getLogger("liuhen.station").warning("media stage off: %s", exc)
        media = None
    return Station(ledger=ledger, repo=SqlIngestRepo(ledger.store.engine, clock=utc_now),
                   blobs=blobs, media=media)


@dataclass
class JobsRuntime:
    """The scheduled jobs' services (docs/jobs.md): one ``JobContext`` over the ledger, the
    object store and the bureau's retention policy, plus the shared schedule's tables."""

    ledger: Ledger
    context: JobContext

    def leases(self) -> SqlJobLeases:
        return SqlJobLeases(self.ledger.store.engine)

    def job_store(self) -> object:
        """APScheduler's SQLAlchemyJobStore on the ledger's database (shared by hosts)."""
        return shared_job_store(self.ledger.store.engine)

    def close(self) -> None:
        self.ledger.close()


def retention_policy(settings: Settings) -> RetentionPolicy:
    """The bureau's retention policy: ``DATA/retention.toml`` (if any) over the defaults, with
    the standard class never shorter than ``retention_days``."""
    path = settings.data_dir / "retention.toml"
    try:
        doc = tomllib.loads(path.read_text()) if path.exists() else {}
    except tomllib.TOMLDecodeError as exc:
        raise PolicyViolationError(f"{path}: {exc}") from exc
    return RetentionPolicy.for_bureau(standard_days=settings.retention_days, doc=doc)


def open_jobs(settings: Settings, *, clock: Clock = utc_now, progress: JobProgress | None = None,
              fixity: FixityPolicy | None = None) -> JobsRuntime:
    """Jobs on the station's ledger and store. ``clock`` drives every decision *and* stamps the
    jobs' entries (tests pass a clock that moves across retention boundaries)."""
    policy = retention_policy(settings)
    ledger, blobs = open_ledger_and_store(settings, clock=clock)
    writer = LedgerWriter(appender=ledger.committer, checkpoints=ledger.store,
                          station=StationId(settings.station_id), clock=clock)

    def publish() -> Checkpoint | None:
        cp = publish_checkpoint(ledger.store, origin=ledger.origin, signers=ledger.logs,
                                now=clock())
        if cp is not None:
            write_atomic(ledger.latest_note_path, cp.note)
        return cp

    context = JobContext(
        writer=writer, blobs=blobs, catalogue=ledger.catalogue, ledger=ledger.store, clock=clock,
        policy=policy, signers=ledger.stations, origin=ledger.origin, data_dir=settings.data_dir,
        fixity=fixity or FixityPolicy(), progress=progress or NoProgress(),
        anchoring=Anchoring(store=ledger.store, publish=publish, tsas=ledger.tsas,
                            tsa_roots=ledger.trust.tsa_roots))
    return JobsRuntime(ledger=ledger, context=context)


@dataclass
class Services:
    """What the API and the pages serve, over one ledger and object store: case work, access
    supervision (调阅监督) and proofs, sharing one read model kept fresh."""

    ledger: Ledger
    blobs: BlobStore
    cases: Cases
    access: AccessLog
    proofs: Proofs
    tokens: TokenRepo
    clock: Clock
    accounts: Accounts
    login: Login
    certificates: CertificateLogin
    """Sign-in with an officer's SM2 certificate (access/certlogin.py)."""
    scopes: Scopes
    stations: BureauStations
    approvals: Approvals
    alerts: Alerts
    statistics: StatisticsReport
    retention: RetentionContext
    """Retention classes and legal holds (jobs/retention.py: ``set_hold``)."""
    board: SqlStationBoard
    """The 采集站 dashboard's reads (what ``liuhen station`` reports: api/station_board.py)."""
    uploads: NetworkIngest
    """Network uploads from 4G recorders and phones (tus: api/http/rest_uploads.py)."""

    def close(self) -> None:
        self.ledger.close()


def services(ledger: Ledger, blobs: BlobStore, *, refresh_s: float = 0.5,
             clock: Clock = utc_now) -> Services:
    """The services over an opened ledger and store, with the bureau's settings: retention
    policy, 警号 pattern, accepted years. ``refresh_s``: reads see entries written by other
    processes within this long."""
    settings = ledger.settings
    fresh = Freshness(ledger.catalogue.catch_up, refresh_s=refresh_s)
    keeping = RetentionContext(writer=ledger.writer, blobs=blobs, catalogue=ledger.catalogue,
                               clock=clock, policy=retention_policy(settings))
    retention = CaseRetention(keeping)
    cases = Cases(writer=ledger.writer, catalogue=ledger.catalogue, fresh=fresh,
                  lock=ledger.casework_lock, retention=retention,
                  officer_pattern=settings.officer_no_pattern,
                  years=YearRange(settings.earliest_year, settings.latest_year),
                  units=SqlAccountRepo(ledger.store.engine))
    access = AccessLog(writer=ledger.writer, catalogue=ledger.catalogue, fresh=fresh,
                       blobs=blobs, clock=clock, officer_pattern=settings.officer_no_pattern)
    proofs = Proofs(store=ledger.store, trust=lambda: ledger.trust, clip_of=ledger.catalogue.clip,
                    publish=lambda: ledger.publish(actor="api"),
                    sha256_of_sm3=ledger.catalogue.sha256_of_sm3,
                    tile_proofs=TileProofs(ledger.tiles, cache_bytes=settings.tile_cache_mb << 20)
                    if settings.proofs_from_tiles and ledger.tiles is not None else None)
    people = accounts(ledger, clock=clock)
    scopes = Scopes(accounts=people.repo, catalogue=ledger.catalogue, fresh=fresh)
    approvals = Approvals(writer=ledger.writer, entries=ledger.store, scopes=scopes,
                          accounts=people.repo, catalogue=ledger.catalogue,
                          lock=ledger.casework_lock, clock=clock,
                          policy=approval_policy(settings))
    login = Login(accounts=people.repo, sessions=people.sessions, tokens=token_repo(ledger),
                  scopes=scopes, clock=clock, policy=login_policy(settings), grants=approvals)
    alerts = supervision_alerts(ledger, clock=clock, fresh=fresh)
    statistics = StatisticsReport(
        catalogue=ledger.catalogue, people=people.repo, upload_within=alerts.rules.upload_within,
        complete=lambda case_id: cases.completeness(case_id).complete, fresh=fresh)
    return Services(ledger=ledger, blobs=blobs, cases=cases, access=access, proofs=proofs,
                    tokens=token_repo(ledger), clock=clock, accounts=people, login=login,
                    certificates=CertificateLogin(login=login,
                                                  ca=lambda: bureau_ca(settings)),
                    scopes=scopes, stations=bureau_stations(ledger, clock=clock),
                    approvals=approvals, alerts=alerts, statistics=statistics,
                    retention=keeping, board=station_board(ledger),
                    uploads=network_ingest(ledger, blobs, clock=clock))


def network_ingest(ledger: Ledger, blobs: BlobStore, *, clock: Clock = utc_now) -> NetworkIngest:
    """Uploads ingested by this server as a station would dock them (ingest/network.py): the
    server's station id, its staging folder, the part files under ``DATA/uploads``."""
    from devices.uploaded import UploadedFile  # noqa: PLC0415

    s = ledger.settings
    ctx = IngestContext(
        station=StationId(s.station_id), writer=ledger.writer, ledger=ledger.store,
        repo=SqlIngestRepo(ledger.store.engine, clock=clock), blobs=blobs,
        staging=s.data_dir / "staging", clock=clock, progress=LoggedProgress(),
        policy=StationPolicy(retention_days=s.retention_days, release="mark",
                             officer_no_pattern=s.officer_no_pattern))

    def driver_for(upload: Upload, part: Path) -> UploadedFile:
        return UploadedFile(part, serial=upload.serial, name=upload.name,
                            device_time=upload.device_time, received_at=upload.created_at,
                            clock=clock)

    return NetworkIngest(ctx=ctx, uploads=SqlUploadRepo(ledger.store.engine),
                         folder=s.data_dir / "uploads", driver_for=driver_for)


def station_registry(ledger: Ledger) -> SqlStationRegistry:
    """The bureau's stations and their logs, in the ledger's database (storage/stations.py)."""
    return SqlStationRegistry(ledger.store.engine)


def bureau_client(url: str, *, token: str | None = None,
                  transport: httpx.BaseTransport | None = None) -> BureauClient:
    """The bureau's station API over HTTP (storage/bureau_client.py)."""
    from storage.bureau_client import BureauClient  # noqa: PLC0415 - httpx only when syncing

    return BureauClient(url, token=token, transport=transport)


def certificate_sign_in(url: str, *, cert_pem: str, key_pem: bytes,
                        transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """Sign in at the bureau ``url`` with an SM2 certificate and its PKCS#8 PEM key
    (``liuhen login``; docs/access.md §9): the session as ``POST /api/login`` answers it."""
    from integrity import sm2  # noqa: PLC0415 - gmalglib only when signing in
    from storage.keyfiles import sm2_private_from_pem  # noqa: PLC0415

    try:
        key = sm2.SigningKey(sm2_private_from_pem(key_pem))
    except ValueError as exc:
        raise InvalidInputError(f"私钥不是 SM2 PKCS#8 PEM 文件：{exc} (the key is not an SM2 "
                                "PKCS#8 PEM key, as openssl genpkey -algorithm SM2 writes)") \
            from exc
    client = bureau_client(url, transport=transport)
    try:
        return client.certificate_login(cert_pem, key.sign)
    finally:
        client.close()


def sync_once(settings: Settings, link: BureauLink, *,
              sleep: Callable[[float], None] = time.sleep,
              clock: Clock = utc_now) -> SyncResult:
    """One store-and-forward pass of a station to the bureau it joined (ledger/forwarding.py):
    a checkpoint over everything ingested so far, then the pushes; each receipt is written to
    ``<data_dir>/sync/acknowledged``; then the objects, each receipt appended to
    ``<data_dir>/sync/objects``; then the local copies whose receipts are
    ``sync_keep_days`` old are released (ledger/copyrelease.py)."""
    ledger = open_ledger(settings)
    try:
        ledger.publish(actor="sync")
        client = bureau_client(link.bureau_url, token=link.token)
        try:
            throttle = Throttle(settings.sync_bandwidth_bps, sleep=sleep)
            result = forward(ledger.store, client, station_id=link.station_id,
                             throttle=throttle, max_batch=settings.sync_batch_entries,
                             on_receipt=lambda size: write_acknowledged(settings.data_dir, size))
            store = make_blob_store(settings)

            def open_stored(sha256: str, body: StoredBody) -> BinaryIO:
                # The bytes as stored (sealed when encrypted at rest), from the store under the
                # sealing layer: the bureau checks them against sealed_sha256/sealed_size.
                sealed = body.sealed_sha256 is not None
                return store.open(StoredObject(
                    store=body.store, key=body.key, version_id=body.version_id,
                    size=body.sealed_size if sealed and body.sealed_size is not None
                    else body.size,
                    sha256=Sha256Hex(body.sealed_sha256 if sealed and body.sealed_sha256
                                     else sha256),
                    lock_mode=body.lock_mode, retain_until=body.retain_until))

            objects = forward_objects(
                ledger.store, client, station_id=link.station_id,
                acknowledged=result.acknowledged,
                received=set(read_object_receipts(settings.data_dir)), open_stored=open_stored,
                throttle=throttle,
                on_receipt=lambda receipt: add_object_receipt(settings.data_dir, receipt,
                                                              at=clock()))
            released = 0
            if isinstance(store, LocalWormStore):  # an S3 store on a station keeps its copies
                released = release_copies(
                    ledger.store, ledger.writer, store,
                    receipts=read_object_receipts(settings.data_dir),
                    keep=timedelta(days=settings.sync_keep_days), clock=clock).released
            return dataclasses.replace(result, objects=objects, released=released)
        finally:
            client.close()
    finally:
        ledger.close()


def sync_schedule(settings: Settings) -> Schedule | None:
    """The station's upload windows (LIUHEN_SYNC_WINDOWS in LIUHEN_SYNC_TZ), None when unset:
    uploads at any time. Invalid settings are refused in Chinese before anything runs."""
    if settings.sync_windows is None:
        return None
    windows = parse_windows(settings.sync_windows, what="上传时段 LIUHEN_SYNC_WINDOWS")
    try:
        tz = ZoneInfo(settings.sync_tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInputError(f"LIUHEN_SYNC_TZ {settings.sync_tz!r} 不是时区 (not a time "
                                "zone)") from exc
    return Schedule(windows=windows, tz=tz, spec=settings.sync_windows)


def bureau_stations(ledger: Ledger, *, clock: Clock = utc_now) -> BureauStations:
    """Registration, approval and pushes of stations on this bureau (ledger/stations.py)."""
    return BureauStations(station_registry(ledger), writer=ledger.writer,
                          bureau_origin=ledger.origin, clock=clock, find=ledger.store.find,
                          sink=cast("ObjectSink", make_blob_store(ledger.settings, clock=clock)),
                          retention=timedelta(days=ledger.settings.retention_days))


def approval_policy(settings: Settings) -> ApprovalPolicy:
    """The bureau's 调阅审批 policy: ``DATA/approvals.toml`` (if any) over the defaults
    (docs/access.md §7)."""
    path = settings.data_dir / "approvals.toml"
    try:
        doc = tomllib.loads(path.read_text("utf-8")) if path.exists() else {}
    except tomllib.TOMLDecodeError as exc:
        raise PolicyViolationError(f"{path}: {exc}") from exc
    return ApprovalPolicy.from_doc(doc)


def supervision_alerts(ledger: Ledger, *, clock: Clock = utc_now,
                       fresh: Freshness | None = None) -> Alerts:
    """Supervision alerts over the ledger's read model (access/alerts.py), with the thresholds
    of settings; acknowledgements are appended by the ledger's writer."""
    repo = SqlAccountRepo(ledger.store.engine)

    def unit_of(officer_no: str) -> str | None:
        try:
            return repo.account(officer_no).unit
        except NotFoundError:
            return None

    return Alerts(catalogue=ledger.catalogue, entries=ledger.store, writer=ledger.writer,
                  clock=clock, unit_of=unit_of, rules=alert_rules(ledger.settings),
                  fresh=fresh or Freshness(ledger.catalogue.catch_up))


def alert_rules(settings: Settings) -> AlertRules:
    """The supervision thresholds from settings (LIUHEN_ALERT_*)."""
    off_start, off_end = parse_hours(settings.alert_off_hours)
    try:
        ZoneInfo(settings.alert_tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInputError(f"LIUHEN_ALERT_TZ {settings.alert_tz!r} 不是时区 (not a time "
                                "zone)") from exc
    return AlertRules(bulk_count=settings.alert_bulk_count,
                      bulk_window=timedelta(minutes=settings.alert_bulk_window_min),
                      off_start=off_start, off_end=off_end, tz=settings.alert_tz,
                      dock_within=timedelta(hours=settings.alert_dock_within_h),
                      upload_within=timedelta(hours=settings.alert_upload_within_h))


def station_board(ledger: Ledger) -> SqlStationBoard:
    """The 采集站 dashboard's tables in the bureau's database (the ledger's)."""
    return SqlStationBoard(ledger.store.engine)


CA_FILE = "login-ca.pem"
CRL_FILE = "login-crl.pem"


def bureau_ca(settings: Settings) -> BureauCA | None:
    """The CA that issues officers' SM2 certificates, ``DATA/login-ca.pem``, with the CRL
    ``DATA/login-crl.pem`` (PEM or DER) if present; read at each certificate sign-in, so a
    replaced CRL counts at once. None, refusing every certificate, when the CA file is absent
    or unreadable (logged) (docs/access.md §9)."""
    ca_path, crl_path = settings.data_dir / CA_FILE, settings.data_dir / CRL_FILE
    try:
        if not ca_path.exists():
            return None
        crl = crl_path.read_bytes() if crl_path.exists() else None
        return BureauCA.load(ca_path.read_bytes(), crl=crl)
    except (OSError, ValueError) as exc:
        logging.getLogger("liuhen.access").error(
            "certificate sign-in refused: %s or %s unusable: %s", ca_path, crl_path, exc)
        return None


def login_policy(settings: Settings) -> LoginPolicy:
    return LoginPolicy(max_failures=settings.login_max_failures,
                       failure_window=timedelta(minutes=settings.login_failure_window_min),
                       lockout=timedelta(minutes=settings.login_lockout_min),
                       idle=timedelta(minutes=settings.session_idle_min),
                       absolute=timedelta(hours=settings.session_absolute_h))


def accounts(ledger: Ledger, *, clock: Clock = utc_now) -> Accounts:
    """Units and accounts in the ledger's database, changes ledgered (access/accounts.py)."""
    engine = ledger.store.engine
    return Accounts(repo=SqlAccountRepo(engine), sessions=SqlSessionRepo(engine),
                    writer=ledger.writer, clock=clock,
                    officer_pattern=ledger.settings.officer_no_pattern)


def recorder_assignments(ledger: Ledger) -> list[Assignment]:
    """The device registry: which officer each recorder is assigned to (storage/ingest_repo)."""
    return SqlIngestRepo(ledger.store.engine, clock=utc_now).assignments()


def register_device(ledger: Ledger, serial: str, officer_no: str, *, actor: str) -> Assignment:
    """Assign a network recorder to an officer (``device_registered`` when it changes), with
    the officer's name and unit from their account when there is one."""
    from evidence.bodies import DeviceRegisteredBody  # noqa: PLC0415

    repo = SqlIngestRepo(ledger.store.engine, clock=utc_now)
    try:
        account = accounts(ledger).repo.account(officer_no)
        unit = accounts(ledger).repo.unit(account.unit)
        name, unit_no, unit_name = account.name, unit.code, unit.name
    except NotFoundError:
        name = unit_no = unit_name = ""
    assignment = Assignment(serial=serial, id_code="", officer_no=officer_no, officer_name=name,
                            unit_no=unit_no, unit_name=unit_name)
    known = repo.assignment(serial)
    if known != assignment:
        repo.assign(assignment)
        ledger.writer.append(DeviceRegisteredBody(
            id_code="", officer=officer_no, officer_name=name, unit_no=unit_no,
            unit_name=unit_name, previous_officer=known.officer_no if known else None),
            subject=serial, actor=actor)
    return assignment


def token_repo(ledger: Ledger) -> TokenRepo:
    """The API tokens kept in the ledger's database (storage/tokens.py)."""
    return SqlTokenRepo(ledger.store.engine)


def open_services(settings: Settings, *, refresh_s: float = 0.5) -> Services:
    ledger, blobs = open_ledger_and_store(settings)
    return services(ledger, blobs, refresh_s=refresh_s)


# --- recorders: the device classes behind ingest's ports -------------------------------------

def dock_sources(settings: Settings) -> DockSource:
    """Real docks: USB (GA/T 947.4 recorders need their vendor's transport, which no Linux
    package provides; mass-storage recorders are ingested with ``liuhen ingest``) and, with
    ``LIUHEN_ANDROID_PROTOCOL``, Android recorders through adb and E12 or ZZX, and with
    ``LIUHEN_BRIDGE_SIDECARS`` those behind the Windows DLL bridge; their files read from the
    disk they present after SetMSDC."""
    from devices.adb import AdbDockSource  # noqa: PLC0415 - pyusb only when docking
    from devices.bridge import BridgeDockSource  # noqa: PLC0415
    from devices.diskwait import disk_opener  # noqa: PLC0415
    from devices.docking import DockSources, Source, UsbDockSource  # noqa: PLC0415

    usb = UsbDockSource(transport_for=lambda _serial: None, vendor_ids=frozenset())
    sources: list[Source] = [usb]
    if settings.android_protocol:
        sources.append(AdbDockSource(storage=disk_opener(), protocol=settings.android_protocol,
                                     remote_port=settings.android_port))
    if settings.bridge_sidecars:
        if settings.bridge_token_file is None:
            raise PolicyViolationError("LIUHEN_BRIDGE_SIDECARS 需要 LIUHEN_BRIDGE_TOKEN_FILE "
                                       "(the sidecars' shared token)")
        token = settings.bridge_token_file.read_text(encoding="utf-8").strip()
        sidecars = []
        for item in settings.bridge_sidecars.split(","):
            host, _, port = item.strip().rpartition(":")
            if not host or not port.isdigit():
                raise PolicyViolationError(f"LIUHEN_BRIDGE_SIDECARS: {item!r} 不是 HOST:PORT")
            sidecars.append((host, int(port)))
        sources.append(BridgeDockSource(sidecars, token=token, storage=disk_opener()))
    return usb if len(sources) == 1 else DockSources(sources)


def hotplug_events() -> DeviceEvents:
    """udev hot-plug events; UnavailableError where no udev runs (the station then polls)."""
    from devices.hotplug import PyudevHotplugSource  # noqa: PLC0415 - pyudev only when used

    return PyudevHotplugSource()


def simulated_recorders(workdir: Path, count: int, *, ffmpeg: str,
                        card_start: datetime, e12: int = 0, zzx: int = 0) -> DockSource:
    """``count`` simulated USB recorders (directory, FAT32 and exFAT cards where the tools
    exist) and ``e12``/``zzx`` Android ones speaking their protocol on loopback, their clips
    made by ``ffmpeg``: the binary the media stage uses, so they play."""
    from devices.docking import DockSources  # noqa: PLC0415 - the simulator only for demos
    from devices.sim.cards import media_library  # noqa: PLC0415
    from devices.sim.netdock import SimulatedNetworkDock  # noqa: PLC0415
    from devices.sim.recorder import (  # noqa: PLC0415
        make_fleet,
        make_recorder,
        simulated_dock_source,
    )

    kinds = ["directory"]
    if shutil.which("mkfs.vfat") and shutil.which("mcopy"):
        kinds.append("fat32")
    if shutil.which("mkfs.exfat"):
        kinds.append("exfat")
    media = media_library(workdir / "media", ffmpeg=ffmpeg)
    bus, recorders = make_fleet(count, workdir=workdir, media=media, base_clock=utc_now,
                                storage_kinds=tuple(kinds), card_start=card_start)
    usb = simulated_dock_source(recorders, bus)
    if not e12 + zzx:
        return usb
    android = [make_recorder(i, workdir=workdir, media=media, base_clock=utc_now,
                             card_start=card_start) for i in range(count, count + e12 + zzx)]
    return DockSources([usb, SimulatedNetworkDock(e12=android[:e12], zzx=android[e12:])])


def recorder_at(path: Path, *, serial: DeviceSerial) -> Recorder[Any]:
    """A folder, a card image or a (read-only) card block device; anything else (a FIFO, a
    socket, a character device) is refused before it is opened: a FIFO would block for ever."""
    from devices.dirvolume import special_kind  # noqa: PLC0415 - only for liuhen ingest
    from devices.massstorage import MassStorageDriver  # noqa: PLC0415

    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise NotFoundError(f"{path} 不存在") from exc
    if stat.S_ISDIR(mode):
        return MassStorageDriver.from_directory(path, serial=serial)
    if stat.S_ISREG(mode) or stat.S_ISBLK(mode):
        return MassStorageDriver.from_image(path, serial=serial)
    raise PolicyViolationError(f"{path} 是{special_kind(mode)}，不是文件夹、卡镜像或磁盘：拒绝读取")


def exporter(station: Station) -> Exporter:
    """The 移送 package writer over a station's ledger, catalogue and object store."""
    ledger = station.ledger

    def clip_of(sha256: str) -> Clip:
        ledger.catalogue.catch_up()
        return ledger.catalogue.clip(sha256)

    return Exporter(store=ledger.store, writer=ledger.writer, trust=lambda: ledger.trust,
                    clip_of=clip_of, open_object=station.blobs.open,
                    publish=lambda: ledger.publish(actor="export"))
