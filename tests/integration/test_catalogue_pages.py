"""What the pages read from the catalogue (docs/web.md): clip search in pages of a given size
by keyset (every clip reached once, forwards and backwards, in each sort order, ties broken by
the SHA-256), its total count, a unit filter; and the media facts the media stage leaves on a
clip (its action, thumbnail, keyframe strip, the step that quarantined it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.compose import Station
from devices.sim.cards import Media
from evidence.bodies import AcquiredBody
from evidence.identity import InvalidInputError
from evidence.records import Clip, ClipQuery, ClipScope
from ingest.derivation import derive_pending
from ingest.media import MediaPolicy, find_ffmpeg
from tests.integration.test_station import Quiet, dock, fleet

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

AT = datetime(2026, 11, 24, 8, tzinfo=UTC)
N = 23


def _clips(station: Station) -> list[Clip]:
    w = station.ledger.writer
    for i in range(N):
        # three officers, two devices, and capture times that tie in threes
        w.append(AcquiredBody(device=f"LH0000{i % 2}", officer=f"00012{i % 3}",
                              unit_no=f"U{i % 3}", name_on_device=f"{i}.MP4", size=1,
                              clock_offset_ms=0, device_mtime=AT,
                              capture_time=AT + timedelta(minutes=i // 3)),
                 subject=f"{i:064x}", actor="000120")
    station.ledger.catalogue.catch_up()
    return station.ledger.catalogue.all_clips()


def _expected(clips: list[Clip], order: str) -> list[str]:
    newest = sorted(clips, key=lambda c: c.sha256)
    newest.sort(key=lambda c: c.captured_at, reverse=True)
    if order != "captured":
        newest.sort(key=lambda c: getattr(c, order))  # stable: newest first within
    return [c.sha256 for c in newest]


@pytest.mark.parametrize("order", ["captured", "officer", "device"])
def test_keyset_pages_reach_every_clip_once_both_ways(station: Station, order: str) -> None:
    catalogue = station.ledger.catalogue
    expected = _expected(_clips(station), order)
    pages: list[list[str]] = []
    after: str | None = None
    while True:
        query = ClipQuery(order=order, limit=5, after=after)
        page = [str(c.sha256) for c in catalogue.clips(query)]
        if not page:
            break
        pages.append(page)
        after = page[-1]
    assert [s for p in pages for s in p] == expected
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    # backwards from the last page's first clip: the same pages, in order
    before = pages[-1][0]
    for wanted in reversed(pages[:-1]):
        got = [c.sha256 for c in catalogue.clips(ClipQuery(order=order, limit=5,
                                                           before=before))]
        assert got == wanted
        before = got[0]
    assert catalogue.clips(ClipQuery(order=order, limit=5, before=expected[0])) == []


def test_count_and_unit_filter(station: Station) -> None:
    clips = _clips(station)
    catalogue = station.ledger.catalogue
    assert catalogue.count_clips(ClipQuery(limit=1)) == N
    assert catalogue.count_clips(ClipQuery(officer="000121")) == \
        sum(c.officer == "000121" for c in clips)
    # no accounts here: a unit filter admits the orphans its recorders wrote
    within = ClipScope(units=frozenset({"U2"}), orphan_units=frozenset({"U2"}))
    found = catalogue.clips(ClipQuery(within=within, limit=100))
    assert {c.sha256 for c in found} == {c.sha256 for c in clips if c.unit_no == "U2"}
    assert catalogue.count_clips(ClipQuery(within=within)) == len(found)


def test_the_use_case_refuses_a_bad_order_or_cursor(station: Station) -> None:
    from api.compose import services

    cw = services(station.ledger, station.blobs)
    with pytest.raises(InvalidInputError, match="排序方式"):
        cw.cases.clips(ClipQuery(order="size"))
    with pytest.raises(InvalidInputError, match="翻页位置"):
        cw.cases.clips(ClipQuery(after="1; DROP TABLE clips"))


def test_media_facts_fold_thumbnails_photo_audio_quarantine(station: Station, tmp_path: Path,
                                                             media: Media) -> None:
    (recorder,) = fleet(tmp_path, media, ("directory",))
    assert dock(station, recorder).released
    derive_pending(station.context(Quiet()), tools=find_ffmpeg(), policy=MediaPolicy(),
                   workdir=tmp_path / "work")
    station.ledger.catalogue.catch_up()
    clips = station.ledger.catalogue.all_clips()
    by_name = {c.name_on_device.rsplit("/", 1)[-1].rsplit("_", 1)[0]: c for c in clips}
    videos = [c for c in clips if c.media_action in ("remux", "transcode", "reencode_audio")]
    assert videos
    for clip in videos:
        assert clip.thumb is not None and clip.strip is not None
        assert clip.thumb.sha256 != clip.strip.sha256
        station.blobs.verify(clip.thumb, rehash=True)  # the very JPEG the media stage stored
        station.blobs.verify(clip.strip, rehash=True)
    photos = [c for c in clips if c.media_action == "keep"]
    assert photos and all(p.thumb is not None and p.strip is None for p in photos)
    audio = [c for c in clips if c.media_action == "audio"]
    assert audio and all(a.thumb is None and a.playback is not None for a in audio)
    bad = [c for c in clips if c.quarantine_reason]
    assert bad and all(c.quarantine_step for c in bad), by_name
    assert {c.quarantine_step for c in bad} & {"probe", "derive", "commit"}
