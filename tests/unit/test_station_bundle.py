"""A station clip's bundle carries both hops (docs/verification.md B8): the clip's entry in its
station's log, and that station checkpoint's ``station_checkpoint`` entry in the bureau's log.
Each hop altered fails at its step, and the failure names the hop."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable

import pytest

from evidence.errors import VerificationError
from evidence.ids import Origin, StationId
from evidence.records import Entry, EntryKind
from integrity.bundle import TlogProof, make_bundle, verify_bundle
from integrity.entry import encode_entry
from integrity.merkle import SM3, inclusion_proof, leaf_hash
from integrity.notes import sign_note
from integrity.stationproof import TwoHopProof
from integrity.trust import StationTrust, TrustRoot
from tests.support.keys import signer
from tests.support.memledger import T0, MemLedger, sample_entry

STATION_ORIGIN = Origin("liuhen.test-bureau/station/pcs-a")
S_STATION, S_LOG = signer("pcs-a-station", "station"), signer("pcs-a-log", "log")
B_STATION, B_LOG = signer("bureau-station", "station"), signer("bureau-log", "log")
STATION_INDEX, BUREAU_INDEX = 3, 2


def _bundle() -> tuple[bytes, TrustRoot]:
    station = MemLedger(station=S_STATION, log=S_LOG, origin=STATION_ORIGIN)
    station.append([sample_entry(i) for i in range(6)])
    station_cp = station.checkpoint()
    head = station.head()
    bureau = MemLedger(station=B_STATION, log=B_LOG)
    bureau_entry = encode_entry(Entry(
        kind=EntryKind.STATION_CHECKPOINT, subject="pcs-a", station=StationId("bureau"),
        actor="station:pcs-a", at=T0, prev_checkpoint=None,
        body={"origin": STATION_ORIGIN, "size": head.size, "root": head.root.hex(),
              "note_sha256": hashlib.sha256(station_cp.note).hexdigest()}))
    bureau.append([sample_entry(100), sample_entry(101), bureau_entry, sample_entry(102)])
    bureau_cp = bureau.checkpoint()
    bureau_path = tuple(inclusion_proof([r.leaf_hash for r in bureau.rows], BUREAU_INDEX))
    hop = TwoHopProof(
        station_id="pcs-a", index=STATION_INDEX, entry=station.rows[STATION_INDEX].data,
        station_checkpoint=station_cp.note,
        station_proof=tuple(inclusion_proof([r.leaf_hash for r in station.rows],
                                            STATION_INDEX)),
        bureau_index=BUREAU_INDEX, bureau_entry=bureau_entry, bureau_checkpoint=bureau_cp.note,
        bureau_proof=bureau_path)
    trust = TrustRoot(origin=bureau.origin, keys=(B_STATION.public, B_LOG.public),
                      stations=(StationTrust("pcs-a", STATION_ORIGIN,
                                             (S_STATION.public, S_LOG.public)),))
    sm3_path = inclusion_proof([leaf_hash(r.data, tree_hash=SM3) for r in bureau.rows],
                               BUREAU_INDEX, tree_hash=SM3)
    bundle = make_bundle(entry=bureau_entry, proof=TlogProof(BUREAU_INDEX, bureau_path,
                                                             bureau_cp.note),
                         timestamps=[], trust=trust, sm3_hashes=sm3_path, station=hop)
    return bundle, trust


def test_both_hops_verify_and_the_clip_is_the_station_entrys() -> None:
    bundle, trust = _bundle()
    report = verify_bundle(bundle, trust=trust, clip_sha256=f"{STATION_INDEX:064x}")
    assert report.station is not None
    assert (report.station.station_id, report.station.index, report.station.station_size) == (
        "pcs-a", STATION_INDEX, 6)
    assert report.index == BUREAU_INDEX and report.entry.kind is EntryKind.STATION_CHECKPOINT
    # the embedded trust root carries the station's keys too
    assert verify_bundle(bundle).station is not None
    assert TrustRoot.from_dict(trust.to_dict()) == trust


def _station(bundle: bytes, **changes: object) -> bytes:
    value = json.loads(bundle)
    value["station"].update(changes)
    return json.dumps(value).encode()


def _b64_flip(text: str, at: int = 40) -> str:
    data = bytearray(base64.b64decode(text))
    data[at] ^= 1
    return base64.b64encode(bytes(data)).decode()


def _station_entry_altered(bundle: bytes) -> bytes:
    return _station(bundle, entry=_b64_flip(json.loads(bundle)["station"]["entry"]))


def _station_path_altered(bundle: bytes) -> bytes:
    path = json.loads(bundle)["station"]["station_proof"]
    return _station(bundle, station_proof=[f"{int(path[0][:2], 16) ^ 1:02x}{path[0][2:]}",
                                           *path[1:]])


def _station_checkpoint_resigned(bundle: bytes) -> bytes:
    """The station checkpoint signed by a key the trust root does not list for pcs-a."""
    note = json.loads(bundle)["station"]["station_checkpoint"]
    body = note.split("\n\n")[0] + "\n"
    forged = sign_note(body.encode(), [signer("pcs-a-impostor", "log")])
    return _station(bundle, station_checkpoint=forged.decode())


def _station_index_moved(bundle: bytes) -> bytes:
    return _station(bundle, index=STATION_INDEX + 1)


def _other_station(bundle: bytes) -> bytes:
    return _station(bundle, station_id="pcs-b")


def _bureau_entry_in_station_part_altered(bundle: bytes) -> bytes:
    return _station(bundle, bureau_entry=_b64_flip(json.loads(bundle)["station"]
                                                   ["bureau_entry"]))


def _bureau_entry_altered(bundle: bytes) -> bytes:
    """Both copies of the bureau's entry changed alike: the bureau hop's inclusion fails."""
    value = json.loads(bundle)
    flipped = _b64_flip(value["entry"], at=60)
    value["entry"] = value["station"]["bureau_entry"] = flipped
    return json.dumps(value).encode()


@pytest.mark.parametrize(("attack", "step", "hop"), [
    (_station_entry_altered, "B8-H2", "站点一跳"),
    (_station_path_altered, "B8-H2", "站点一跳"),
    (_station_index_moved, "B8-H2", "站点一跳"),
    (_station_checkpoint_resigned, "B8-H1", "站点一跳"),
    (_other_station, "B8-H1", "pcs-b"),
    (_bureau_entry_in_station_part_altered, "B8-H3", "局端一跳"),
    (_bureau_entry_altered, "B4", "局端一跳"),
])
def test_each_hop_altered_fails_at_its_step(attack: Callable[[bytes], bytes], step: str,
                                            hop: str) -> None:
    bundle, trust = _bundle()
    with pytest.raises(VerificationError) as failed:
        verify_bundle(attack(bundle), trust=trust)
    assert failed.value.step == step
    assert hop in failed.value.reason


def test_the_clip_in_hand_must_be_the_station_entrys() -> None:
    bundle, trust = _bundle()
    with pytest.raises(VerificationError) as failed:
        verify_bundle(bundle, trust=trust, clip_sha256=f"{BUREAU_INDEX:064x}")
    assert failed.value.step == "B7" and failed.value.index == STATION_INDEX
