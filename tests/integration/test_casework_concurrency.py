"""One answer under concurrency (issue 11 §4): opening a case, recording a step, linking and
unlinking are linearizable per case, across threads and across processes sharing a database.

Twenty workers run the same scenario at once, phase by phase (a barrier between phases): as 20
threads on one ``Services``, and as 4 spawned processes of 5 threads, each process with its own
``Services.open`` (its own group committer and catalogue refreshes) on SQLite and PostgreSQL.
Then the ledger itself must read as if the calls had run one at a time: one ``case_opened`` per
case, one ``case_step`` per step (none of the creations turned into a correction), a ``linked``
only for a link that is not current and an ``unlinked`` only for one that is.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from api.compose import Services, Station, open_services, open_station, services
from api.settings import Settings
from devices.sim.cards import Media
from evidence.errors import ConflictError
from evidence.records import EntryKind
from integrity.entry import decode_entry
from tests.integration.test_station import dock, fleet

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # the local WORM store warns

WORKERS = 20
PROCESSES = 4
ROUNDS = 6  # link/unlink attempts per worker in the mixed phase
RESULT_TIMEOUT_S = 300  # a hung worker fails the test instead of hanging it

Outcome = dict[str, list[str]]
"""Per phase, what each call of a worker answered: a value, or ``conflict``."""


class Barrier(Protocol):
    def wait(self, timeout: float | None = None) -> int: ...

    def abort(self) -> None: ...


@dataclass(frozen=True)
class Scenario:
    case_id: str
    sha: str
    other_sha: str


def _try(call: Callable[[], str]) -> str:
    try:
        return call()
    except ConflictError:
        return "conflict"


def run_scenario(cw: Services, s: Scenario, barrier: Barrier, worker: int) -> Outcome:
    """One worker's calls, phase by phase; every worker starts each phase together."""
    out: Outcome = {}
    actor = f"0{worker:05d}"

    def phase(name: str, call: Callable[[], str]) -> None:
        barrier.wait(timeout=120)
        out.setdefault(name, []).append(_try(call))

    phase("open", lambda: cw.cases.open_case(s.case_id, title="并发", unit_no="", major=False,
                                       actor=actor).case_id)
    phase("step", lambda: cw.cases.record_step(s.case_id, code="chafeng", actor=actor).step_id)
    phase("named_step", lambda: cw.cases.record_step(s.case_id, code="xianchang", step_id="x1",
                                               actor=actor).step_id)
    phase("link", lambda: str(cw.cases.link(s.case_id, "x1", s.sha, actor=actor)[0].linked_index))
    phase("unlink", lambda: str(cw.cases.unlink(s.case_id, "x1", s.sha, actor=actor).linked_index))

    def link() -> str:
        return f"linked {cw.cases.link(s.case_id, 's1', s.other_sha, actor=actor)[0].linked_index}"

    def unlink() -> str:
        return f"unlinked {cw.cases.unlink(s.case_id, 's1', s.other_sha, actor=actor).linked_index}"

    for n in range(ROUNDS):  # on s1, which the step phase created whoever won it
        phase("mixed", link if (worker + n) % 2 else unlink)
    return out


def assert_one_at_a_time(station: Station, s: Scenario, outcomes: list[Outcome]) -> None:
    """The ledger, and what the callers were told, as if the calls had run one at a time."""
    entries = [decode_entry(r.data) for r in station.ledger.store.entries()]
    opened = [e for e in entries if e.kind is EntryKind.CASE_OPENED and e.subject == s.case_id]
    assert len(opened) == 1
    said = Counter(o["open"][0] for o in outcomes)
    assert said == {s.case_id: 1, "conflict": WORKERS - 1}, said
    # steps: one case_step per step id, never a second one for the same step (a correction)
    steps = Counter(str(e.body["step"]) for e in entries
                    if e.kind is EntryKind.CASE_STEP and e.subject == s.case_id)
    assert set(steps.values()) == {1}, steps
    auto = [o["step"][0] for o in outcomes]
    assert len(set(auto)) == WORKERS and "conflict" not in auto, auto
    assert set(steps) == {*auto, "x1"}
    said = Counter(o["named_step"][0] for o in outcomes)
    assert said == {"x1": 1, "conflict": WORKERS - 1}, said
    # an identical link answers with the first; an unlink only of a current link
    linked_at = {o["link"][0] for o in outcomes}
    assert len(linked_at) == 1 and "conflict" not in linked_at, linked_at
    said = Counter(o["unlink"][0] for o in outcomes)
    assert said == {linked_at.pop(): 1, "conflict": WORKERS - 1}, said
    for sha in (s.sha, s.other_sha):
        current: dict[tuple[str, str], bool] = {}
        for e in entries:
            if e.subject != sha or e.kind not in (EntryKind.LINKED, EntryKind.UNLINKED):
                continue
            key = (str(e.body["case"]), str(e.body["step"]))
            if e.kind is EntryKind.LINKED:
                assert not current.get(key), f"a second current link of {sha} to {key}"
                current[key] = True
            else:
                assert current.get(key), f"an unlink of {sha} from {key}: not linked"
                current[key] = False
    # what the catalogue says is current is what the ledger says
    station.ledger.catalogue.catch_up()
    links = station.ledger.catalogue.links(sha256=s.other_sha, current_only=True)
    assert [(lk.case_id, lk.step_id) for lk in links] == \
        [k for k, on in current.items() if on]


@pytest.fixture
def world(tmp_path: Path, ledger_url: str, media: Media) -> Iterator[tuple[Settings, Station,
                                                                        Scenario]]:
    settings = Settings(data_dir=tmp_path / "data", database_url=ledger_url)
    station = open_station(settings)
    try:
        (recorder,) = fleet(tmp_path, media, ("fat32",))
        assert dock(station, recorder).released
        station.ledger.catalogue.catch_up()
        stored = [c for c in station.ledger.catalogue.all_clips()
                  if c.original is not None and c.size > 0]
        yield settings, station, Scenario("并发-1", stored[0].sha256, stored[1].sha256)
    finally:
        station.close()


def test_twenty_threads(world: tuple[Settings, Station, Scenario]) -> None:
    _, station, scenario = world
    cw = services(station.ledger, station.blobs, refresh_s=0.5)
    barrier = threading.Barrier(WORKERS)
    outcomes: list[Outcome] = [{} for _ in range(WORKERS)]
    errors: list[str] = []

    def work(worker: int) -> None:
        try:
            outcomes[worker] = run_scenario(cw, scenario, barrier, worker)
        except BaseException:
            errors.append(traceback.format_exc())
            barrier.abort()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert_one_at_a_time(station, scenario, outcomes)


def _process(settings: Settings, scenario: Scenario, first: int, barrier: Barrier,
             results: mp.Queue[tuple[int, Outcome | None, str | None]]) -> None:
    """A spawned process: its own Services, WORKERS // PROCESSES threads."""
    cw = open_services(settings)
    try:
        def work(worker: int) -> None:
            try:
                results.put((worker, run_scenario(cw, scenario, barrier, worker), None))
            except BaseException:
                results.put((worker, None, traceback.format_exc()))
                barrier.abort()

        threads = [threading.Thread(target=work, args=(first + n,))
                   for n in range(WORKERS // PROCESSES)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        cw.close()


def test_four_processes(world: tuple[Settings, Station, Scenario]) -> None:
    settings, station, scenario = world
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    results: mp.Queue[tuple[int, Outcome | None, str | None]] = ctx.Queue()
    per = WORKERS // PROCESSES
    procs = [ctx.Process(target=_process, args=(settings, scenario, p * per, barrier, results))
             for p in range(PROCESSES)]
    for p in procs:
        p.start()
    outcomes: list[Outcome] = []
    errors: list[str] = []
    try:
        for _ in range(WORKERS):
            _, outcome, error = results.get(timeout=RESULT_TIMEOUT_S)
            if error is not None:
                errors.append(error)
            elif outcome is not None:
                outcomes.append(outcome)
    except queue.Empty:
        pytest.fail("a worker process hung")
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    assert not errors, errors[0]
    assert_one_at_a_time(station, scenario, outcomes)
