"""Pure parts of the jobs: the bureau retention policy, the disposal rules (a table across
time, holds, links and classes), disposal certificates, the fixity sample and the annual
report's figures."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import example, given, settings
from hypothesis import strategies as st

from evidence.errors import PolicyViolationError, VerificationError
from evidence.ids import CaseId, DeviceSerial, OfficerNo, Sha256Hex, StationId, StepCode
from evidence.records import Case, CaseStep, Clip, Link, StoredObject
from evidence.steps import CATALOGUE
from integrity.notes import Ed25519Signer, sign_note
from jobs.annual import CST, compute, to_csv
from jobs.disposal import CERT_HEADER, disposal_refusals, verify_certificate
from jobs.fixity import EPOCH, due_periods, period_start, sample_since, scheduled_at
from jobs.retention import ART13_CLASSES, CASE, STANDARD, RetentionPolicy

T0 = datetime(2026, 1, 10, 8, tzinfo=UTC)
DAY = timedelta(days=1)
SHA = Sha256Hex("ab" * 32)


def clip(**changes: object) -> Clip:
    obj = StoredObject(store="file:///x", key=f"originals/ab/{SHA}", version_id=SHA, size=3,
                       sha256=SHA, lock_mode="LOCAL-WORM", retain_until=T0 + 180 * DAY)
    fields: dict[str, object] = {
        "sha256": SHA, "size": 3, "device": DeviceSerial("LH1"), "officer": OfficerNo("000123"),
        "unit_no": "U1", "name_on_device": "a.mp4", "captured_at": T0, "station":
        StationId("s"), "acquired_index": 0, "acquired_at": T0, "original": obj,
        "retain_until": T0 + 180 * DAY, **changes}
    return Clip(**fields)  # type: ignore[arg-type]  # one dict of Clip's mixed-type fields


LINK = Link(sha256=SHA, case_id=CaseId("C-1"), step_id="s1", linked_index=7, linked_at=T0,
            linked_by="000123")


# --- policy ------------------------------------------------------------------------------------

def test_default_policy_keeps_standard_clips_six_months_and_evidence_for_ever() -> None:
    policy = RetentionPolicy.for_bureau()
    assert policy.days(STANDARD) == 180
    assert all(policy.is_permanent(name) for name in (CASE, *ART13_CLASSES))
    assert policy.until(STANDARD, T0) == T0 + 180 * DAY
    assert policy.until(CASE, T0) == T0 + policy.permanent_horizon_days * DAY
    with pytest.raises(PolicyViolationError, match="unknown retention class"):
        policy.days("nonesuch")


@pytest.mark.parametrize(("doc", "error"), [
    ({"classes": {CASE: 30}}, "permanent by rule"),
    ({"classes": {"obstruction": 3650}}, "permanent by rule"),
    ({"classes": {"x": 0}}, "positive number of days"),
    ({"classes": {"x": "forever"}}, "positive number of days"),
    ({"standard_dayz": 200}, "unknown setting"),
    ({"standard_days": -1}, "positive number"),
    ({"renew_before_days": 400, "permanent_horizon_days": 300}, "shorter than"),
])
def test_policy_file_cannot_weaken_the_rules(doc: dict[str, object], error: str) -> None:
    with pytest.raises(PolicyViolationError, match=error):
        RetentionPolicy.for_bureau(doc=doc)


def test_bureau_overrides_and_the_settings_floor() -> None:
    policy = RetentionPolicy.for_bureau(standard_days=200, doc={
        "name": "某局", "standard_days": 100, "classes": {"traffic": 365, "crowd": "permanent",
                                                           "short": 30}})
    assert policy.days(STANDARD) == 200  # never below Settings.retention_days
    assert policy.days("traffic") == 365 and policy.is_permanent("crowd")
    assert policy.days("short") == 200  # no class keeps less than the standard minimum
    assert policy.digest() != RetentionPolicy.for_bureau(standard_days=200).digest()
    classes = policy.describe()["classes"]
    assert isinstance(classes, dict) and classes["crowd"] == "permanent"


# --- disposal rules ----------------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "now", "links", "codes"), [
    ({}, T0 + 179 * DAY, [], ["not_due"]),
    ({}, T0 + 180 * DAY, [], []),
    ({"legal_hold": True}, T0 + 400 * DAY, [], ["hold"]),
    ({}, T0 + 400 * DAY, [LINK], ["linked"]),
    ({"retention_class": CASE}, T0 + 400 * DAY, [], ["permanent"]),
    ({"retention_class": "obstruction", "legal_hold": True}, T0 + 400 * DAY, [LINK],
     ["hold", "linked", "permanent"]),
    ({"retention_class": "gone"}, T0 + 400 * DAY, [], ["unknown_class"]),
    ({"retain_until": None, "original": None}, T0 + 400 * DAY, [], ["not_stored"]),
    ({"disposed_index": 42}, T0 + 400 * DAY, [], ["disposed"]),
    # a recorded lock shorter than the policy's days: the policy wins
    ({"retain_until": T0 + 10 * DAY}, T0 + 100 * DAY, [], ["not_due"]),
    # a lock extended beyond the class's days: the lock wins
    ({"retain_until": T0 + 300 * DAY}, T0 + 200 * DAY, [], ["not_due"]),
])
def test_disposal_rules(changes: dict[str, object], now: datetime, links: list[Link],
                        codes: list[str]) -> None:
    refusals = disposal_refusals(clip(**changes), policy=RetentionPolicy.for_bureau(), now=now,
                                 current_links=links)
    assert [r.code for r in refusals] == codes
    assert all(r.text for r in refusals)


def test_certificate_signature_is_checked() -> None:
    signer = Ed25519Signer("station-1", Ed25519PrivateKey.generate(), role="station")
    note = sign_note(CERT_HEADER + b'\n{"tree_size":5,"what":{"sha256":"ab"}}\n', [signer])
    assert verify_certificate(note, [signer.public])["tree_size"] == 5
    other = Ed25519Signer("station-1", Ed25519PrivateKey.generate(), role="station")
    with pytest.raises(VerificationError):
        verify_certificate(note, [other.public])
    forged = note.replace(b'"tree_size":5', b'"tree_size":6')
    with pytest.raises(VerificationError):
        verify_certificate(forged, [signer.public])


# --- fixity sample -----------------------------------------------------------------------------

PERIOD = timedelta(days=7)


def test_scheduled_moments_are_deterministic_and_inside_their_period() -> None:
    for p in (1000, 1001):
        at = scheduled_at("k@v", p, PERIOD)
        assert at == scheduled_at("k@v", p, PERIOD)
        assert EPOCH + PERIOD * p <= at < EPOCH + PERIOD * (p + 1)
    assert scheduled_at("k@v", 1000, PERIOD) - EPOCH - PERIOD * 1000 != \
        scheduled_at("k@v", 1001, PERIOD) - EPOCH - PERIOD * 1001  # reshuffled each period


def test_first_run_and_catch_up_windows() -> None:
    now = EPOCH + PERIOD * 100 + 3 * DAY
    assert sample_since(None, now=now, period=PERIOD) == period_start(now, PERIOD)
    assert sample_since(now - DAY, now=now, period=PERIOD) == now - DAY
    # after a long gap the window holds the whole previous period: everything is checked
    since = sample_since(now - 50 * PERIOD, now=now, period=PERIOD)
    assert since == period_start(now, PERIOD) - PERIOD
    assert all(due_periods(f"k{i}@v", since=since, now=now, period=PERIOD) for i in range(50))


KNOWN_COLLAPSE = [108000] * 22 + [9124, 41855]
"""Run gaps (s) under which, with a once-per-window rule, two moments of one object in adjacent
periods fell into one window and the earlier period got no check (issue 11)."""


def covered(ident: str, runs: list[datetime]) -> list[int]:
    """The periods each sampled run's check of ``ident`` covers, in run order, runs chained the
    way ``run_fixity`` chains them (each window starts where the previous run ended)."""
    periods: list[int] = []
    previous: datetime | None = None
    for now in runs:
        since = sample_since(previous, now=now, period=PERIOD)
        periods += due_periods(ident, since=since, now=now, period=PERIOD)
        previous = now
    return periods


IDENTS = [f"originals/{i:02x}@v{i}" for i in range(40)]


@example(KNOWN_COLLAPSE)
@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=60 * 60 * 30), min_size=1, max_size=40))
def test_any_run_pattern_covers_each_period_exactly_once(steps_s: list[int]) -> None:
    start = EPOCH + PERIOD * 500
    runs = [start + timedelta(seconds=s) for s in itertools.accumulate([0, *steps_s])]
    end = runs[-1]
    for ident in IDENTS:
        # every moment passed since the first period's start is covered, by exactly one check
        expected = [p for p in range(500, 500 + (end - start) // PERIOD + 1)
                    if scheduled_at(ident, p, PERIOD) <= end]
        assert covered(ident, runs) == expected, ident


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=3 * 7 * 24 * 3600),
       st.lists(st.integers(min_value=1, max_value=3 * 7 * 24 * 3600), min_size=1, max_size=30))
def test_gaps_longer_than_a_period_never_check_twice_and_catch_up(first_s: int,
                                                                   steps_s: list[int]) -> None:
    runs = [EPOCH + PERIOD * 500 + timedelta(seconds=s)
            for s in itertools.accumulate([first_s, *steps_s])]
    first_period = (runs[0] - EPOCH) // PERIOD
    for ident in IDENTS[:10]:
        seen: set[int] = set()
        previous: datetime | None = None
        for now in runs:
            since = sample_since(previous, now=now, period=PERIOD)
            for p in due_periods(ident, since=since, now=now, period=PERIOD):
                assert p not in seen, f"{ident}: period {p} checked twice"
                seen.add(p)
            previous = now
            # after each run, the passed moments of this and the previous period are covered
            current = (now - EPOCH) // PERIOD
            for p in (current - 1, current):
                if p >= first_period and scheduled_at(ident, p, PERIOD) <= now:
                    assert p in seen, f"{ident}: period {p} passed at {now} without a check"


# --- the annual report ---------------------------------------------------------------------------

def test_report_figures_and_fail_closed_unknown_step_codes() -> None:
    at = datetime(2025, 6, 1, 10, tzinfo=CST)
    a = clip(captured_at=at, duration_ms=3_600_000)
    b = clip(sha256=Sha256Hex("cd" * 32), captured_at=at, quarantine_reason="corrupt",
             officer=OfficerNo("000999"), unit_no="")
    case = Case(case_id=CaseId("C"), title="t", unit_no="U1", opened_at=at, steps=(
        CaseStep(CaseId("C"), "s1", StepCode("chafeng"), started_at=at, officer="000123"),
        CaseStep(CaseId("C"), "s2", StepCode("qiangzhi"), started_at=at),
        CaseStep(CaseId("C"), "s3", StepCode("bureau-own"), started_at=at),
        CaseStep(CaseId("C"), "s4", StepCode("chafeng"),
                 started_at=datetime(2024, 6, 1, tzinfo=CST))))
    links: dict[str, set[str]] = {"s1": {a.sha256}, "s2": {b.sha256}}
    report = compute(2025, clips=[a, b], cases=[(case, links)], kinds=CATALOGUE)
    # s1 recorded; s2's only clip is quarantined; s3 has an unknown code → required; s4 is 2024
    assert (report.total.clips, report.total.steps, report.total.recorded) == (2, 3, 1)
    assert report.total.hours == 1.0 and report.without_duration == 1
    assert report.units["-"].clips == 1 and report.officers["000123"].rate() == 1.0
    text = to_csv(report).decode("utf-8-sig")
    assert "step,bureau-own,bureau-own,required,0,0.00,1,0,0.0000,0" in text
    assert "step,chafeng,查封扣押,required,1,1.00,1,1,1.0000,0" in text
