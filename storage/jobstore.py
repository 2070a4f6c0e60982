"""Shared schedule state for ``liuhen jobs start`` on several hosts (docs/jobs.md §Scheduling).

APScheduler 3 keeps its jobs (trigger, next run time) in ``apscheduler_jobs`` through its own
``SQLAlchemyJobStore``, on the ledger's database, so every host sees one schedule. APScheduler 3
does not lock that table: two schedulers may both find a job due and both run it. So every run
first claims the job's row in ``job_leases``: one conditional UPDATE
(``last_started <= now - min_gap``) that exactly one host can win per window; the losers skip
the run. The database serializes the UPDATE (a row lock on PostgreSQL, the single writer on
SQLite), so this holds across processes and hosts. Host clocks must agree to well within
``min_gap`` (NTP), since each host stamps its own time.

Both tables are created on first use, under the migrations' advisory lock (PostgreSQL) or
``BEGIN IMMEDIATE`` (SQLite) so that hosts starting together do not race on the DDL. They are
bookkeeping, not evidence: dropping them loses the schedule, not a single ledger entry.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Column, Engine, MetaData, Table, Text, insert, select, update

from storage.dberrors import translate_errors
from storage.engine import advisory_lock_key, exclusive_transaction

if TYPE_CHECKING:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

JOBS_TABLE = "apscheduler_jobs"
_LOCK_KEY = advisory_lock_key("liuhen/jobs/schema")
_metadata = MetaData()
_LEASES = Table(
    "job_leases", _metadata,
    Column("job", Text, primary_key=True),
    # start of the latest claimed run, microseconds since the epoch (UTC): dialect-neutral
    Column("last_started_us", BigInteger, nullable=False),
    Column("host", Text, nullable=False),
    Column("runs", BigInteger, nullable=False),
)


def _micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class SqlJobLeases:
    """One row per scheduled job: who started it last, and when (``jobs.schedule.Leases``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        with translate_errors("create the job lease table"), engine.connect() as conn, \
                exclusive_transaction(conn, pg_lock_key=_LOCK_KEY):
            _metadata.create_all(conn, checkfirst=True)

    def claim(self, job: str, *, host: str, now: datetime, min_gap: timedelta) -> bool:
        """True when this host may run ``job`` now: nobody started it in the ``min_gap``
        before ``now``. Exactly one of several concurrent claimers wins."""
        stamp = _micros(now)
        threshold = stamp - int(min_gap.total_seconds() * 1_000_000)
        row = _LEASES.c
        with translate_errors("claim a scheduled job"), self._engine.connect() as conn, \
                exclusive_transaction(conn, pg_lock_key=_LOCK_KEY):
            if conn.execute(select(row.job).where(row.job == job)).first() is None:
                conn.execute(insert(_LEASES).values(job=job, last_started_us=stamp, host=host,
                                                    runs=1))
                return True
            done = conn.execute(update(_LEASES)
                                .where(row.job == job, row.last_started_us <= threshold)
                                .values(last_started_us=stamp, host=host, runs=row.runs + 1))
            return done.rowcount == 1

    def runs(self, job: str) -> int:
        """How many runs of ``job`` were claimed, on every host together."""
        with translate_errors("read job leases"), self._engine.connect() as conn:
            found = conn.execute(select(_LEASES.c.runs).where(_LEASES.c.job == job)).scalar()
        return int(found or 0)


def shared_job_store(engine: Engine) -> SQLAlchemyJobStore:
    """APScheduler's SQLAlchemyJobStore on ``engine``, its table created under the lock.
    (APScheduler is imported here: only ``liuhen jobs start`` needs it, not every command.)"""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore  # noqa: PLC0415

    store = SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)
    with translate_errors("create the schedule table"), engine.connect() as conn, \
            exclusive_transaction(conn, pg_lock_key=_LOCK_KEY):
        store.jobs_t.create(conn, checkfirst=True)
    return store
