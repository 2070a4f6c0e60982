"""Typed settings, read once at the edge (STYLE.md §6). Environment: ``LIUHEN_*``."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIUHEN_", extra="forbid")

    data_dir: Path = Path("./liuhen-data")
    """Everything a station keeps locally: database, keys, staging, the latest checkpoint."""
    database_url: str | None = None
    """SQLAlchemy URL; default ``sqlite:///<data_dir>/ledger.db``. PostgreSQL for a bureau:
    ``postgresql+psycopg://user@host/db``."""
    origin: str = "liuhen.local/ledger/v1"
    """The ledger's checkpoint origin; a bureau uses its own, e.g.
    ``liuhen.example-bureau/ledger/v1``."""
    station_id: str = "station-local"
    hosts: list[str] = []
    """Host names ``liuhen serve`` answers to (the ``Host`` header; docs/api.md §Hosts); default:
    the host part of ``origin`` (``liuhen.example-bureau``). Loopback names are added when it
    listens on a loopback address."""
    tsa_urls: list[str] = []
    """RFC 3161 TSAs to anchor checkpoints with; none by default (checkpoints signed only)."""
    tsa_sm2_urls: list[str] = []
    """RFC 3161 TSAs that sign SM2-with-SM3 (GM/T 0033, Chinese TSAs): asked for SM3 imprints.
    Listed beside ``tsa_urls``, every checkpoint is timestamped by each TSA of both lists."""
    tsa_roots: list[Path] = []
    """PEM files of the TSA roots that tokens must chain to (SM2 and international roots alike)."""

    store_url: str | None = None
    """Where originals go: ``s3://BUCKET/PREFIX`` (S3 Object Lock) in production; default a
    local write-once directory ``<data_dir>/objects`` (weaker, and it says so)."""
    s3_endpoint_url: str | None = None
    """For MinIO or Ceph RGW; unset for AWS. Credentials come from boto3's standard chain."""
    s3_region: str | None = None
    s3_sse: str | None = None
    """Server-side encryption on every upload: ``AES256`` (SSE-S3) or ``aws:kms`` (SSE-KMS,
    with ``s3_kms_key_id``). Off by default: Ceph RGW refuses SSE without TLS and a KMS."""
    s3_kms_key_id: str | None = None
    encryption: str | None = None
    """Encryption at rest of everything stored (docs/adr/0010-sm4-envelope.md): ``sm4`` (SM4-GCM
    envelope, KEKs under ``<data_dir>/keys/kek``) or ``none``. Unset: what the data dir
    recorded in its ``encryption`` file, and ``sm4`` for a new data dir. A setting that differs
    from the recorded one is refused (it would not flip silently)."""
    publish_tiles: bool = True
    """Also publish the log as C2SP tlog-tiles (tiles, entry bundles, the checkpoint) under
    ``<data_dir>/log`` at each checkpoint (docs/ledger-format.md §Tiles)."""
    tiles_url: str | None = None
    """Where the tiles go: ``s3://BUCKET/PREFIX`` (Object Lock, probed like ``store_url``);
    default the directory ``<data_dir>/log``."""
    proofs_from_tiles: bool = False
    """Verify-by-hash computes its inclusion proofs from those tiles through a bounded cache
    (``tile_cache_mb``) instead of the store's in-memory tree levels."""
    tile_cache_mb: int = 64
    """The tile cache of ``proofs_from_tiles``, per process."""
    retention_days: int = 180
    """Minimum retention of originals (≥ 6 months for clips not linked to a case)."""
    release_policy: str = "mark"
    """``mark`` (default: delete nothing from recorders) or ``delete`` once verified."""
    recorder_password: str | None = None
    """The 6-character GA/T 947.4 password of the bureau's recorders."""
    max_docks: int = 4
    """Recorders ingested at once by the station (one worker per port)."""
    max_docks_per_port: int = 0
    """Recorders ingested at once on one port group — a USB bus, adb, E12, ZZX
    (``api.station.port_group``); 0: only ``max_docks`` limits them."""
    android_protocol: str | None = None
    """``e12`` or ``zzx``: also dock Android recorders found by ``adb`` (Debian's adb on PATH),
    each through its server on ``android_port`` (docs/station.md §Supported recorders)."""
    android_port: int = 9527
    """The port of the recorders' E12/ZZX server, on the recorder (forwarded by adb)."""
    bridge_sidecars: str = ""
    """``HOST:PORT,…``: GA/T 947.4 bridge sidecars (scripts/gat947-bridge/) whose recorders
    the station docks; ``bridge_token_file`` holds their shared token."""
    bridge_token_file: Path | None = None
    sync_bandwidth_bps: int | None = None
    """The bandwidth cap of ``liuhen sync`` (bytes per second averaged over each push); None:
    no cap (docs/station.md §Sync)."""
    sync_windows: str | None = None
    """Upload windows of ``liuhen sync`` and the station's sync thread, local time in
    ``sync_tz``: ``22:00-06:00,12:00-13:00`` (evidence/timewindows.py); unset: any time."""
    sync_tz: str = "Asia/Shanghai"
    sync_keep_days: int = 30
    """A station keeps its 1:1 local copy of an original this many days after the bureau's
    receipt for it (size and both digests matching the ``stored`` entry), then releases it,
    ledgered (``copy_released``); never before the receipt (docs/station.md §Sync)."""
    sync_batch_entries: int = 2000
    """At most this many entries per push (to the largest station checkpoint within it)."""
    media_proxy: bool = False
    """Also make a ≤ 720p proxy of every video for slow links (a second encode per clip)."""

    officer_no_pattern: str = r"[0-9]{6,8}"
    """The bureau's 警号 pattern, matched whole over ASCII (evidence/identity.py): anything else
    is refused at every entry point (tokens, ingest, station, API, search)."""
    login_max_failures: int = 5
    """Failed sign-ins of one 警号 within ``login_failure_window_min`` that lock it."""
    login_failure_window_min: int = 15
    login_lockout_min: int = 15
    trusted_proxies: str = ""
    """Comma-separated addresses of the TLCP/TLS gateways whose forwarded client certificate
    (header ``X-Client-Cert``) signs a browser in; empty: none is trusted (docs/access.md)."""
    session_idle_min: int = 30
    """A session ends after this long without a request (docs/access.md §Sessions)."""
    session_absolute_h: int = 12
    """A session ends this long after sign-in, used or not."""
    alert_bulk_count: int = 20
    """Supervision (docs/supervision.md): this many distinct clips viewed by one person ..."""
    alert_bulk_window_min: int = 10
    """... within this many minutes is a 批量调阅 alert."""
    alert_off_hours: str = "22:00-06:00"
    """Off-hours (bureau local time, ``alert_tz``): views in [start, end) are alerted."""
    alert_tz: str = "Asia/Shanghai"
    alert_dock_within_h: int = 24
    """A recorder docked more than this long after its last recording: 超时未上传."""
    alert_upload_within_h: int = 24
    """A file ingested more than this long after capture: 超时未上传 (also the statistics'
    on-time upload rate)."""
    earliest_year: int = 2000
    latest_year: int = 2100
    """Times the API and pages accept lie within these years (UTC); others get 422."""

    @field_validator("officer_no_pattern")
    @classmethod
    def _pattern_compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern, flags=re.ASCII)
        except re.error as exc:
            raise ValueError(f"警号格式不是有效的正则表达式 (not a regular expression: {exc})"
                             ) from exc
        return pattern

    def host_names(self) -> list[str]:
        return self.hosts or [self.origin.partition("/")[0]]

    def missing_ledger(self) -> str | None:
        """What ``data_dir`` lacks to hold an existing ledger, or None: its ``keyring.json``,
        and ``ledger.db`` when the database is the default SQLite file."""
        if not (self.data_dir / "keyring.json").is_file():
            return "keyring.json"
        if self.database_url is None and not (self.data_dir / "ledger.db").is_file():
            return "ledger.db"
        return None

    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'ledger.db'}"

    def objects_url(self) -> str:
        return self.store_url or (self.data_dir.resolve() / "objects").as_uri()
