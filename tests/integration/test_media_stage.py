"""The media stage on docked originals: each clip takes its path, every derivative traces back
to its original through the ledger, unusable media is quarantined with ffprobe's reason, and
the originals stay bit-exact in storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import imageio_ffmpeg  # type: ignore[import-untyped]  # imageio-ffmpeg ships no types
import pytest
from sqlalchemy import select

from api.compose import Station
from devices.sim.cards import Media
from evidence.records import Entry
from ingest.derivation import derive_pending
from ingest.media import FfmpegTools, MediaPolicy, ffmpeg_version, find_ffmpeg
from integrity.entry import decode_entry
from storage.ingest_tables import IngestFileRow
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
    actions = {name: body["plan"]["action"]  # type: ignore[index]  # JSON: body is dict[str, object]
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
        for item in body["derivatives"]:  # type: ignore[attr-defined]  # JSON: a list
            assert item["parent"] == sha and item["argv"][0] == "ffmpeg"
            assert str(item["key"]).startswith(f"derived/{sha[:2]}/{sha}/")
        assert str(body["ffmpeg_version"]).startswith("ffmpeg version")
        if body["plan"]["action"] == "remux":  # type: ignore[index]  # JSON: a dict
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
    # the ingest rows say what happened, in a line: the quarantine reason or the outcome
    notes = media_notes(station, names)
    assert notes["20261124_085000_LH00001_010203_TRUNC.MP4"] == \
        ("quarantined", "probe: " + quarantined["20261124_085000_LH00001_010203_TRUNC.MP4"])
    assert notes["20261124_083000_LH00001_010203.MP4"][0] == "derived"
    assert notes["20261124_083000_LH00001_010203.MP4"][1].startswith("remux (h264 yuv420p, ")
    assert "→ playback; 5 thumbnails" in notes["20261124_083000_LH00001_010203.MP4"][1]
    assert notes["20261124_084000_LH00001_010203.JPG"][1].startswith("keep (still picture")
    assert all(note for _, note in notes.values())
    # a second pass finds nothing left to do
    again = derive_pending(ctx, tools=find_ffmpeg(), policy=MediaPolicy(),
                           workdir=tmp_path / "work")
    assert (again.derived, again.quarantined) == (0, 0)


def media_notes(station: Station, names: dict[str, list[str]]) -> dict[str, tuple[str, str]]:
    """(media_state, media_note) of each ingest row, by its name on the device."""
    table = IngestFileRow.__table__
    with station.ledger.store.engine.connect() as conn:
        rows = conn.execute(select(table.c.sha256, table.c.media_state, table.c.media_note))
        return {name: (state, note) for sha, state, note in rows if sha in names
                for name in names[sha]}


def ledger_names(station: Station) -> tuple[list[Entry], dict[str, list[str]]]:
    """The ledger's entries, and each content's names on the device."""
    entries = [decode_entry(r.data) for r in station.ledger.store.entries()]
    names: dict[str, list[str]] = {}
    for e in entries:
        if e.kind.value == "acquired":
            names.setdefault(e.subject, []).append(str(e.body["name_on_device"]).split("/")[-1])
    return entries, names


def test_proxies_without_ffprobe_from_the_wheel_alone(
        station: Station, tmp_path: Path, media: Media) -> None:
    """A station with no system ffmpeg: the imageio-ffmpeg wheel's binary probes (no ffprobe),
    copies and encodes; with the proxy switched on, each video gets a playback copy and a
    ≤ 720p proxy in the same ``derived`` entry, told apart by role."""
    (recorder,) = fleet(tmp_path, media, ("fat32",))
    assert dock(station, recorder).released
    tools = find_ffmpeg(search=[tmp_path / "no-system-ffmpeg"])
    assert tools == FfmpegTools(imageio_ffmpeg.get_ffmpeg_exe(), None)
    assert "imageio_ffmpeg" in tools.ffmpeg
    run = derive_pending(station.context(Quiet()), tools=tools,
                         policy=MediaPolicy(proxy=True), workdir=tmp_path / "work")
    entries, names = ledger_names(station)
    derived = {e.subject: cast(dict[str, Any], e.body) for e in entries
               if e.kind.value == "derived"}
    by_name = {name: body for sha, body in derived.items() for name in names[sha]}
    roles = {name: [d["role"] for d in body["derivatives"]] for name, body in by_name.items()}
    assert roles["20261124_083000_LH00001_010203.MP4"] == ["playback", "proxy"]
    assert roles["20261124_083500_LH00001_010203.AVI"] == ["playback", "proxy"]
    assert roles["20261124_084500_LH00001_010203.WAV"] == ["playback"]  # audio: no proxy
    assert roles["20261124_084000_LH00001_010203.JPG"] == []  # photo: kept as is
    for sha, body in derived.items():
        assert body["probe"]["prober"] == "ffmpeg"
        assert body["ffmpeg_version"] == ffmpeg_version(tools.ffmpeg)
        keys = [d["key"] for d in body["derivatives"]]
        assert len(set(keys)) == len(keys)  # stored side by side, write-once
        for item in body["derivatives"]:
            assert item["parent"] == sha
            assert item["name"] == f"{sha}.{item['role']}{Path(item['name']).suffix}"
    assert run.quarantined == 2  # truncated and corrupt, found without ffprobe too
    notes = media_notes(station, names)
    assert notes["20261124_085000_LH00001_010203_TRUNC.MP4"][1].startswith("probe: truncated: ")
    assert "→ playback, proxy; " in notes["20261124_083000_LH00001_010203.MP4"][1]
    assert notes["20261124_083000_LH00001_010203.MP4"][1].endswith(
        "; probed with ffmpeg (no ffprobe)")
