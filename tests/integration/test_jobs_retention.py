"""Retention, legal holds and disposal with a clock the test moves (docs/jobs.md): across the
retain-until boundary, with holds and case links put on and taken off, on SQLite and PostgreSQL
with the local write-once store. Also the helpers the other ``test_jobs_*`` modules share."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.compose import JobsRuntime, open_jobs
from api.settings import Settings
from evidence.bodies import (
    AcquiredBody,
    CaseOpenedBody,
    CaseStepBody,
    DerivedBody,
    LinkedBody,
    StoredBody,
    UnlinkedBody,
)
from evidence.errors import PolicyViolationError
from evidence.ids import Sha256Hex
from evidence.ledgertime import format_time
from evidence.records import EntryKind
from integrity.entry import decode_entry
from jobs.context import JobContext
from jobs.disposal import dispose, verify_certificate
from jobs.retention import CASE, set_class, set_hold
from jobs.runner import run_job

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
DAY = timedelta(days=1)


PINNED = datetime(2026, 3, 9, 7, 41, 23, tzinfo=UTC)
"""Where a test's clock starts unless a real clock rules: no outcome may depend on the day."""


class FakeClock:
    """A clock the test moves, injected into the jobs and the local store.

    It starts at ``PINNED``; ``FakeClock.real()`` starts at the real now, for the tests where a
    real clock rules too: an S3 server's (Object Lock dates) or a CLI process's own."""

    def __init__(self, start: datetime = PINNED) -> None:
        self.now = start

    @classmethod
    def real(cls) -> FakeClock:
        return cls(datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def make_clip(ctx: JobContext, workdir: Path, data: bytes, *, officer: str = "000123",
              unit: str = "U1", captured_at: datetime | None = None,
              duration_ms: int | None = None) -> str:
    """An original as the station leaves it: stored (locked for the standard class) and
    ledgered (``acquired``, ``stored``, and ``derived`` with a duration when given)."""
    sha = Sha256Hex(hashlib.sha256(data).hexdigest())
    source = workdir / f"{sha}.bin"
    workdir.mkdir(parents=True, exist_ok=True)
    source.write_bytes(data)
    until = ctx.clock() + timedelta(days=ctx.policy.standard_days)
    obj = ctx.blobs.put(f"originals/{sha[:2]}/{sha}", source, sha256=sha,
                        size=len(data), retain_until=until)
    at = captured_at or ctx.clock()
    ctx.writer.append(AcquiredBody(
        device="LH00001", officer=officer, unit_no=unit, name_on_device="a.mp4",
        size=len(data), clock_offset_ms=None, device_mtime=at), subject=sha, actor=officer)
    ctx.writer.append(StoredBody(
        device="LH00001", name_on_device="a.mp4", store=obj.store, key=obj.key,
        version_id=obj.version_id, size=obj.size, lock_mode=obj.lock_mode,
        retain_until=obj.retain_until), subject=sha, actor="station-test")
    if duration_ms is not None:
        ctx.writer.append(DerivedBody(
            parent=sha, probe={"duration_ms": duration_ms}, plan={}, ffmpeg_version="",
            derivatives=(), streamhash={}, thumbnails=None), subject=sha, actor="station-test")
    ctx.catalogue.catch_up()
    return sha


def link(ctx: JobContext, sha: str, case: str, step: str, *, code: str = "chafeng",
         unlink: bool = False, officer: str = "000123", unit: str = "U1",
         started_at: datetime | None = None) -> None:
    w = ctx.writer
    if not unlink:
        w.append(CaseOpenedBody(title=f"case {case}", unit_no=unit, major=False),
                 subject=case, actor=officer)
        w.append(CaseStepBody(step=step, code=code, officer=officer, started_at=started_at,
                              ended_at=None), subject=case, actor=officer)
    body = UnlinkedBody(case=case, step=step) if unlink else LinkedBody(case=case, step=step)
    w.append(body, subject=sha, actor=officer)
    ctx.catalogue.catch_up()


def entries(ctx: JobContext, kind: EntryKind) -> list[tuple[str, dict[str, object]]]:
    store = ctx.ledger
    rows = store.entries()  # type: ignore[attr-defined]  # SqlLedgerStore in these tests
    return [(e.subject, e.body) for e in (decode_entry(r.data) for r in rows) if e.kind is kind]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def jobs(tmp_path: Path, ledger_url: str, clock: FakeClock) -> Iterator[JobsRuntime]:
    runtime = open_jobs(Settings(data_dir=tmp_path / "data", database_url=ledger_url),
                        clock=clock)
    yield runtime
    runtime.close()


def test_retention_holds_links_and_disposal_across_time(jobs: JobsRuntime, clock: FakeClock,
                                                        tmp_path: Path) -> None:
    ctx = jobs.context
    work = tmp_path / "src"
    plain, linked, held, art13 = (make_clip(ctx, work, f"clip {i}".encode()) for i in range(4))
    link(ctx, linked, "C-1", "s1")
    set_hold(ctx.retention, held, True, actor="000200", reason="court order 2026-17")
    set_class(ctx.retention, art13, "obstruction", actor="000200", reason="阻碍执法")

    # t0: the retention job moves the linked clip into `case`, nothing else is due.
    outcome = run_job(ctx, "retention")
    assert outcome.ok and "1 clip(s) moved" in outcome.summary[0]
    assert ctx.catalogue.clip(linked).retention_class == CASE
    until = ctx.catalogue.clip(linked).retain_until
    assert until is not None and until > clock() + timedelta(days=365 * 29)
    assert run_job(ctx, "retention").summary[0].startswith("retention: 0 clip(s) moved")

    # An early disposal is refused, with the reason; the ledger is unchanged.
    before = len(entries(ctx, EntryKind.DISPOSED))
    with pytest.raises(PolicyViolationError, match="has not passed"):
        dispose(ctx, plain, actor="000200", reason="tidy up")
    assert run_job(ctx, "disposal").summary[0].startswith("disposal: 0 clip(s) disposed")

    # One day before retain-until: still refused. One day after: disposed.
    clock.advance(timedelta(days=ctx.policy.standard_days) - DAY)
    with pytest.raises(PolicyViolationError, match="has not passed"):
        dispose(ctx, plain, actor="000200", reason="tidy up")
    clock.advance(2 * DAY)
    outcome = run_job(ctx, "disposal")
    assert outcome.ok, outcome.findings
    assert "1 clip(s) disposed" in outcome.summary[0]
    disposed = entries(ctx, EntryKind.DISPOSED)
    assert len(disposed) == before + 1
    subject, body = disposed[-1]
    assert subject == plain and body["bytes"] == "kept-until-lock-expiry"
    assert body["policy_sha256"] == ctx.policy.digest()
    (certificate,) = outcome.files
    assert hashlib.sha256(certificate.read_bytes()).hexdigest() == body["certificate_sha256"]
    doc = verify_certificate(certificate.read_bytes(), jobs.ledger.trust.keys)
    what = doc["what"]
    assert isinstance(what, dict) and what["sha256"] == plain
    original = ctx.catalogue.clip(plain).original
    assert original is not None and what["objects"][0]["version_id"] == original.version_id
    assert doc["when"] == format_time(clock())
    assert ctx.catalogue.clip(plain).disposed_index is not None
    # the clip's own entries are still there: the ledger is never pruned
    assert [s for s, _ in entries(ctx, EntryKind.ACQUIRED)].count(plain) == 1
    with pytest.raises(PolicyViolationError, match="already disposed"):
        dispose(ctx, plain, actor="000200", reason="again")

    # The held, linked and Art. 13 clips are past their first lock too, and all kept.
    for sha, why in ((held, "legal hold"), (linked, "linked to case C-1"),
                     (art13, "'obstruction' is permanent")):
        with pytest.raises(PolicyViolationError, match=why):
            dispose(ctx, sha, actor="000200", reason="try")
    assert ctx.catalogue.clip(held).disposed_index is None

    # Lift the hold: the held clip goes at the next run; unlink the case clip: it stays (the
    # case class is permanent, and an unlink never shortens retention).
    set_hold(ctx.retention, held, False, actor="000200", reason="order lifted")
    link(ctx, linked, "C-1", "s1", unlink=True)
    outcome = run_job(ctx, "disposal")
    assert "1 clip(s) disposed" in outcome.summary[0]
    assert ctx.catalogue.clip(held).disposed_index is not None
    assert ctx.catalogue.clip(linked).disposed_index is None
    with pytest.raises(PolicyViolationError, match="'case' is permanent"):
        dispose(ctx, linked, actor="000200", reason="try")
    holds = entries(ctx, EntryKind.LEGAL_HOLD)
    assert [(s, b["on"]) for s, b in holds] == [(held, True), (held, False)]
    with pytest.raises(PolicyViolationError, match="disposed"):
        set_hold(ctx.retention, held, True, actor="000200", reason="too late")


def test_permanent_locks_are_renewed_before_the_horizon(jobs: JobsRuntime, clock: FakeClock,
                                                        tmp_path: Path) -> None:
    ctx = jobs.context
    sha = make_clip(ctx, tmp_path / "src", b"evidence")
    link(ctx, sha, "C-9", "s1")
    run_job(ctx, "retention")
    first = ctx.catalogue.clip(sha).retain_until
    assert first is not None
    # Not yet within renew_before_days of the horizon: nothing happens.
    clock.now = first - timedelta(days=ctx.policy.renew_before_days) - DAY
    assert "0 permanent lock(s) renewed" in run_job(ctx, "retention").summary[0]
    clock.advance(2 * DAY)
    assert "1 permanent lock(s) renewed" in run_job(ctx, "retention").summary[0]
    renewed = ctx.catalogue.clip(sha).retain_until
    assert renewed is not None and renewed > first
    # the store holds the longer lock too, not only the ledger
    original = ctx.catalogue.clip(sha).original
    assert original is not None
    assert ctx.blobs.verify(original).retain_until == renewed


def test_cli_refuses_an_early_disposal_with_the_reason(tmp_path: Path) -> None:
    clock = FakeClock.real()  # the CLI process reads the real clock
    data = tmp_path / "data"
    runtime = open_jobs(Settings(data_dir=data), clock=clock)
    try:
        sha = make_clip(runtime.context, tmp_path / "src", b"fresh clip")
    finally:
        runtime.close()
    runner = CliRunner()
    result = runner.invoke(app, ["jobs", "dispose", sha, "--reason", "tidy", "--data-dir",
                                 str(data)])
    assert result.exit_code == 3, result.output
    assert "refused" in result.output and "has not passed" in result.output
    result = runner.invoke(app, ["jobs", "hold", sha, "--on", "--reason", "order 7",
                                 "--data-dir", str(data)])
    assert result.exit_code == 0 and "legal hold ON" in result.output
    result = runner.invoke(app, ["jobs", "dispose", sha, "--reason", "tidy", "--data-dir",
                                 str(data)])
    assert result.exit_code == 3 and "a legal hold is on" in result.output
    result = runner.invoke(app, ["jobs", "run", "disposal", "--once", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output


def test_bureau_policy_file_is_used_and_checked(tmp_path: Path) -> None:
    clock = FakeClock.real()  # the CLI process reads the real clock
    data = tmp_path / "data"
    data.mkdir()
    (data / "retention.toml").write_text(
        'name = "测试局 2026"\nstandard_days = 200\n[classes]\ntraffic = 365\n')
    runtime = open_jobs(Settings(data_dir=data), clock=clock)
    try:
        policy = runtime.context.policy
        assert policy.name == "测试局 2026" and policy.days("standard") == 200
        assert policy.days("traffic") == 365 and policy.is_permanent("obstruction")
    finally:
        runtime.close()
    (data / "retention.toml").write_text('[classes]\ncase = 30\n')
    result = CliRunner().invoke(app, ["jobs", "run", "retention", "--once", "--data-dir",
                                      str(data)])
    assert result.exit_code == 3 and "permanent by rule" in result.output
