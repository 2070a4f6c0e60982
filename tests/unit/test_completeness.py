"""Recording completeness (evidence/completeness.py): table tests plus a hypothesis property
that the reported gaps and the recordings together cover every step window."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.completeness import LinkedRecording, completeness, uncovered
from evidence.ids import CaseId, StepCode
from evidence.records import Case, CaseStep
from evidence.steps import CATALOGUE, RecordingRule

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
RULES: dict[str, RecordingRule] = {k.code: k.rule for k in CATALOGUE}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def step(step_id: str, code: str, start: float | None = None,
         end: float | None = None) -> CaseStep:
    return CaseStep(case_id=CaseId("C1"), step_id=step_id, code=StepCode(code),
                    started_at=None if start is None else at(start),
                    ended_at=None if end is None else at(end))


def case(*steps: CaseStep, major: bool = True) -> Case:
    return Case(case_id=CaseId("C1"), title="t", unit_no="U", major=major, steps=steps)


def rec(step_id: str, start: float, seconds: float | None, *, sha: str = "a",
        stored: bool = True, quarantined: bool = False, disposed: bool = False
        ) -> LinkedRecording:
    return LinkedRecording(sha256=sha * 64 if len(sha) == 1 else sha, step_id=step_id,
                           captured_at=at(start),
                           duration_ms=None if seconds is None else int(seconds * 1000),
                           stored=stored, quarantined=quarantined, disposed=disposed)


def test_required_and_should_steps_without_recordings_are_listed() -> None:
    report = completeness(case(step("s1", "chafeng"), step("s2", "xianchang"),
                               step("s3", "qidong")), rules=RULES, recordings=[])
    assert [(m.step_id, m.rule) for m in report.missing_required] == \
        [("s1", RecordingRule.REQUIRED)]
    assert [m.step_id for m in report.missing_should] == ["s2"]
    assert not report.complete and report.major


@pytest.mark.parametrize(("recording", "reason"), [
    (rec("s1", 0, 10, stored=False), "original not stored and verified yet"),
    (rec("s1", 0, 10, quarantined=True), "quarantined: the media does not play"),
    (rec("s1", 0, 10, disposed=True), "disposed"),
])
def test_a_recording_that_does_not_count_leaves_the_step_missing(
        recording: LinkedRecording, reason: str) -> None:
    report = completeness(case(step("s1", "chafeng", 0, 10)), rules=RULES,
                          recordings=[recording])
    assert [m.step_id for m in report.missing_required] == ["s1"]
    assert [(n.step_id, n.reason) for n in report.not_counted] == [("s1", reason)]


def test_full_coverage_is_complete() -> None:
    report = completeness(case(step("s1", "chafeng", 0, 600)), rules=RULES,
                          recordings=[rec("s1", -5, 300, sha="a"), rec("s1", 290, 400, sha="b")])
    assert report.complete and report.gaps == () and report.missing_required == ()


@pytest.mark.parametrize(("recordings", "gaps"), [
    # a hole in the middle, at the start, at the end
    ([rec("s1", 0, 100, sha="a"), rec("s1", 200, 400, sha="b")], [(100, 200)]),
    ([rec("s1", 90, 510)], [(0, 90)]),
    ([rec("s1", 0, 500)], [(500, 600)]),
    # a hole shorter than the threshold is not reported
    ([rec("s1", 0, 300, sha="a"), rec("s1", 330, 300, sha="b")], []),
    # a recording of unknown duration covers nothing
    ([rec("s1", 0, None)], [(0, 600)]),
])
def test_gaps_inside_the_step_window(recordings: list[LinkedRecording],
                                     gaps: list[tuple[float, float]]) -> None:
    report = completeness(case(step("s1", "chafeng", 0, 600)), rules=RULES,
                          recordings=recordings)
    assert [(g.start, g.end) for g in report.gaps] == [(at(a), at(b)) for a, b in gaps]
    assert report.complete is (not gaps)


def test_gap_threshold_is_configurable() -> None:
    recordings = [rec("s1", 0, 300, sha="a"), rec("s1", 330, 300, sha="b")]
    report = completeness(case(step("s1", "chafeng", 0, 600)), rules=RULES,
                          recordings=recordings, gap_threshold=timedelta(seconds=10))
    assert [g.seconds for g in report.gaps] == [30.0]
    with pytest.raises(ValueError, match="positive"):
        completeness(case(), rules=RULES, recordings=[], gap_threshold=timedelta(0))


def test_should_step_gaps_do_not_make_the_case_incomplete() -> None:
    report = completeness(case(step("s1", "xianchang", 0, 600)), rules=RULES,
                          recordings=[rec("s1", 0, 100)])
    assert [g.rule for g in report.gaps] == [RecordingRule.SHOULD]
    assert report.complete


def test_optional_steps_are_not_checked_and_open_windows_are_listed() -> None:
    report = completeness(case(step("s1", "qidong", 0, 600), step("s2", "chafeng", 0, None)),
                          rules=RULES, recordings=[rec("s2", 0, 10)])
    assert report.gaps == () and report.no_window == ("s2",)
    assert report.unknown_duration == ()


def test_an_unknown_code_fails_closed_as_required() -> None:
    report = completeness(case(step("s1", "gone")), rules=RULES, recordings=[])
    (missing,) = report.missing_required
    assert missing.rule is RecordingRule.REQUIRED and "unknown" in missing.note


def test_recordings_of_another_step_do_not_count() -> None:
    report = completeness(case(step("s1", "chafeng", 0, 60), step("s2", "chaichu", 0, 60)),
                          rules=RULES, recordings=[rec("s2", 0, 60)])
    assert [m.step_id for m in report.missing_required] == ["s1"]


intervals = st.lists(st.tuples(st.integers(-50, 650), st.integers(0, 300)), max_size=8)


@given(intervals)
def test_holes_and_intervals_partition_the_window(spans: list[tuple[int, int]]) -> None:
    covered = [(at(a), at(a + d)) for a, d in spans]
    holes = uncovered(at(0), at(600), covered)
    for second in range(600):
        t = at(second + 0.5)
        in_hole = any(a <= t < b for a, b in holes)
        in_span = any(a <= t < b for a, b in covered)
        assert in_hole != in_span
    assert all(a < b for a, b in holes)
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(holes))
