"""Every test vector printed in docs/ledger-format.md is recomputed here, byte for byte."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evidence.ids import Origin, StationId
from evidence.records import Entry, EntryKind, TreeHead
from integrity.entry import encode_entry
from integrity.merkle import leaf_hash, root
from integrity.notes import commit_text, sign_checkpoint, sign_note, verify_note, vkey
from tests.support.keys import signer, sm2_signer

DOC = Path(__file__).resolve().parents[2] / "docs" / "ledger-format.md"
ORIGIN = Origin("liuhen.example-bureau/ledger/v1")
SUBJECT = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def _doc_vectors() -> dict[str, bytes]:
    found = re.findall(r"<!-- vector:(\w+) -->\n```\n(.*?)```", DOC.read_text(), re.S)
    return {name: body.encode() for name, body in found}


def _computed() -> dict[str, bytes]:
    station, log = signer("station-01", "station"), signer(ORIGIN, "log")
    e0 = encode_entry(Entry(
        kind=EntryKind.ACQUIRED, subject=SUBJECT, station=StationId("station-01"), actor="000123",
        at=datetime(2026, 11, 24, 8, 57, 3, 123456, tzinfo=UTC), prev_checkpoint=None,
        body={"device": "ZFY00042", "officer": "000123", "size": 4, "clock_offset_ms": -1375,
              "name_on_device": "DCIM/100MEDIA/执法_0001.MP4"}))
    e1 = encode_entry(Entry(
        kind=EntryKind.STORED, subject=SUBJECT, station=StationId("station-01"),
        actor="station-01", at=datetime(2026, 11, 24, 8, 57, 4, tzinfo=UTC),
        prev_checkpoint=TreeHead(1, leaf_hash(e0)), body={"version_id": "v1", "store": "local"}))
    head = TreeHead(2, root([leaf_hash(e0), leaf_hash(e1)]))
    return {
        "entry0": e0 + b"\n",
        "leaf0": leaf_hash(e0).hex().encode() + b"\n",
        "entry1": e1 + b"\n",
        "leaf1": leaf_hash(e1).hex().encode() + b"\n",
        "root2": head.root.hex().encode() + b"\n",
        "vkeys": f"{vkey(station.public)}\n{vkey(log.public)}\n".encode(),
        "vkeys_sm2": (f"{vkey(sm2_signer('station-01', 'station').public)}\n"
                      f"{vkey(sm2_signer(ORIGIN, 'log').public)}\n").encode(),
        "commit": sign_note(commit_text(ORIGIN, 0, head), [station]),
        "checkpoint": sign_checkpoint(ORIGIN, head, [log]).note,
    }


COMPUTED = _computed()


@pytest.mark.parametrize("name", sorted(COMPUTED))
def test_vector_in_doc_matches_code(name: str) -> None:
    assert _doc_vectors()[name] == COMPUTED[name]


def test_doc_vectors_verify() -> None:
    station, log = signer("station-01", "station"), signer(ORIGIN, "log")
    verify_note(_doc_vectors()["commit"], [station.public], size=2)
    verify_note(_doc_vectors()["checkpoint"], [log.public], size=2)
