"""The media stage on docked originals: each clip takes its path, every derivative traces back
to its original through the ledger, unusable media is quarantined with ffprobe's reason, and
the originals stay bit-exact in storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.compose import Station
from devices.sim.cards import Media
from ingest.derivation import derive_pending
from ingest.media import MediaPolicy, find_ffmpeg
from integrity.entry import decode_entry
from tests.integration.test_station import Quiet, dock, fleet

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_every_original_takes_its_path_and_derivatives_trace_back(
        station: Station, tmp_path: Path, media: Media) -> None:
    (recorder,) = fleet(tmp_path, media, ("fat32",))
    assert dock(station, recorder).released
    ctx = station.context(Quiet())
    seen: list[tuple[str, str, int, int]] = []

    class Watch(Quiet):
        def media(self, sha256: str, action: str, *, done_ms: int, total_ms: int) -> None:
            seen.append((sha256, action, done_ms, total_ms))

    run = derive_pending(ctx, tools=find_ffmpeg(), policy=MediaPolicy(),
                         workdir=tmp_path / "work", progress=Watch())
    entries = [(r.index, decode_entry(r.data)) for r in station.ledger.store.entries()]
    acquired = {e.subject: e.body for _, e in entries if e.kind.value == "acquired"}
    names: dict[str, list[str]] = {}
    for _, e in entries:
        if e.kind.value == "acquired":  # one content may sit under several names
            names.setdefault(e.subject, []).append(str(e.body["name_on_device"]).split("/")[-1])
    derived = {e.subject: e.body for _, e in entries if e.kind.value == "derived"}
    actions = {name: body["plan"]["action"]  # type: ignore[index]
               for sha, body in derived.items() for name in names[sha]}
    assert actions["20261124_083000_LH00001_010203.MP4"] == "remux"      # H.264/AAC MP4
    assert actions["20261124_083500_LH00001_010203.AVI"] == "transcode"  # MJPEG/PCM AVI
    assert actions["20261124_084000_LH00001_010203.JPG"] == "keep"       # photo: thumbnail
    assert actions["20261124_084500_LH00001_010203.WAV"] == "audio"      # → AAC in M4A
    quarantined = {name: str(e.body["reason"]) for _, e in entries
                   if e.kind.value == "quarantined" for name in names[e.subject]}
    assert "truncated" in quarantined["20261124_085000_LH00001_010203_TRUNC.MP4"]
    assert quarantined["20261124_085500_LH00001_010203_BAD.MP4"]  # ffprobe's own words
    assert (run.derived, run.quarantined) == (len(derived), 2)
    for sha, body in derived.items():
        assert body["parent"] == sha and sha in acquired  # traces back to its original
        for item in body["derivatives"]:  # type: ignore[attr-defined]
            assert item["parent"] == sha and item["argv"][0] == "ffmpeg"
            assert str(item["key"]).startswith(f"derived/{sha[:2]}/{sha}/")
        assert str(body["ffmpeg_version"]).startswith("ffmpeg version")
        if body["plan"]["action"] == "remux":  # type: ignore[index]
            assert body["streamhash"]  # the remux was proven lossless
    # ffmpeg's -progress reached the station's progress display, moving forward per clip
    assert {a for _, a, _, _ in seen} >= {"remux", "transcode"}
    for sha in {s for s, _, _, _ in seen}:
        positions = [ms for s, _, ms, _ in seen if s == sha]
        assert positions == sorted(positions) and positions[-1] > 0
    # originals untouched: every stored original still re-hashes to its SHA-256
    for row in station.repo.all_files():
        assert row.object is not None
        station.blobs.verify(row.object, rehash=True)
    # a second pass finds nothing left to do
    again = derive_pending(ctx, tools=find_ffmpeg(), policy=MediaPolicy(),
                           workdir=tmp_path / "work")
    assert (again.derived, again.quarantined) == (0, 0)
