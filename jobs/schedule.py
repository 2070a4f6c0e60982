"""Running the jobs on a schedule (``liuhen jobs start``): APScheduler 3 with a job store on the
ledger's database, so several hosts share one schedule (docs/jobs.md §Scheduling).

APScheduler 3 does not lock its shared job store: two schedulers can both find a job due and
both run it. So each run first claims the job through ``Leases.claim`` (one conditional UPDATE
in the database, storage/jobstore.py): a run is skipped when any host started the same job less
than half its interval ago. What APScheduler stores is only the job's name and trigger; the
function it calls (``fire``) looks the job up in this process's registry, so the database never
holds one host's settings for another host to run with.

One ``JobScheduler`` per process (the registry is per process). Every host sharing a schedule
should run every job (the same ``--every``): a host whose registry lacks a job would take that
job's turn and skip it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from jobs.ports import JobOutcome
from ledger.ports import Clock

log = logging.getLogger("liuhen.jobs.schedule")

JOB_NAMES: tuple[str, ...] = ("retention", "disposal", "fixity", "anchor", "report")
DEFAULT_INTERVALS: Mapping[str, timedelta] = {
    "anchor": timedelta(minutes=10),     # checkpoints timestamped within minutes
    "retention": timedelta(hours=6),
    "disposal": timedelta(days=1),
    "fixity": timedelta(hours=6),        # each run re-hashes the sample due since the last
    "report": timedelta(days=1),         # year-to-date report refreshed daily
}
JOB_ID_PREFIX = "liuhen."
MISFIRE_GRACE_S = 3600  # a host that was down runs a missed turn within the hour, else skips it


class Leases(Protocol):
    def claim(self, job: str, *, host: str, now: datetime, min_gap: timedelta) -> bool: ...


_registry: dict[str, Callable[[], None]] = {}
_registry_lock = threading.Lock()


def fire(job: str) -> None:
    """What APScheduler calls (stored by reference, ``jobs.schedule:fire``)."""
    with _registry_lock:
        runner = _registry.get(job)
    if runner is None:
        log.warning("scheduled job %r is not run by this host (start every host with every "
                    "job); its turn is skipped here", job)
        return
    runner()


class JobScheduler:
    """Runs ``run(name)`` for each job every ``intervals[name]``, on whichever host claims the
    turn first. ``on_outcome`` sees every finished run (the CLI reports it)."""

    def __init__(self, *, jobstore: Any, leases: Leases, host: str, clock: Clock,
                 intervals: Mapping[str, timedelta], run: Callable[[str], JobOutcome],
                 on_outcome: Callable[[JobOutcome], None] | None = None,
                 workers: int = 2) -> None:
        unknown = sorted(set(intervals) - set(JOB_NAMES))
        if unknown:
            raise ValueError(f"unknown job(s) {unknown}; jobs are {', '.join(JOB_NAMES)}")
        self._jobstore = jobstore
        self._leases = leases
        self._host = host
        self._clock = clock
        self._intervals = dict(intervals)
        self._run = run
        self._on_outcome = on_outcome
        self._workers = workers
        self._scheduler: Any = None
        self.skipped = 0
        """Turns this host left to another host (lease taken)."""

    def start(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor  # noqa: PLC0415 - lazy
        from apscheduler.jobstores.base import JobLookupError  # noqa: PLC0415
        from apscheduler.schedulers.background import BackgroundScheduler  # noqa: PLC0415

        with _registry_lock:
            if _registry:
                raise RuntimeError("a JobScheduler is already running in this process")
            for name in self._intervals:
                _registry[name] = self._runner(name)
        scheduler = BackgroundScheduler(
            jobstores={"default": self._jobstore},
            executors={"default": ThreadPoolExecutor(self._workers)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": MISFIRE_GRACE_S},
            timezone=UTC)
        for name, every in self._intervals.items():
            job_id = JOB_ID_PREFIX + name
            if every <= timedelta(0):  # turned off: off for every host sharing the schedule
                with contextlib.suppress(JobLookupError):
                    self._jobstore.remove_job(job_id)
                continue
            scheduler.add_job(fire, "interval", seconds=every.total_seconds(), args=[name],
                              id=job_id, name=name, replace_existing=True)
        scheduler.start()
        self._scheduler = scheduler
        log.info("scheduler on %s: %s", self._host, ", ".join(
            f"{n} every {e}" for n, e in self._intervals.items() if e > timedelta(0)))

    def shutdown(self, *, wait: bool = True) -> None:
        if self._scheduler is not None:
            # Pause first: a host that is going away should not take a turn it cannot run
            # (APScheduler would advance the shared next run time past it).
            self._scheduler.pause()
            self._scheduler.shutdown(wait=wait)
            self._scheduler = None
        with _registry_lock:
            _registry.clear()

    def _runner(self, name: str) -> Callable[[], None]:
        def run() -> None:
            gap = self._intervals[name] / 2
            if not self._leases.claim(name, host=self._host, now=self._clock(), min_gap=gap):
                self.skipped += 1
                log.info("%s: this turn was taken by another host", name)
                return
            try:
                outcome = self._run(name)
            except Exception:  # a failing run must not stop the schedule; it is logged
                log.exception("%s failed", name)
                return
            if self._on_outcome is not None:
                self._on_outcome(outcome)
            else:
                for line in outcome.summary:
                    log.info("%s", line)

        return run
