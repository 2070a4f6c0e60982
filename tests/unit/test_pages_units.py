"""Pure parts of the pages (issue 16): date presets in whole days of UTC+8, download names and
their Content-Disposition (RFC 6266 / RFC 5987), media kinds and Chinese quarantine reasons."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote

import pytest

from api.http.labels import clip_state, entry_kind, media_kind, quarantine
from api.http.pages import content_disposition, date_preset, download_name
from api.http.web import DISPLAY_TZ
from evidence.identity import InvalidInputError
from evidence.ids import DeviceSerial, OfficerNo, Sha256Hex, StationId
from evidence.records import Clip, StoredObject

AT = datetime(2026, 11, 24, 8, tzinfo=UTC)


def _clip(name: str = "DCIM/20261124_0800_010203.MP4", **facts: object) -> Clip:
    obj = StoredObject(store="file:///x", key="derived/ab/abc/def.mp4", version_id="1", size=1,
                       sha256=Sha256Hex("d" * 64), lock_mode="", retain_until=AT)
    values: dict[str, object] = {"playback": obj} | facts
    return Clip(sha256=Sha256Hex("a" * 64), size=1, device=DeviceSerial("LH00001"),
                officer=OfficerNo("010203"), unit_no="110105000000", name_on_device=name,
                captured_at=AT, station=StationId("s"), acquired_index=0, acquired_at=AT,
                **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("now", "preset", "start", "end"), [
    # 2026-11-24 23:30 in UTC is already 11-25 07:30 in UTC+8: "today" is the 25th there
    (datetime(2026, 11, 24, 23, 30, tzinfo=UTC), "today", (11, 25), (11, 26)),
    (datetime(2026, 11, 24, 15, 59, tzinfo=UTC), "today", (11, 24), (11, 25)),
    (datetime(2026, 11, 24, 15, 59, tzinfo=UTC), "yesterday", (11, 23), (11, 24)),
    (datetime(2026, 11, 24, 8, tzinfo=UTC), "7d", (11, 18), (11, 25)),
    (datetime(2026, 11, 24, 8, tzinfo=UTC), "30d", (10, 26), (11, 25)),
])
def test_date_presets_are_whole_days_in_utc_plus_8(now: datetime, preset: str,
                                                   start: tuple[int, int],
                                                   end: tuple[int, int]) -> None:
    window = date_preset(now, preset)
    assert window is not None
    assert window == (datetime(2026, *start, tzinfo=DISPLAY_TZ),
                      datetime(2026, *end, tzinfo=DISPLAY_TZ))


def test_an_unknown_preset_is_refused_and_none_is_no_window() -> None:
    assert date_preset(AT, None) is None and date_preset(AT, "") is None
    with pytest.raises(InvalidInputError, match="日期范围"):
        date_preset(AT, "century")


def test_download_names_keep_the_recorders_name_and_extension() -> None:
    clip = _clip()
    assert download_name(clip, "original") == "20261124_0800_010203.MP4"
    assert download_name(clip, "playback") == "20261124_0800_010203.playback.mp4"


def test_a_chinese_name_survives_in_filename_star_with_an_ascii_fallback() -> None:
    header = content_disposition("attachment", '执法记录 "现场".MP4')
    plain, star = header.split("; filename*=UTF-8''")
    assert plain == 'attachment; filename="____ ____.MP4"'  # non-ASCII and quotes: _
    assert plain.isascii() and plain.count('"') == 2
    assert unquote(star) == '执法记录 "现场".MP4' and star.isascii()


def test_media_kinds_and_quarantine_reasons_in_chinese() -> None:
    assert media_kind(_clip(media_action="keep", name="photo_named_as.mp4")) == "photo"
    assert media_kind(_clip(media_action="audio")) == "audio"
    assert media_kind(_clip(media_action="remux")) == "video"
    assert media_kind(_clip(name="A.JPG")) == "photo"  # before the media stage ran
    bad = _clip(quarantine_reason="Invalid data found when processing input",
                quarantine_step="probe")
    assert quarantine(bad) == "文件已损坏或不完整，无法识别为音视频"
    assert clip_state(bad).startswith("已隔离 quarantined：文件已损坏")
    assert quarantine(_clip(quarantine_reason="x", quarantine_step="newstep")) == "文件无法处理"
    assert entry_kind("acquired") == "采集 acquired" and entry_kind("zzz") == "zzz"
