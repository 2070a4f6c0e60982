"""`liuhen jobs start` on several hosts sharing one PostgreSQL database: one schedule
(APScheduler's SQLAlchemyJobStore), and every turn of a job runs on exactly one host (the job
lease), counted by the ledger entries the runs leave."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.compose import open_jobs
from api.settings import Settings
from evidence.ledgertime import parse_time
from evidence.records import EntryKind
from jobs.fixity import RUN_SUBJECT
from storage.engine import create_ledger_engine
from storage.jobstore import SqlJobLeases
from tests.integration.test_jobs_retention import entries

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.postgres]
LIUHEN = str(Path(sys.executable).with_name("liuhen"))


def test_only_one_of_many_claimers_wins_a_turn(pg_url: str) -> None:
    engines = [create_ledger_engine(pg_url) for _ in range(4)]
    try:
        leases = [SqlJobLeases(engine) for engine in engines]
        now = datetime.now(UTC)
        gap = timedelta(seconds=30)
        won: list[str] = []
        barrier = threading.Barrier(len(leases))

        def claim(i: int) -> None:
            barrier.wait()
            if leases[i].claim("fixity", host=f"h{i}", now=now, min_gap=gap):
                won.append(f"h{i}")

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(leases))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1
        assert not leases[0].claim("fixity", host="h0", now=now + gap / 2, min_gap=gap)
        assert leases[1].claim("fixity", host="h1", now=now + gap, min_gap=gap)
        assert leases[2].claim("anchor", host="h2", now=now, min_gap=gap)  # per job
        assert leases[3].runs("fixity") == 2
    finally:
        for engine in engines:
            engine.dispose()


def test_two_hosts_share_one_schedule_without_double_runs(pg_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    open_jobs(Settings(data_dir=data, database_url=pg_url)).close()  # keys and schema, once
    env = {**os.environ, "LIUHEN_DATABASE_URL": pg_url, "LIUHEN_DATA_DIR": str(data)}
    every = ["--every", "fixity=1"] + [a for job in ("retention", "disposal", "anchor", "report")
                                       for a in ("--every", f"{job}=0")]
    hosts = [subprocess.Popen([LIUHEN, "jobs", "start", *every, "--stop-after", "9",
                               "--host", name], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
             for name in ("host-a", "host-b")]
    outputs = [host.communicate(timeout=90)[0] for host in hosts]
    for host, output in zip(hosts, outputs, strict=True):
        assert host.returncode == 0, output
        assert "jobs: scheduled fixity every 1 s" in output
    runtime = open_jobs(Settings(data_dir=data, database_url=pg_url))
    try:
        runs = sorted(parse_time(str(body["window_end"]))
                      for subject, body in entries(runtime.context, EntryKind.FIXITY_CHECKED)
                      if subject == RUN_SUBJECT)
        claimed = runtime.leases().runs("fixity")
    finally:
        runtime.close()
    # About one run a second over the ~9 s the hosts overlap, never two in the same turn.
    assert 4 <= len(runs) <= 12, runs
    assert len(runs) == claimed
    gaps = [later - earlier for earlier, later in itertools.pairwise(runs)]
    assert min(gaps) >= timedelta(seconds=0.5), gaps
