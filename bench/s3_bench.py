"""S3 Object Lock upload figures: a 1 GiB clip stored through ``S3ObjectLockStore`` (explicit
COMPLIANCE lock, Content-MD5 on every part, SHA-256 of the bytes sent, HEAD of the exact version
and the RGW multipart re-lock) beside ``aws s3 cp`` of the same file to the same bucket (AWS CLI
v1 at its defaults: 8 MiB parts, 10 threads), median of 3 each, interleaved.

Runs on the bench run's own throw-away Ceph RGW (``tests.support.s3.ensure_rgw``: a fresh
folder, free ports), deleted when the run ends: the six locked 1 GiB objects cannot be removed
for a day, and would fill a kept cluster's 10 GiB OSD in two runs.
The AWS CLI is installed on first use into its own venv (/tmp/awscli-venv), pinned below.
"""

from __future__ import annotations

import hashlib
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.compose import utc_now
from bench.common import RUNS, report
from evidence.ids import Sha256Hex
from storage.s3store import S3ObjectLockStore
from tests.support.s3 import S3Env, ensure_rgw, new_bucket

AWSCLI_VERSION = "1.46.2"
AWSCLI_VENV = Path("/tmp/awscli-venv")
SIZE = 1 << 30  # 1 GiB


def _aws() -> Path:
    """The pinned AWS CLI v1, installed into its own venv when missing or another version."""
    aws = AWSCLI_VENV / "bin" / "aws"
    if aws.exists():
        version = subprocess.run([str(aws), "--version"], capture_output=True, text=True,
                                 check=False)
        if f"aws-cli/{AWSCLI_VERSION} " in version.stdout + version.stderr:
            return aws
    print(f"installing awscli=={AWSCLI_VERSION} into {AWSCLI_VENV}", flush=True)
    subprocess.run(["python3", "-m", "venv", str(AWSCLI_VENV)], check=True)
    subprocess.run([str(AWSCLI_VENV / "bin" / "pip"), "install", "-q",
                    f"awscli=={AWSCLI_VERSION}"], check=True)
    return aws


def _random_file(path: Path, size: int) -> Sha256Hex:
    digest = hashlib.sha256()
    with path.open("wb") as fh:
        for _ in range(size // (64 << 20)):
            chunk = os.urandom(64 << 20)
            digest.update(chunk)
            fh.write(chunk)
    return Sha256Hex(digest.hexdigest())


def _aws_cp(aws: Path, env: S3Env, path: Path, bucket: str, key: str) -> float:
    start = time.perf_counter()
    subprocess.run([str(aws), "s3", "cp", str(path), f"s3://{bucket}/{key}",
                    "--endpoint-url", env.endpoint_url, "--only-show-errors"],
                   check=True, env={**os.environ, **env.env()})
    return time.perf_counter() - start


def _store_put(store: S3ObjectLockStore, path: Path, sha: Sha256Hex, key: str) -> float:
    start = time.perf_counter()
    obj = store.put(key, path, sha256=sha, size=SIZE,
                    retain_until=datetime.now(UTC) + timedelta(days=1, hours=1))
    elapsed = time.perf_counter() - start
    assert obj.lock_mode == "COMPLIANCE" and obj.size == SIZE
    return elapsed


class _Relocks(logging.Handler):
    """Counts the store's "re-applied Object Lock" warnings (RGW ignores multipart lock
    headers) instead of printing each."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "re-applied Object Lock" in record.getMessage():
            self.count += 1


def run() -> None:
    print("-- S3 Object Lock store, 1 GiB clip, own Ceph RGW 16.2 on loopback", flush=True)
    aws = _aws()
    relocks = _Relocks()
    store_log = logging.getLogger("storage.s3store")
    store_log.addHandler(relocks)
    store_log.propagate = False
    try:
        env = ensure_rgw()
        bucket = new_bucket(env.client(), "bench", lock=True, default=("COMPLIANCE", 1))
        store = S3ObjectLockStore.connect(f"s3://{bucket}/store", endpoint_url=env.endpoint_url,
                                          region=env.region, min_retention_days=1,
                                          client=env.client(), clock=utc_now)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "clip.mp4"
            sha = _random_file(path, SIZE)
            ours, theirs = [], []
            for i in range(RUNS):
                run_id = uuid.uuid4().hex[:8]
                ours.append(_store_put(store, path, sha, f"clips/{run_id}.mp4"))
                theirs.append(_aws_cp(aws, env, path, bucket, f"aws/{run_id}.mp4"))
                print(f"   run {i + 1}: store {ours[-1]:.2f} s, aws s3 cp {theirs[-1]:.2f} s",
                      flush=True)
        mb = SIZE / 1e6
        report("S3ObjectLockStore.put 1 GiB (lock, MD5, SHA-256)", mb / statistics.median(ours),
               "MB/s", peer=f"aws s3 cp (CLI v1 {AWSCLI_VERSION})",
               peer_value=mb / statistics.median(theirs))
        print(f"   store: {store.part_size >> 20} MiB parts x {store.max_concurrency} threads; "
              f"aws: 8 MiB parts x 10 threads (its defaults); re-lock taken {relocks.count}/"
              f"{RUNS}", flush=True)
    finally:
        store_log.removeHandler(relocks)
        store_log.propagate = True


if __name__ == "__main__":
    run()
    sys.exit(0)
