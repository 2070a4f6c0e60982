"""``liuhen jobs``: the scheduled jobs, once or on a shared schedule (docs/jobs.md).

Exit codes are those of api/errors.py: 1 a fixity finding (an object is not what the ledger
says), 3 a refused disposal or other policy refusal, 75 a dependency down (TSA, store: retry).
Heavy modules are imported inside the commands.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli._common import DataDir, Store, errors, settings_for
from api.console import out

if TYPE_CHECKING:
    from jobs.ports import JobOutcome

app = typer.Typer(no_args_is_help=True, help="scheduled jobs: retention, disposal, fixity, "
                  "anchoring, the annual report")

JOBS = ("retention", "disposal", "fixity", "anchor", "report")
PeriodDays = Annotated[int, typer.Option("--fixity-period-days", min=1, help="the rolling "
                                         "fixity sample covers every object once per period")]
FixityDecrypt = Annotated[int, typer.Option(
    "--fixity-decrypt", min=-1, help="each fixity run also decrypts this many of the objects it "
    "checks (-1: all) and re-hashes their plaintext against the ledger (objects encrypted at "
    "rest; `liuhen fixity --decrypt` on the schedule)")]
ClipSha256 = Annotated[str, typer.Argument(help="the clip's SHA-256")]
Actor = Annotated[str, typer.Option(help="who (警号 or name)")]
PROGRESS_INTERVAL_S = 2.0  # at most one progress line per job this often


class CliProgress:
    """Progress lines for long runs, at most one every PROGRESS_INTERVAL_S (and the last)."""

    def __init__(self) -> None:
        self._last = 0.0

    def progress(self, job: str, done: int, total: int, note: str = "") -> None:
        now = time.monotonic()
        if done and done != total and now - self._last < PROGRESS_INTERVAL_S:
            return
        self._last = now
        count = f"{done}/{total} " if total else f"{done} " if done else ""
        out(f"  {job}: {count}{note}".rstrip())


def exit_code(outcome: JobOutcome) -> int:
    from jobs.ports import FindingKind

    kinds = {f.kind for f in outcome.findings}
    for kind, code in ((FindingKind.FIXITY, 1), (FindingKind.REFUSED, 3),
                       (FindingKind.UNAVAILABLE, 75)):
        if kind in kinds:
            return code
    return 0


def print_outcome(outcome: JobOutcome) -> None:
    for line in outcome.summary:
        out(line)
    labels = {"fixity": "FIXITY FAILED", "refused": "REFUSED", "unavailable": "UNAVAILABLE"}
    for finding in outcome.findings:
        out(f"{labels.get(finding.kind, finding.kind.upper())} {finding.subject}: "
            f"{finding.detail}")
    if outcome.findings:
        out(f"{outcome.job}: {len(outcome.findings)} finding(s)")


@app.command("run")
def run_cmd(
    job: Annotated[str, typer.Argument(help=f"one of: {', '.join(JOBS)}")],
    *,
    once: Annotated[bool, typer.Option("--once", help="run it now, once")] = False,
    full: Annotated[bool, typer.Option(help="fixity: re-hash every object, not the rolling "
                                       "sample")] = False,
    year: Annotated[int | None, typer.Option(help="report: the year (default this year to "
                                             "date, China Standard Time)")] = None,
    fixity_period_days: PeriodDays = 30,
    fixity_decrypt: FixityDecrypt = 0,
    data_dir: DataDir = None,
    store: Store = None,
) -> None:
    """Run one job now. Exit non-zero with a report when it finds something (docs/jobs.md)."""
    from api.compose import open_jobs
    from jobs.context import FixityPolicy
    from jobs.runner import run_job

    if job not in JOBS:
        raise typer.BadParameter(f"unknown job {job!r}; jobs are {', '.join(JOBS)}")
    if not once:
        raise typer.BadParameter("give --once to run it now; `liuhen jobs start` runs the "
                                 "schedule")
    with errors():
        runtime = open_jobs(settings_for(data_dir, store=store), progress=CliProgress(),
                            fixity=FixityPolicy(period_days=fixity_period_days,
                                                decrypt=fixity_decrypt))
        try:
            outcome = run_job(runtime.context, job, full=full, year=year)
        finally:
            runtime.close()
    print_outcome(outcome)
    if code := exit_code(outcome):
        raise typer.Exit(code)


def _intervals(every: list[str]) -> dict[str, timedelta]:
    from jobs.schedule import DEFAULT_INTERVALS

    intervals = dict(DEFAULT_INTERVALS)
    for item in every:
        name, _, seconds = item.partition("=")
        if name not in JOBS or not seconds.replace(".", "", 1).isdigit():
            raise typer.BadParameter(f"--every {item!r}: use JOB=SECONDS with JOB one of "
                                     f"{', '.join(JOBS)} (0 turns a job off)")
        intervals[name] = timedelta(seconds=float(seconds))
    return intervals


@app.command()
def start(
    *,
    every: Annotated[list[str] | None, typer.Option(
        "--every", help="JOB=SECONDS (repeatable); defaults: anchor 600, retention and fixity "
        "21600, disposal and report 86400. Every host sharing the database should use the "
        "same values")] = None,
    stop_after: Annotated[float | None, typer.Option(
        "--stop-after", help="stop after this many seconds (drills, tests)")] = None,
    host: Annotated[str | None, typer.Option(help="this host's name in the shared schedule "
                                             "(default hostname:pid)")] = None,
    fixity_period_days: PeriodDays = 30,
    fixity_decrypt: FixityDecrypt = 0,
    data_dir: DataDir = None,
    store: Store = None,
) -> None:
    """Run every job on its schedule until stopped (SIGINT/SIGTERM). The schedule lives in the
    ledger's database: hosts on one PostgreSQL database share it, and each turn runs on one
    host only."""
    from api.compose import open_jobs, utc_now
    from jobs.context import FixityPolicy
    from jobs.runner import run_job
    from jobs.schedule import JobScheduler

    logging.getLogger("liuhen").setLevel(logging.INFO)
    intervals = _intervals(every or [])
    stop = threading.Event()
    with errors():
        runtime = open_jobs(settings_for(data_dir, store=store), progress=CliProgress(),
                            fixity=FixityPolicy(period_days=fixity_period_days,
                                                decrypt=fixity_decrypt))
        try:
            scheduler = JobScheduler(
                jobstore=runtime.job_store(), leases=runtime.leases(),
                host=host or f"{socket.gethostname()}:{os.getpid()}", clock=utc_now,
                intervals=intervals, run=lambda name: run_job(runtime.context, name),
                on_outcome=print_outcome)
            for sig in (signal.SIGINT, signal.SIGTERM):
                if threading.current_thread() is threading.main_thread():
                    signal.signal(sig, lambda *_: stop.set())
            scheduler.start()
            out("jobs: scheduled " + ", ".join(f"{n} every {int(e.total_seconds())} s"
                                               for n, e in intervals.items() if e))
            stop.wait(stop_after)
            scheduler.shutdown()
            out(f"jobs: stopped ({scheduler.skipped} turn(s) left to other hosts)")
        finally:
            runtime.close()


@app.command()
def hold(
    sha256: ClipSha256,
    *,
    on: Annotated[bool, typer.Option("--on/--off", help="put the hold on, or lift it")],
    reason: Annotated[str, typer.Option(help="the order or case the hold serves")],
    actor: Actor = "cli",
    data_dir: DataDir = None,
    store: Store = None,
) -> None:
    """Put a legal hold on a clip (store and ledger), or lift it."""
    from api.compose import open_jobs
    from jobs.retention import set_hold

    with errors():
        runtime = open_jobs(settings_for(data_dir, store=store))
        try:
            clip = set_hold(runtime.context.retention, sha256, on, actor=actor, reason=reason)
        finally:
            runtime.close()
    out(f"legal hold {'ON' if clip.legal_hold else 'OFF'} for {clip.sha256}")


@app.command()
def dispose(
    sha256: ClipSha256,
    *,
    reason: Annotated[str, typer.Option(help="why (recorded in the certificate)")],
    actor: Actor = "cli",
    data_dir: DataDir = None,
    store: Store = None,
) -> None:
    """Dispose of one clip now: refused (exit 3, every reason listed) unless its retention has
    ended, no hold or case link remains and its class is not permanent."""
    from api.compose import open_jobs
    from jobs.disposal import dispose as dispose_clip

    with errors():
        runtime = open_jobs(settings_for(data_dir, store=store))
        try:
            done = dispose_clip(runtime.context, sha256, actor=actor, reason=reason)
        finally:
            runtime.close()
    out(f"disposed {done.sha256}: ledger index {done.index}, certificate {done.certificate} "
        f"(SHA-256 {done.certificate_sha256})")


@app.command("verify-certificate")
def verify_certificate_cmd(
    certificate: Annotated[Path, typer.Argument(help="a DATA/disposals/*.note file")],
    data_dir: DataDir = None,
) -> None:
    """Check a disposal certificate's station signature against this station's keyring."""
    from api.compose import load_trust
    from jobs.disposal import verify_certificate

    with errors():
        keys = load_trust(settings_for(data_dir)).keys
        doc = verify_certificate(certificate.read_bytes(), keys)
    what, why = doc.get("what"), doc.get("why")
    sha = what.get("sha256") if isinstance(what, dict) else None
    reason = why.get("reason") if isinstance(why, dict) else None
    out(f"certificate OK: {sha} disposed at {doc.get('when')} by {doc.get('by')}: {reason}")
