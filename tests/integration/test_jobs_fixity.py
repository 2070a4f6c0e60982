"""The fixity audit: objects replaced, edited or deleted behind the pipeline's back are caught
and named — on the local write-once store and on a real S3 Object Lock server (Ceph RGW) —,
findings become ``fixity_checked`` entries and a non-zero exit, and the rolling sample checks
every object exactly once per period however the runs fall."""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.compose import open_jobs
from api.settings import Settings
from evidence.errors import UnavailableError
from evidence.records import EntryKind, StoredObject
from ingest.ports import BlobStore
from jobs.context import FixityPolicy
from jobs.fixity import EPOCH, RUN_SUBJECT
from jobs.runner import run_job
from storage.s3common import S3Client
from tests.integration.test_jobs_retention import PINNED, FakeClock, entries, make_clip
from tests.support.s3 import ensure_rgw, new_bucket

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
DAY = timedelta(days=1)


def test_local_store_replaced_and_deleted_files_are_caught(tmp_path: Path) -> None:
    data = tmp_path / "data"
    clock = FakeClock()
    runtime = open_jobs(Settings(data_dir=data), clock=clock)
    ctx = runtime.context
    try:
        shas = [make_clip(ctx, tmp_path / "src", f"original {i}".encode()) for i in range(3)]
        outcome = run_job(ctx, "fixity", full=True)
        assert outcome.ok, outcome.findings
        assert "3/3 object(s) OK" in outcome.summary[0]
        oks = [b for s, b in entries(ctx, EntryKind.FIXITY_CHECKED) if s in shas]
        assert len(oks) == 3 and all(b["ok"] is True for b in oks)
    finally:
        runtime.close()
    # Behind the pipeline's back: one file rewritten in place, one deleted.
    replaced = data / "objects" / "objects" / "originals" / shas[0][:2] / shas[0]
    replaced.chmod(0o644)
    replaced.write_bytes(b"someone else's bytes")
    gone = data / "objects" / "objects" / "originals" / shas[1][:2] / shas[1]
    gone.unlink()
    result = CliRunner().invoke(app, ["jobs", "run", "fixity", "--once", "--full",
                                      "--data-dir", str(data)])
    assert result.exit_code == 1, result.output
    out = result.output
    assert f"FIXITY FAILED {shas[0]}: original originals/{shas[0][:2]}/{shas[0]}" in out
    assert "modified or replaced" in out and "unrecorded-" in out
    assert f"FIXITY FAILED {shas[1]}" in out and "delete marker" in out
    assert f"FIXITY FAILED {shas[2]}" not in out
    runtime = open_jobs(Settings(data_dir=data), clock=clock)
    try:
        failed = [(s, b) for s, b in entries(runtime.context, EntryKind.FIXITY_CHECKED)
                  if b["ok"] is False and s != RUN_SUBJECT]
        assert {s for s, _ in failed} == {shas[0], shas[1]}
        (run,) = [b for s, b in entries(runtime.context, EntryKind.FIXITY_CHECKED)
                  if s == RUN_SUBJECT and b["ok"] is False]
        findings = run["inventory_findings"]
        assert run["failed"] == 2 and isinstance(findings, int) and findings >= 2
    finally:
        runtime.close()


@pytest.mark.parametrize("start", [PINNED, PINNED + timedelta(hours=61)],
                         ids=["from-a-pinned-moment", "61h-later"])
def test_rolling_sample_covers_each_period_once_per_object(tmp_path: Path, ledger_url: str,
                                                           start: datetime) -> None:
    clock = FakeClock(start)
    period_days = 4
    # Each object's moment hashes its version id; a sealed object's version id is its
    # ciphertext's SHA-256, which a fresh data key changes every run: unsealed objects keep
    # the schedule, and so this test's outcome, the same on every run.
    runtime = open_jobs(Settings(data_dir=tmp_path / "data", database_url=ledger_url,
                                 encryption="none"),
                        clock=clock, fixity=FixityPolicy(period_days=period_days, rehash=False))
    ctx = runtime.context
    try:
        shas = [make_clip(ctx, tmp_path / "src", f"sampled {i}".encode()) for i in range(12)]
        period = timedelta(days=period_days)
        # From a period boundary, runs at uneven times through exactly three whole periods;
        # windows of 50 and 90 h cross boundaries, where one check covers two periods.
        first = (clock.now - EPOCH) // period + 1
        clock.now = EPOCH + period * first
        steps_h = (7, 30, 2, 50, 13, 26, 90, 41, 29)
        assert sum(steps_h) == 3 * period_days * 24
        covered: Counter[tuple[str, int]] = Counter()
        per_run: list[int] = []
        seen = 0
        for hours in steps_h:
            clock.advance(timedelta(hours=hours))
            outcome = run_job(ctx, "fixity")
            assert outcome.ok, outcome.findings
            rows = [(s, body) for s, body in entries(ctx, EntryKind.FIXITY_CHECKED) if s in shas]
            for sha, body in rows[seen:]:
                assert body["period_days"] == period_days
                periods = body["periods"]
                assert isinstance(periods, list)
                covered.update((sha, p) for p in periods)
            per_run.append(len(rows) - seen)
            seen = len(rows)
        # every object's every period covered exactly once, spread over the runs (not all in one)
        assert covered == {(sha, first + k): 1 for sha in shas for k in range(3)}
        assert max(per_run) < len(shas) and sum(1 for n in per_run if n) >= 5
    finally:
        runtime.close()


class StoreDown:
    """The real store, whose ``verify`` of the named keys fails as in an outage."""

    def __init__(self, inner: BlobStore, down: set[str]) -> None:
        self._inner = inner
        self.down = down

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def verify(self, obj: StoredObject, *, rehash: bool = False) -> StoredObject:
        if obj.key in self.down:
            raise UnavailableError(f"{obj.key}: connection refused (injected outage)")
        return self._inner.verify(obj, rehash=rehash)


def test_an_outage_leaves_no_period_unchecked(tmp_path: Path) -> None:
    clock = FakeClock(PINNED)
    period_days = 4
    runtime = open_jobs(Settings(data_dir=tmp_path / "data"), clock=clock,
                        fixity=FixityPolicy(period_days=period_days, rehash=False))
    try:
        shas = [make_clip(runtime.context, tmp_path / "src", f"outage {i}".encode())
                for i in range(8)]
        period = timedelta(days=period_days)
        first = (clock.now - EPOCH) // period + 1
        clock.now = EPOCH + period * first
        down = StoreDown(runtime.context.blobs, {f"originals/{shas[0][:2]}/{shas[0]}"})
        outage = dataclasses.replace(runtime.context, blobs=down)
        assert run_job(outage, "fixity").ok  # at the period's start: the window opens here
        clock.advance(period)  # one run at the end of a whole period, during the outage
        assert not run_job(outage, "fixity").ok
        down.down.clear()  # the store is back
        clock.advance(timedelta(hours=5))
        assert run_job(outage, "fixity").ok
        covered: Counter[tuple[str, int]] = Counter()
        for sha, body in entries(runtime.context, EntryKind.FIXITY_CHECKED):
            if sha in shas:
                covered.update((sha, p) for p in body["periods"])  # type: ignore[attr-defined]  # a JSON list
        # the unanswered object's period is covered after all; none is left uncovered
        assert {(sha, first) for sha in shas} <= set(covered)
        assert (shas[0], first) in covered
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def s3_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, S3Client]]:
    s3 = ensure_rgw()
    admin = s3.client()
    bucket = new_bucket(admin, "jobs", lock=True, default=("COMPLIANCE", 3))
    saved = dict(os.environ)
    os.environ.update({"LIUHEN_S3_ENDPOINT_URL": s3.endpoint_url, "LIUHEN_S3_REGION": s3.region,
                       "LIUHEN_RETENTION_DAYS": "2", **s3.env()})
    try:
        yield tmp_path_factory.mktemp("s3jobs") / "data", f"s3://{bucket}/bureau-07", admin
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_s3_new_version_and_delete_marker_are_caught_and_named(
        s3_data: tuple[Path, str, S3Client], tmp_path: Path) -> None:
    data, url, admin = s3_data
    bucket = url.removeprefix("s3://").split("/")[0]
    data.mkdir(parents=True, exist_ok=True)
    (data / "retention.toml").write_text("permanent_horizon_days = 10\nrenew_before_days = 5\n")
    clock = FakeClock.real()  # RGW's clock rules the Object Lock dates
    runtime = open_jobs(Settings(data_dir=data, store_url=url), clock=clock)
    ctx = runtime.context
    try:
        shas = [make_clip(ctx, tmp_path / "src", f"s3 original {i}".encode()) for i in range(3)]
        assert run_job(ctx, "fixity", full=True).ok
        # A hold and a class change reach the server itself.
        key0 = f"bureau-07/originals/{shas[0][:2]}/{shas[0]}"
        from jobs.retention import set_class, set_hold

        set_hold(ctx.retention, shas[0], True, actor="t", reason="order")
        assert admin.get_object_legal_hold(Bucket=bucket, Key=key0)[
            "LegalHold"]["Status"] == "ON"
        set_hold(ctx.retention, shas[0], False, actor="t", reason="lifted")
        set_class(ctx.retention, shas[2], "case", actor="t", reason="evidence")
        head = admin.head_object(Bucket=bucket, Key=f"bureau-07/originals/{shas[2][:2]}/"
                                 f"{shas[2]}")
        assert head["ObjectLockRetainUntilDate"] > clock() + timedelta(days=9)
    finally:
        runtime.close()
    # Someone with bucket write access: a new version over one key, a delete marker on another.
    put = admin.put_object(Bucket=bucket, Key=key0, Body=b"replaced")
    key1 = f"bureau-07/originals/{shas[1][:2]}/{shas[1]}"
    marker = admin.delete_object(Bucket=bucket, Key=key1)
    result = CliRunner().invoke(app, ["jobs", "run", "fixity", "--once", "--full",
                                      "--data-dir", str(data), "--store", url])
    assert result.exit_code == 1, result.output
    out = result.output
    assert f"FIXITY FAILED {shas[0]}" in out and put["VersionId"] in out
    assert "overlaid behind the pipeline's back" in out
    assert f"FIXITY FAILED {shas[1]}" in out and "delete marker" in out
    assert marker["VersionId"] in out
    assert f"FIXITY FAILED {shas[2]}" not in out


def test_scheduled_decrypt_sample_is_ledgered_and_catches_a_kek_that_no_longer_opens(
        tmp_path: Path) -> None:
    """``FixityPolicy.decrypt`` (``jobs run/start --fixity-decrypt N``): of the checked objects,
    N are also decrypted and their plaintext re-hashed; the per-object entries say ``decrypt``
    and the run's entry how many. A replaced KEK file leaves every ciphertext intact (the
    re-hash passes) but opens nothing: only the decrypted sample catches it."""
    data = tmp_path / "data"
    clock = FakeClock(PINNED)
    runtime = open_jobs(Settings(data_dir=data), clock=clock,
                        fixity=FixityPolicy(decrypt=2))
    ctx = runtime.context
    try:
        assert (data / "encryption").read_text() == "sm4\n"  # a new data dir encrypts
        shas = [make_clip(ctx, tmp_path / "src", f"sealed {i}".encode() * 1000)
                for i in range(3)]
        outcome = run_job(ctx, "fixity", full=True)
        assert outcome.ok, outcome.findings
        assert "2 decrypted" in outcome.summary[0]
        checks = [str(b["check"]) for s, b in entries(ctx, EntryKind.FIXITY_CHECKED) if s in shas]
        assert sorted(checks) == ["decrypt", "decrypt", "rehash"]
        (run,) = [b for s, b in entries(ctx, EntryKind.FIXITY_CHECKED) if s == RUN_SUBJECT]
        assert run["decrypted"] == 2 and run["checked"] == 3
    finally:
        runtime.close()
    (kek,) = (data / "keys" / "kek").glob("kek-*.kek")
    kek.chmod(0o600)
    kek.write_bytes(os.urandom(16))  # the KEK file replaced: the data keys no longer unwrap
    result = CliRunner().invoke(app, ["jobs", "run", "fixity", "--once", "--full",
                                      "--fixity-decrypt", "-1", "--data-dir", str(data)])
    assert result.exit_code == 1, result.output
    assert sum(f"FIXITY FAILED {sha}" in result.output for sha in shas) == 3
    runtime = open_jobs(Settings(data_dir=data), clock=clock)
    try:
        runs = [b for s, b in entries(runtime.context, EntryKind.FIXITY_CHECKED)
                if s == RUN_SUBJECT]
        assert (runs[-1]["failed"], runs[-1]["decrypted"]) == (3, 0)
        assert [run.get("decrypted") for run in runs] == [2, 0]
    finally:
        runtime.close()
    # Without --fixity-decrypt the same run finds nothing: ciphertext needs no key.
    result = CliRunner().invoke(app, ["jobs", "run", "fixity", "--once", "--full",
                                      "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
