"""A station releases its local copy of an original only on the bureau's receipt for exactly
those bytes, ``keep`` days after it arrived (ledger/copyrelease.py; docs/station.md §Sync): on
a station's own SQLite ledger and local store, the receipts handed in as sync records them, the
clock injected."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.compose import open_ledger_and_store
from api.settings import Settings
from api.stationlink import add_object_receipt, read_object_receipts
from evidence.bodies import CopyReleasedBody, StoredBody
from evidence.errors import NotFoundError
from evidence.ids import Sha256Hex
from evidence.records import EntryKind, ObjectReceipt, StoredObject
from integrity.entry import decode_entry
from integrity.hashing import sm3_hex
from ledger.copyrelease import release_copies
from storage.localstore import LocalWormStore

RECEIVED = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)
KEEP = timedelta(days=30)


class Station:
    def __init__(self, data: Path) -> None:
        self.data = data
        self.ledger, blobs = open_ledger_and_store(Settings(data_dir=data))
        self.store = blobs
        self.local = LocalWormStore(data / "objects", clock=lambda: RECEIVED)

    def store_clip(self, content: bytes) -> tuple[int, StoredBody, StoredObject]:
        """Stored as docking stores it (sealed at rest); its ``stored`` entry's index."""
        sha = hashlib.sha256(content).hexdigest()
        staged = self.data / f"{sha}.orig"
        staged.write_bytes(content)
        obj = self.store.verify(self.store.put(
            f"originals/{sha[:2]}/{sha}", staged, sha256=Sha256Hex(sha), size=len(content),
            retain_until=datetime.now(UTC) + timedelta(days=200)), rehash=True)
        seal = obj.sealing
        assert seal is not None
        body = StoredBody(
            device="LH1", name_on_device="clip.mp4", store=obj.store, key=obj.key,
            version_id=obj.version_id, size=obj.size, lock_mode=obj.lock_mode,
            retain_until=obj.retain_until, cipher=seal.algorithm, kek_id=seal.kek_id,
            wrapped_key=seal.wrapped_key, sealed_sha256=seal.sealed_sha256,
            sealed_size=seal.sealed_size, sm3=sm3_hex(content))
        index = self.ledger.writer.append(body, subject=sha, actor="station").index
        inner = StoredObject(store=obj.store, key=obj.key, version_id=obj.version_id,
                             size=seal.sealed_size,
                             sha256=Sha256Hex(seal.sealed_sha256), lock_mode=obj.lock_mode,
                             retain_until=obj.retain_until)
        return index, body, inner

    def receipt_for(self, index: int, obj: StoredObject) -> ObjectReceipt:
        """The receipt a bureau answers for these stored bytes (sync checked it against them)."""
        sealed = (self.data / "objects" / "objects" / obj.key).read_bytes()
        return ObjectReceipt(station_id="pcs-a", index=index, size=len(sealed),
                             sha256=hashlib.sha256(sealed).hexdigest(), sm3=sm3_hex(sealed))

    def release(self, now: datetime) -> tuple[int, int, int]:
        result = release_copies(self.ledger.store, self.ledger.writer, self.local,
                                receipts=read_object_receipts(self.data), keep=KEEP,
                                clock=lambda: now)
        return result.released, result.waiting, result.refused

    def releases(self) -> list[CopyReleasedBody]:
        found = []
        for _index, data, _leaf in self.ledger.store.entry_rows(0, self.ledger.store.head().size):
            entry = decode_entry(data)
            if entry.kind is EntryKind.COPY_RELEASED:
                found.append(CopyReleasedBody.from_body(entry.body))
        return found

    def present(self, obj: StoredObject) -> bool:
        return (self.data / "objects" / "objects" / obj.key).is_file()


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Station]:
    s = Station(tmp_path / "pcs-a")
    yield s
    s.ledger.close()


def test_nothing_is_released_without_a_receipt(station: Station) -> None:
    _index, _body, obj = station.store_clip(b"clip without receipt " * 2000)
    assert station.release(RECEIVED + timedelta(days=3650)) == (0, 0, 0)
    assert station.present(obj) and station.releases() == []


def test_released_keep_days_after_the_receipt_and_ledgered_once(station: Station) -> None:
    index, body, obj = station.store_clip(b"clip with receipt " * 2000)
    kept_index, _b, kept = station.store_clip(b"clip still without receipt " * 2000)
    receipt = station.receipt_for(index, obj)
    add_object_receipt(station.data, receipt, at=RECEIVED)

    # within the keep period: kept
    assert station.release(RECEIVED + KEEP - timedelta(seconds=1)) == (0, 1, 0)
    assert station.present(obj) and station.releases() == []

    # keep days after the receipt: ledgered, then removed
    assert station.release(RECEIVED + KEEP) == (1, 0, 0)
    assert not station.present(obj) and station.present(kept)
    assert station.local.released(obj) is not None
    (released,) = station.releases()
    assert (released.index, released.sha256, released.size, released.sm3) == (
        index, body.sealed_sha256, body.sealed_size, receipt.sm3)
    assert (released.received_at, released.keep_days) == (RECEIVED, 30)
    with pytest.raises(NotFoundError, match="已释放"):
        station.local.verify(obj)

    # again: nothing new in the ledger
    assert station.release(RECEIVED + KEEP + timedelta(days=1)) == (0, 0, 0)
    assert len(station.releases()) == 1
    assert kept_index not in read_object_receipts(station.data)


@pytest.mark.parametrize("attack", ["other_sha256", "other_size", "other_entry"])
def test_a_receipt_for_other_bytes_releases_nothing(station: Station, attack: str) -> None:
    index, _body, obj = station.store_clip(b"clip with a wrong receipt " * 2000)
    index_2, _body_2, obj_2 = station.store_clip(b"another clip " * 2000)
    good = station.receipt_for(index, obj)
    wrong = {"other_sha256": ObjectReceipt("pcs-a", index, good.size,
                                           hashlib.sha256(b"other").hexdigest(), good.sm3),
             "other_size": ObjectReceipt("pcs-a", index, good.size + 1, good.sha256, good.sm3),
             # the first clip's receipt filed under the second clip's entry
             "other_entry": ObjectReceipt("pcs-a", index_2, good.size, good.sha256,
                                          good.sm3)}[attack]
    add_object_receipt(station.data, wrong, at=RECEIVED)
    assert station.release(RECEIVED + timedelta(days=3650)) == (0, 0, 1)
    assert station.present(obj) and station.present(obj_2) and station.releases() == []


def test_a_legal_hold_keeps_the_copy(station: Station) -> None:
    index, _body, obj = station.store_clip(b"clip on hold " * 2000)
    station.local.set_legal_hold(obj, True)
    add_object_receipt(station.data, station.receipt_for(index, obj), at=RECEIVED)
    assert station.release(RECEIVED + KEEP) == (0, 1, 0)
    assert station.present(obj) and station.releases() == []


def test_fixity_counts_a_released_copy_as_gone_by_design(tmp_path: Path) -> None:
    """The station's fixity audit after a release: the released original is neither re-hashed
    nor reported missing; an original deleted behind the pipeline's back still is."""
    from api.compose import open_jobs
    from jobs.runner import run_job
    from tests.integration.test_jobs_retention import FakeClock, make_clip

    data = tmp_path / "pcs-a"
    clock = FakeClock()
    runtime = open_jobs(Settings(data_dir=data, encryption="none"), clock=clock)
    ctx = runtime.context
    try:
        released, kept = (make_clip(ctx, tmp_path / "src", f"clip {i}".encode() * 999)
                          for i in range(2))
        original = ctx.catalogue.clip(released).original
        assert original is not None
        stored_index = next(r.index for r in ctx.ledger.find(released)
                            if decode_entry(r.data).kind is EntryKind.STORED)
        ctx.writer.append(CopyReleasedBody(
            index=stored_index, store=original.store, key=original.key,
            version_id=original.version_id, size=original.size, sha256=original.sha256,
            sm3="0" * 64, received_at=clock(), keep_days=0), subject=released,
            actor="station:retention")
        LocalWormStore(data / "objects", clock=clock).release(original, reason="test")
        outcome = run_job(ctx, "fixity", full=True)
        assert outcome.ok, outcome.findings
        assert "1/1 object(s) OK" in outcome.summary[0]
        gone = data / "objects" / "objects" / "originals" / kept[:2] / kept
        gone.unlink()
        outcome = run_job(ctx, "fixity", full=True)
        assert not outcome.ok
        assert {f.subject for f in outcome.findings} == {kept}
    finally:
        runtime.close()
