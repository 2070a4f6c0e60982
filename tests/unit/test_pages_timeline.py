"""The case page's suggestions ranking and timeline (api/http/pages_cases.py, timeline.py):
overlap with the step's window first, then closeness; bars inside or outside their window;
gaps drawn in their lane; tick labels in UTC+8."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.http.pages_cases import overlap
from api.http.timeline import build, outside_window
from api.http.web import DISPLAY_TZ
from evidence.completeness import Gap
from evidence.ids import CaseId, DeviceSerial, OfficerNo, Sha256Hex, StationId, StepCode
from evidence.records import CaseStep, Clip
from evidence.steps import RecordingRule

T0 = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)  # 08:30 in UTC+8


def _clip(n: int, start_s: float, length_s: float) -> Clip:
    return Clip(sha256=Sha256Hex(f"{n:064x}"), size=1, device=DeviceSerial("LH00001"),
                officer=OfficerNo("010203"), unit_no="u", name_on_device=f"DCIM/{n}.MP4",
                captured_at=T0 + timedelta(seconds=start_s), station=StationId("s"),
                acquired_index=n, acquired_at=T0, duration_ms=int(length_s * 1000))


STEP = CaseStep(case_id=CaseId("C"), step_id="s1", code=StepCode("chafeng"),
                started_at=T0, ended_at=T0 + timedelta(minutes=10), officer="010203")


def test_overlap_then_distance() -> None:
    assert overlap(STEP, _clip(1, 60, 120)) == (120.0, 0.0)  # wholly inside
    assert overlap(STEP, _clip(2, -30, 60)) == (30.0, 0.0)  # half before the window
    assert overlap(STEP, _clip(3, 660, 10)) == (0.0, 60.0)  # a minute after it
    assert overlap(STEP, _clip(4, -130, 10)) == (0.0, 120.0)  # two minutes before it


def test_outside_window_and_the_drawing() -> None:
    inside, out = _clip(1, 60, 120), _clip(2, -30, 60)
    assert not outside_window(STEP, inside) and outside_window(STEP, out)
    gap = Gap(step_id="s1", code="chafeng", rule=RecordingRule.REQUIRED,
              start=T0 + timedelta(minutes=3), end=T0 + timedelta(minutes=10))
    drawn = build((STEP,), {"chafeng": "查封扣押"}, {"s1": [inside, out]}, (gap,),
                  href={inside.sha256: "/a", out.sha256: "/b"}, local=DISPLAY_TZ)
    (lane,) = drawn.lanes
    assert lane.label == "s1 查封扣押" and lane.band is not None and len(lane.gaps) == 1
    first, second = drawn.bars
    assert (first.outside, second.outside) == (False, True)
    assert drawn.outside == ("2.MP4",)
    assert second.x < lane.band[0] < first.x  # the early clip starts left of the band
    band_end = lane.band[0] + lane.band[1]
    assert lane.gaps[0][0] + lane.gaps[0][1] == band_end or \
        abs(lane.gaps[0][0] + lane.gaps[0][1] - band_end) < 0.2
    assert drawn.ticks[0][1].startswith("08:2")  # UTC+8, not UTC
    assert not drawn.empty


def test_nothing_timed_draws_nothing() -> None:
    bare = CaseStep(case_id=CaseId("C"), step_id="s1", code=StepCode("chafeng"))
    assert build((bare,), {}, {}, (), href={}, local=DISPLAY_TZ).empty
