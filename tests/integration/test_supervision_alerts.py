"""Supervision alerts from a constructed ledger (access/alerts.py; docs/supervision.md): each
rule fires at its threshold and not below it, off-hours in Beijing time (not UTC), the alerts a
leader sees are their subtree's, an acknowledgement is a ledger entry the audit reads cleanly,
and the CSV opens in Excel (UTF-8 with a byte-order mark). SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from access.alerts import Alert, alerts_csv
from evidence.errors import NotFoundError
from evidence.identity import InvalidInputError
from evidence.records import EntryKind
from integrity.entry import decode_entry
from ledger.audit import run_audit
from tests.integration.supervision_world import T0, UNIT_A, World, open_world

H = timedelta(hours=1)
M = timedelta(minutes=1)
S = timedelta(seconds=1)
DAY = timedelta(days=1)


@pytest.fixture
def world(tmp_path: Path, ledger_url: str) -> Iterator[World]:
    yield from open_world(tmp_path, ledger_url)


def build(w: World) -> dict[str, str]:
    """The scenario; returns the ids of the alerts that must fire (by a readable name)."""
    c = [w.acquire(f"c{i}", officer="100001", device="D1", captured=T0 - 2 * H, acquired=T0)
         for i in range(1, 7)]
    want: dict[str, str] = {}
    # 超时未上传 (file): exactly 24 h is on time, one second more is late.
    w.acquire("u_ok", officer="200001", device="D2", captured=T0, acquired=T0 + DAY,
              unit_no="110102000000")
    late = w.acquire("u_late", officer="200001", device="D3", captured=T0,
                     acquired=T0 + DAY + S, unit_no="110102000000")
    want["upload_late"] = f"upload_late:{late}"
    # A docking whose newest recording is an hour old is on time, though an older file is late.
    old = w.acquire("d4_old", officer="100002", device="D4", captured=T0 - 2 * DAY,
                    acquired=T0 + 2 * DAY)
    want["upload_late old"] = f"upload_late:{old}"
    own = w.acquire("d4_new", officer="100002", device="D4", captured=T0 + 2 * DAY - H,
                    acquired=T0 + 2 * DAY + M)
    # 批量调阅: 3 distinct clips within 10 minutes fire ...
    first = w.view(c[0], actor="100003", role="auditor", moment=T0 + H)
    w.view(c[1], actor="100003", role="auditor", moment=T0 + H + 4 * M)
    w.view(c[2], actor="100003", role="auditor", moment=T0 + H + 10 * M - S)
    want["bulk_view"] = f"bulk_view:{first}"
    # ... the third at exactly 10 minutes does not; nor one clip viewed three times.
    w.view(c[0], actor="100009", role="leader", moment=T0 + 3 * H)
    w.view(c[1], actor="100009", role="leader", moment=T0 + 3 * H + 5 * M)
    w.view(c[2], actor="100009", role="leader", moment=T0 + 3 * H + 10 * M)
    for k in range(3):
        w.view(c[3], actor="100009", role="leader", moment=T0 + 5 * H + k * M)
    # 下载原始文件: only a download of the original.
    want["original_download"] = "original_download:{}".format(w.view(
        c[5], actor="100009", role="leader", moment=T0 + 6 * H, action="download",
        variant="original"))
    w.view(c[5], actor="100009", role="leader", moment=T0 + 6 * H + 30 * M,
           action="download", variant="playback")
    w.view(c[5], actor="100009", role="leader", moment=T0 + 7 * H, variant="original")
    # 非工作时间 22:00-06:00 Beijing time (UTC+8): the edges, and hours that are off in UTC
    # but not in Beijing (and the reverse).
    day2 = datetime(2026, 12, 2, tzinfo=UTC)
    w.view(c[4], actor="100009", role="leader", moment=day2 + 14 * H - S)   # 21:59:59
    want["off_hours 22:00"] = "off_hours:{}".format(
        w.view(c[4], actor="100009", role="leader", moment=day2 + 14 * H))  # 22:00:00
    want["off_hours 05:59"] = "off_hours:{}".format(
        w.view(c[4], actor="100009", role="leader", moment=day2 + 22 * H - S))  # 05:59:59
    w.view(c[4], actor="100009", role="leader", moment=day2 + 22 * H)  # 06:00:00
    w.view(c[4], actor="100009", role="leader", moment=day2 + 23 * H + 30 * M)  # 07:30
    w.view(c[4], actor="100009", role="leader", moment=day2 + 3 * H)  # 03:00 UTC, 11:00 here
    # 调阅非本人案件视频: an officer viewing another's clip not linked (then) to their case.
    w.case("K1", unit=UNIT_A, officers=("100002",), moment=T0 + 7 * H)
    w.step("K1", "s1", "arrest", T0 - 3 * H, T0 - H)
    w.link(c[1], "K1", "s1", moment=T0 + 7 * H)
    want["outside_cases"] = "outside_cases:{}".format(
        w.view(c[0], actor="100002", role="officer", moment=T0 + 8 * H))
    w.view(c[1], actor="100002", role="officer", moment=T0 + 8 * H + 30 * M)  # linked: fine
    w.view(own, actor="100002", role="officer", moment=T0 + 3 * DAY)  # their own: fine
    want["outside_cases before link"] = "outside_cases:{}".format(
        w.view(c[2], actor="100002", role="officer", moment=T0 + 9 * H + 30 * M))
    w.link(c[2], "K1", "s1", moment=T0 + 10 * H)
    w.view(c[0], actor="100001", role="officer", moment=T0 + 11 * H)  # the recorder: fine
    w.catch_up()
    want["dock_late D3"] = f"dock_late:D3:{w.ledger.catalogue.clip(late).acquired_index}"
    return want


def ids(alerts: list[Alert]) -> set[str]:
    return {a.id for a in alerts}


def test_each_rule_fires_at_its_threshold_and_not_below(world: World) -> None:
    want = build(world)
    found = world.alerts.compute(T0 - DAY, T0 + 10 * DAY)
    assert ids(found) == set(want.values())
    rules = {a.id: a.rule for a in found}
    assert {rules[v] for v in want.values()} == {
        "upload_late", "dock_late", "bulk_view", "original_download", "off_hours",
        "outside_cases"}
    bulk = next(a for a in found if a.rule == "bulk_view")
    assert (bulk.person, bulk.unit) == ("100003", "110102000000")
    assert "3 个视频" in bulk.detail
    off = next(a for a in found if a.id == want["off_hours 22:00"])
    assert "22:00" in off.detail
    assert found == sorted(found, key=lambda a: (a.at, a.id))


def test_the_period_bounds_what_is_computed(world: World) -> None:
    want = build(world)
    day2 = datetime(2026, 12, 2, tzinfo=UTC)
    found = world.alerts.compute(day2 + 14 * H, day2 + 22 * H - S)  # [22:00, 05:59:59)
    assert ids(found) == {want["off_hours 22:00"]}
    with pytest.raises(InvalidInputError):
        world.alerts.compute(T0, T0)


def test_a_leader_sees_the_alerts_of_their_subtree_only(world: World) -> None:
    want = build(world)
    units = world.people.subtree(UNIT_A)
    found = world.alerts.compute(T0 - DAY, T0 + 10 * DAY, units=units)
    assert ids(found) == set(want.values()) - {want["bulk_view"], want["upload_late"],
                                               want["dock_late D3"]}


def test_acknowledging_is_ledgered_and_the_audit_stays_clean(world: World) -> None:
    want = build(world)
    period = (T0 - DAY, T0 + 10 * DAY)
    alert = world.alerts.find(want["off_hours 22:00"], *period, units=None)
    assert alert.acknowledged is None
    world.clock.now = T0 + 5 * DAY
    ack = world.alerts.acknowledge(alert, "已核实：值班调阅 =SUM(A1)", actor="100009")
    again = world.alerts.find(alert.id, *period, units=None)
    assert again.acknowledged is not None
    assert (again.acknowledged.by, again.acknowledged.note, again.acknowledged.index) == (
        "100009", "已核实：值班调阅 =SUM(A1)", ack.index)
    assert again.acknowledged.at == T0 + 5 * DAY
    entry = decode_entry(world.ledger.store.entry(ack.index).data)
    assert (entry.kind, entry.subject, entry.actor) == (EntryKind.ALERT_ACKNOWLEDGED,
                                                        alert.id, "100009")
    assert entry.body == {"rule": "off_hours", "note": "已核实：值班调阅 =SUM(A1)"}
    others = [a for a in world.alerts.compute(*period) if a.id != alert.id]
    assert all(a.acknowledged is None for a in others)
    world.ledger.publish()
    report = run_audit(world.ledger.store, world.ledger.trust, deep=True)
    assert report.head.size == world.ledger.store.head().size
    with pytest.raises(InvalidInputError):
        world.alerts.acknowledge(alert, "   ", actor="100009")
    with pytest.raises(NotFoundError):
        world.alerts.find(alert.id, *period, units=world.people.subtree("110102000000"))

    data = alerts_csv(world.alerts.compute(*period))
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["预警编号", "规则", "时间(UTC)"]
    assert len(rows) == 1 + len(want)
    row = next(r for r in rows if r[0] == alert.id)
    assert row[1] == "非工作时间调阅"
    assert row[6:] == ["100009", (T0 + 5 * DAY).isoformat(), "已核实：值班调阅 =SUM(A1)"]
    formula = world.alerts.find(want["bulk_view"], *period, units=None)
    world.alerts.acknowledge(formula, "=HYPERLINK(\"http://x\")", actor="100003")
    rows = list(csv.reader(io.StringIO(alerts_csv(world.alerts.compute(*period))
                                       .decode("utf-8-sig"))))
    assert next(r for r in rows if r[0] == formula.id)[8] == "'=HYPERLINK(\"http://x\")"
