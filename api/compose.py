"""The composition root: the one place that names concrete adapters (DESIGN.md §2)."""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from api.settings import Settings
from evidence.errors import ConflictError, NotFoundError, PolicyViolationError, UnavailableError
from evidence.ids import Origin, StationId
from evidence.records import Checkpoint, PublicKey
from ingest.files import write_atomic
from ingest.ledger import LedgerWriter
from ingest.media import FfmpegTools, find_ffmpeg
from ingest.ports import BlobStore, Clock, Progress
from ingest.station import IngestContext, StationPolicy
from integrity.notes import Signer
from integrity.trust import TrustRoot
from jobs.anchor import AnchorResult, anchor_checkpoint
from jobs.context import Anchoring, FixityPolicy, JobContext
from jobs.ports import JobProgress, NoProgress
from jobs.retention import RetentionPolicy
from storage.blobio import mkdir_private
from storage.casework_lock import CaseworkLock
from storage.catalogue import SqlCatalogue
from storage.checkpointer import publish_checkpoint
from storage.group_commit import GroupCommitter
from storage.ingest_repo import SqlIngestRepo
from storage.jobstore import SqlJobLeases, shared_job_store
from storage.keyfiles import load_or_create_signer
from storage.ledger_store import SqlLedgerStore

if TYPE_CHECKING:
    from storage.tsa import HttpTimestampAuthority


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Ledger:
    """The ledger services of one station, built from settings."""

    settings: Settings
    store: SqlLedgerStore
    committer: GroupCommitter
    station: Signer
    log: Signer
    trust: TrustRoot
    writer: LedgerWriter
    tsas: list[HttpTimestampAuthority]
    catalogue: SqlCatalogue
    """The read model folded from the ledger: clips, cases, links, accesses."""
    casework_lock: CaseworkLock
    """Case changes one at a time per database, across processes (storage/casework_lock.py)."""

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
        checkpoint = publish_checkpoint(self.store, origin=self.origin, signer=self.log,
                                        now=utc_now())
        if checkpoint is not None:
            write_atomic(self.latest_note_path, checkpoint.note)
        latest = checkpoint or self.store.latest_checkpoint()
        if not self.tsas or latest is None:
            return checkpoint, None
        result = anchor_checkpoint(latest, store=self.store, tsas=self.tsas,
                                   tsa_roots=self.trust.tsa_roots, writer=self.writer,
                                   clock=utc_now, actor=actor)
        return checkpoint, result

    def close(self) -> None:
        self.committer.close()
        self.store.close()


def _keyring_path(settings: Settings) -> Path:
    return settings.data_dir / "keyring.json"


def _key_path(settings: Settings, key: PublicKey) -> Path:
    return settings.data_dir / "keys" / f"{key.role}-{key.key_id}.pem"


def _active(trust: TrustRoot, role: str) -> PublicKey:
    keys = [k for k in trust.keys if k.role == role and k.valid_until is None]
    if len(keys) != 1:
        raise ConflictError(f"keyring has {len(keys)} active {role} keys, want exactly one")
    return keys[0]


def _load_signer(settings: Settings, key: PublicKey) -> Signer:
    path = _key_path(settings, key)
    if not path.exists():
        raise NotFoundError(f"private key for {key.role} key {key.key_id} missing at {path}")
    signer = load_or_create_signer(path, name=key.name, role=key.role)
    if signer.public.raw != key.raw:
        raise ConflictError(f"{path} does not hold the keyring's {key.role} key {key.key_id}")
    return signer


def _new_signer(settings: Settings, *, name: str, role: str) -> Signer:
    staging = settings.data_dir / "keys" / f"new-{role}.pem"
    signer = load_or_create_signer(staging, name=name, role=role)
    os.replace(staging, _key_path(settings, signer.public))
    return signer


def load_trust(settings: Settings) -> TrustRoot:
    """The station's keyring, created with fresh station and log keys on first use."""
    path = _keyring_path(settings)
    tsa_roots = tuple(p.read_bytes() for p in settings.tsa_roots)
    if path.exists():
        trust = TrustRoot.from_json(path.read_bytes())
        if trust.origin != settings.origin:
            raise ConflictError(f"{path} is for origin {trust.origin!r}, settings say "
                                f"{settings.origin!r}")
        return TrustRoot(origin=trust.origin, keys=trust.keys, tsa_roots=tsa_roots)
    station = _new_signer(settings, name=settings.station_id, role="station")
    log = _new_signer(settings, name=settings.origin.replace(" ", "_"), role="log")
    trust = TrustRoot(origin=Origin(settings.origin), keys=(station.public, log.public),
                      tsa_roots=tsa_roots)
    save_trust(settings, trust)
    return trust


def save_trust(settings: Settings, trust: TrustRoot) -> None:
    write_atomic(_keyring_path(settings), trust.to_json())


def _timestamp_authorities(settings: Settings) -> list[HttpTimestampAuthority]:
    if not settings.tsa_urls:
        return []
    from storage.tsa import HttpTimestampAuthority  # noqa: PLC0415 - httpx only when TSAs are set

    return [HttpTimestampAuthority(url, name=url) for url in settings.tsa_urls]


def open_ledger(settings: Settings) -> Ledger:
    mkdir_private(settings.data_dir)  # keys, database, staging: owner-only (0700)
    trust = load_trust(settings)
    station = _load_signer(settings, _active(trust, "station"))
    log = _load_signer(settings, _active(trust, "log"))
    store = SqlLedgerStore.open(settings.db_url(), origin=trust.origin, clock=utc_now)
    committer = GroupCommitter(store, signer=station)
    writer = LedgerWriter(appender=committer, checkpoints=store,
                          station=StationId(settings.station_id), clock=utc_now)
    tsas = _timestamp_authorities(settings)
    return Ledger(settings=settings, store=store, committer=committer, station=station, log=log,
                  trust=trust, writer=writer, tsas=tsas, catalogue=SqlCatalogue(store.engine),
                  casework_lock=CaseworkLock(store.engine))


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


def open_ledger_and_store(settings: Settings, *,
                          clock: Clock = utc_now) -> tuple[Ledger, BlobStore]:
    """The ledger and the object store named by settings; the ledger is closed again when the
    store cannot be opened (a bucket without Object Lock, a store outage)."""
    ledger = open_ledger(settings)
    try:
        return ledger, make_blob_store(settings, clock=clock)
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
        cp = publish_checkpoint(ledger.store, origin=ledger.origin, signer=ledger.log,
                                now=clock())
        if cp is not None:
            write_atomic(ledger.latest_note_path, cp.note)
        return cp

    context = JobContext(
        writer=writer, blobs=blobs, catalogue=ledger.catalogue, ledger=ledger.store, clock=clock,
        policy=policy, signer=ledger.station, origin=ledger.origin, data_dir=settings.data_dir,
        fixity=fixity or FixityPolicy(), progress=progress or NoProgress(),
        anchoring=Anchoring(store=ledger.store, publish=publish, tsas=ledger.tsas,
                            tsa_roots=ledger.trust.tsa_roots))
    return JobsRuntime(ledger=ledger, context=context)
