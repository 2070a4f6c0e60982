"""The catalogue folded from a real station's ledger: every acquired original becomes one clip
with its device, officer, stored version and playback copy; cases, links and accesses fold in
ledger order; folding is idempotent and safe from several threads at once."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from api.compose import Station
from devices.sim.cards import Media
from evidence.bodies import (
    AccessedBody,
    AcquiredBody,
    CaseOpenedBody,
    CaseStepBody,
    LinkedBody,
    StoredBody,
    UnlinkedBody,
)
from evidence.errors import NotFoundError
from evidence.records import ClipQuery, EntryKind
from ingest.derivation import derive_pending
from ingest.media import MediaPolicy, find_ffmpeg
from integrity.entry import decode_entry
from tests.integration.test_station import Quiet, dock, fleet
from tests.support.foreign import append_foreign

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_clips_fold_from_a_docked_recorder(station: Station, tmp_path: Path,
                                           media: Media) -> None:
    (recorder,) = fleet(tmp_path, media, ("fat32",))
    assert dock(station, recorder).released
    derive_pending(station.context(Quiet()), tools=find_ffmpeg(), policy=MediaPolicy(),
                   workdir=tmp_path / "work")
    catalogue = station.ledger.catalogue
    size = catalogue.catch_up()
    assert size == station.ledger.store.size()
    entries = [decode_entry(r.data) for r in station.ledger.store.entries()]
    acquired = {e.subject: e for e in reversed(entries) if e.kind is EntryKind.ACQUIRED}
    clips = catalogue.all_clips()
    assert {c.sha256 for c in clips} == set(acquired)
    derived = {e.subject for e in entries if e.kind is EntryKind.DERIVED}
    for clip in clips:
        first = acquired[clip.sha256]
        assert (clip.device, clip.officer) == (first.body["device"], first.body["officer"])
        assert clip.original is not None and clip.original.sha256 == clip.sha256
        station.blobs.verify(clip.original, rehash=True)  # points at the real stored version
        if clip.sha256 in derived and clip.media_state == "derived":
            assert clip.duration_ms is not None or clip.playback is None
    with_copy = [c for c in clips if c.playback is not None]
    assert with_copy, "remuxed/transcoded clips carry their playback copy"
    for clip in with_copy:
        assert clip.playback is not None
        station.blobs.verify(clip.playback, rehash=True)
    assert {c.media_state for c in clips} >= {"derived", "quarantined"}
    # a second fold changes nothing
    assert catalogue.catch_up() == size
    assert catalogue.all_clips() == clips
    # search: by officer, by device, by time window
    officer = clips[0].officer
    assert {c.sha256 for c in catalogue.clips(ClipQuery(officer=officer))} == \
        {c.sha256 for c in clips if c.officer == officer}
    assert catalogue.clips(ClipQuery(device="NOSUCHDEV")) == []
    t = min(c.captured_at for c in clips)
    window = catalogue.clips(ClipQuery(start=t, end=t + timedelta(microseconds=1)))
    assert window and all(c.captured_at == t for c in window)
    beijing = timezone(timedelta(hours=8))  # the same instants given in +08:00 find the same clips
    assert catalogue.clips(ClipQuery(start=t.astimezone(beijing),
                                     end=(t + timedelta(microseconds=1)).astimezone(beijing))
                           ) == window


def test_the_same_content_from_two_recorders_is_found_by_either_officer_and_device(
        station: Station, tmp_path: Path, media: Media) -> None:
    """The clip row keeps its first acquisition; search by 警号 or device (and the access log
    of an officer's clips) goes through every acquisition, so the second recorder's officer
    finds the clips too."""
    first, second = fleet(tmp_path, media, ("directory", "directory"))
    assert dock(station, first).released and dock(station, second).released
    catalogue = station.ledger.catalogue
    catalogue.catch_up()
    clips = catalogue.all_clips()
    assert clips and {c.officer for c in clips} == {first.zfy.officer.officer_no}
    for recorder in (first, second):
        officer = recorder.zfy.officer.officer_no
        by_officer = catalogue.clips(ClipQuery(officer=officer))
        by_device = catalogue.clips(ClipQuery(device=recorder.serial))
        assert {c.sha256 for c in by_officer} == {c.sha256 for c in clips}, officer
        assert {c.sha256 for c in by_device} == {c.sha256 for c in clips}, recorder.serial
    clip = clips[0]
    station.ledger.writer.append(AccessedBody(
        role="auditor", action="view", variant="original", purpose="审计"),
        subject=clip.sha256, actor="fz-9")
    catalogue.catch_up()
    second_officer = second.zfy.officer.officer_no
    assert [a.sha256 for a in catalogue.accesses(officer=second_officer)] == [clip.sha256]


def test_a_catalogue_folded_before_acquisitions_were_kept_is_rebuilt(
        station: Station, tmp_path: Path, media: Media, ledger_url: str) -> None:
    """A ledger whose catalogue was folded at revision 0004 (no acquisitions table): migration
    0005 empties the folded tables and rewinds the cursor, so the next fold finds the second
    recorder's clips by its officer too."""
    from alembic import command

    from storage.migrations import alembic_config, upgrade

    first, second = fleet(tmp_path, media, ("directory", "directory"))
    assert dock(station, first).released and dock(station, second).released
    catalogue = station.ledger.catalogue
    size = catalogue.catch_up()
    clips = catalogue.all_clips()
    station.ledger.store.engine.dispose()
    command.downgrade(alembic_config(url=ledger_url), "0004")  # as a 0004 station left it
    upgrade(ledger_url)
    assert catalogue.all_clips() == []  # emptied, to be folded again
    assert catalogue.catch_up() == size
    assert catalogue.all_clips() == clips
    officer = second.zfy.officer.officer_no
    assert {c.sha256 for c in catalogue.clips(ClipQuery(officer=officer))} == \
        {c.sha256 for c in clips}


def test_cases_links_and_accesses_fold_in_ledger_order(station: Station) -> None:
    ledger = station.ledger
    sha = "ab" * 32
    w = ledger.writer
    w.append(AcquiredBody(device="LH00001", officer="000123", unit_no="U1",
                          name_on_device="a.mp4", size=3, clock_offset_ms=None,
                          device_mtime=datetime(2026, 11, 24, 8, tzinfo=UTC)),
             subject=sha, actor="000123")
    w.append(CaseOpenedBody(title="查封某仓库", unit_no="U1", major=True), subject="C-2026-001",
             actor="000123")
    w.append(CaseStepBody(step="s1", code="chafeng", started_at=None, ended_at=None,
                          officer=None), subject="C-2026-001", actor="000123")
    w.append(LinkedBody(case="C-2026-001", step="s1"), subject=sha, actor="000123")
    w.append(AccessedBody(action="play", variant="playback", purpose="法制审核", role="auditor",
                          case="C-2026-001"), subject=sha, actor="auditor-1")
    w.append(UnlinkedBody(case="C-2026-001", step="s1"), subject=sha, actor="000124")
    w.append(LinkedBody(case="C-2026-001", step="s1"), subject=sha, actor="000125")
    ledger.catalogue.catch_up()
    case = ledger.catalogue.case("C-2026-001")
    assert case.major and [s.code for s in case.steps] == ["chafeng"]
    links = ledger.catalogue.links(sha256=sha)
    assert [(lk.linked_by, lk.unlinked_by) for lk in links] == \
        [("000123", "000124"), ("000125", None)]
    assert [lk.linked_by for lk in ledger.catalogue.links(case_id="C-2026-001",
                                                          current_only=True)] == ["000125"]
    (access,) = ledger.catalogue.accesses(case_id="C-2026-001")
    assert (access.actor, access.purpose) == ("auditor-1", "法制审核")
    assert ledger.catalogue.accesses(officer="000123") == [access]
    assert ledger.catalogue.clips(ClipQuery(case_id="C-2026-001"))[0].sha256 == sha
    with pytest.raises(NotFoundError):
        ledger.catalogue.case("C-none")


def test_concurrent_folds_apply_each_entry_once(station: Station) -> None:
    ledger = station.ledger
    for i in range(40):
        ledger.writer.append(CaseOpenedBody(title=f"case {i}", unit_no="U", major=False),
                             subject=f"C-{i:03d}", actor="x")
    errors: list[BaseException] = []

    def fold() -> None:
        try:
            ledger.catalogue.catch_up(page=7)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fold) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(ledger.catalogue.cases(limit=1000)) == 40


def test_a_malformed_field_makes_its_entry_unfoldable_never_empty_or_zero(
        station: Station, caplog: pytest.LogCaptureFixture) -> None:
    """Each entry below has one field missing or of the wrong type. The fold reads bodies
    through their typed bodies (evidence/bodies), so each is skipped with a logged error and
    listed by the audit, naming kind and field; none is folded with ``""``, ``0`` or a
    default in its place, and everything after it still folds."""
    ledger = station.ledger
    sha, case = "cd" * 32, "C-2026-002"
    good = AcquiredBody(device="LH00001", officer="000123", unit_no="U1",
                        name_on_device="a.mp4", size=3, clock_offset_ms=None,
                        device_mtime=datetime(2026, 11, 24, 8, tzinfo=UTC))
    ledger.writer.append(good, subject=sha, actor="000123")
    stored = StoredBody(device="LH00001", name_on_device="a.mp4", store="file:///s", key="k",
                        version_id="v1", size=3, lock_mode="LOCAL-WORM",
                        retain_until=datetime(2027, 5, 23, tzinfo=UTC)).to_body()

    def foreign(kind: EntryKind, subject: str, body: dict[str, object]) -> int:
        return append_foreign(ledger, kind, subject, body, actor="000123")

    malformed = {
        foreign(EntryKind.ACQUIRED, "ef" * 32, {**good.to_body(), "size": "3"}):
            "acquired 的 body.size",
        foreign(EntryKind.ACQUIRED, "01" * 32, {k: v for k, v in good.to_body().items()
                                                if k != "device"}): "acquired 的 body.device",
        foreign(EntryKind.STORED, sha, {**stored, "version_id": 7}): "stored 的 body.version_id",
        foreign(EntryKind.CASE_OPENED, case, {"unit_no": "U1", "major": False}):
            "case_opened 的 body.title",
        foreign(EntryKind.RETENTION_SET, sha, {"class": 5, "retain_until": stored["retain_until"],
                                               "reason": "r", "permanent": False}):
            "retention_set 的 body.class",
        foreign(EntryKind.LINKED, sha, {"case": case, "step": None}): "linked 的 body.step",
        foreign(EntryKind.ACCESSED, sha, {"action": "play", "variant": "original",
                                          "role": "auditor"}): "accessed 的 body.purpose",
    }
    ledger.writer.append(CaseOpenedBody(title="后来的案件", unit_no="U1", major=False),
                         subject="C-2026-003", actor="000123")
    with caplog.at_level(logging.ERROR, logger="liuhen.catalogue"):
        ledger.catalogue.catch_up()
    for index in malformed:
        assert f"ledger entry {index} skipped" in caplog.text
    assert [(u.index, u.kind) for u in ledger.catalogue.unfoldable()] == \
        [(index, words.split(" ")[0]) for index, words in malformed.items()]
    for item in ledger.catalogue.unfoldable():
        assert item.reason.startswith(f"账本条目 {malformed[item.index]}")
    (clip,) = ledger.catalogue.all_clips()  # the good one only: no size 0, no device ""
    assert (clip.sha256, clip.size, clip.device) == (sha, 3, "LH00001")
    assert clip.original is None and clip.retention_class == "standard"
    assert ledger.catalogue.links(sha256=sha) == []
    assert ledger.catalogue.accesses(sha256=sha) == []
    assert [c.case_id for c in ledger.catalogue.cases()] == ["C-2026-003"]
