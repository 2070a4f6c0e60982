"""What scope costs (docs/access.md §5): a clip search as an officer (the scope inside the
query: their unit's officers, their cases) beside the same search unscoped (an admin), and one
clip looked up through the scope check beside the bare catalogue lookup, on a SQLite catalogue
of N clips from 500 officers in 50 units. And a password sign-in (argon2id) beside an API token
lookup: the price of a password, paid once per session."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from access.scope import Scopes
from api.compose import accounts, open_ledger, services
from api.settings import Settings
from bench.common import add_bureau, median_time, report, unit_code
from evidence.bodies import AcquiredBody
from evidence.ids import StationId
from evidence.records import ClipQuery, Entry, EntryKind
from integrity.entry import encode_entry

N = 50_000
UNITS = 50
OFFICERS = 500
BATCH = 10_000
AT = datetime(2026, 11, 24, 8, tzinfo=UTC)



def _build(data: Path) -> None:
    ledger = open_ledger(Settings(data_dir=data))
    try:
        people = accounts(ledger)
        add_bureau(people, units=UNITS, officers=OFFICERS,
                   first_password="bench password 1")  # noqa: S106 - a throwaway bench account
        datas = []
        for i in range(N):
            officer = f"{100000 + i % OFFICERS}"
            body = AcquiredBody(device="ZFY00042", name_on_device=f"{i}.MP4", size=1,
                                officer=officer, unit_no=unit_code(i % UNITS), clock_offset_ms=0,
                                device_mtime=AT, capture_time=AT + timedelta(seconds=i))
            datas.append((encode_entry(Entry(kind=EntryKind.ACQUIRED, subject=f"{i:064x}",
                                             body=body.to_body(), station=StationId("bench"),
                                             actor=officer, at=AT)), "acquired",
                          f"{i:064x}"))
        for i in range(0, N, BATCH):
            ledger.store.append_batch(datas[i:i + BATCH], signers=ledger.stations)
        ledger.catalogue.catch_up()
    finally:
        ledger.close()


def run() -> None:
    with tempfile.TemporaryDirectory(prefix="liuhen-bench-access-") as tmp:
        data = Path(tmp) / "data"
        _build(data)
        ledger = open_ledger(Settings(data_dir=data))
        try:
            from api.compose import make_blob_store

            cw = services(ledger, make_blob_store(ledger.settings), refresh_s=60)
            scopes: Scopes = cw.scopes
            officer = cw.accounts.account("100000")
            scope = scopes.for_account(officer)
            query = ClipQuery(limit=100)
            unscoped = median_time(lambda: cw.cases.clips(query), runs=7)
            scoped = median_time(lambda: cw.cases.clips(scopes.query(scope, query)), runs=7)
            report(f"clip search, 100 of {N:,} clips, as an officer (scope in the query)",
                   scoped * 1e3, "ms", peer="unscoped (admin)", peer_value=unscoped * 1e3)
            sha = f"{0:064x}"
            bare = median_time(lambda: [ledger.catalogue.clip(sha) for _ in range(100)], runs=5)
            checked = median_time(lambda: [scopes.clip(scope, sha) for _ in range(100)], runs=5)
            report("one clip through the scope check, per lookup", checked * 10, "ms",
                   peer="bare catalogue lookup", peer_value=bare * 10)
            token, _ = cw.tokens.issue(name="bench", role="auditor", now=datetime.now(UTC))
            by_token = median_time(lambda: cw.login.authenticate(token), runs=7)
            signin = median_time(lambda: cw.login.password("100000", "bench password 1"),
                                 runs=5)
            report("password sign-in (argon2id t=3 m=64MiB p=4, new session)", signin * 1e3,
                   "ms", peer="API token lookup", peer_value=by_token * 1e3)
        finally:
            ledger.close()


if __name__ == "__main__":
    run()
