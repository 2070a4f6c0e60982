"""A station's link to its bureau: ``<data_dir>/bureau.json`` (written by ``liuhen stations
join``), holding the bureau's URL and origin, the station id and the station log's origin
(``<bureau host>/station/<id>``, ledger/stations.py). When it exists it rules the data dir's
origin and station id over LIUHEN_ORIGIN/LIUHEN_STATION_ID (docs/station.md §Joining a bureau).
Standard library and evidence/ only: ``api/cli/_common.py`` reads it for every command."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from evidence.records import ObjectReceipt, ReceivedCopy

LINK_FILE = "bureau.json"


@dataclass(frozen=True, slots=True)
class BureauLink:
    bureau_url: str
    bureau_origin: str
    station_id: str
    origin: str
    token: str | None = None
    """The station's API token from ``liuhen stations approve`` (the file is 0600)."""


def read_link(data_dir: Path) -> BureauLink | None:
    path = data_dir / LINK_FILE
    if not path.is_file():
        return None
    value = json.loads(path.read_text(encoding="utf-8"))
    return BureauLink(bureau_url=str(value["bureau_url"]),
                      bureau_origin=str(value["bureau_origin"]),
                      station_id=str(value["station_id"]), origin=str(value["origin"]),
                      token=value.get("token"))


def write_link(data_dir: Path, link: BureauLink) -> None:
    path = data_dir / LINK_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.touch(mode=0o600)
    tmp.chmod(0o600)
    tmp.write_text(json.dumps(asdict(link), indent=2, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    os.replace(tmp, path)


def read_acknowledged(data_dir: Path) -> int:
    """The size of this station's log the bureau's last receipt acknowledged (0 before one):
    entries below it are held and verified by the bureau, so their local copies may be
    released by the station's retention policy."""
    path = data_dir / "sync" / "acknowledged"
    return int(path.read_text().strip()) if path.is_file() else 0


def write_acknowledged(data_dir: Path, size: int) -> None:
    folder = data_dir / "sync"
    folder.mkdir(mode=0o700, exist_ok=True)
    tmp = folder / "acknowledged.tmp"
    tmp.write_text(f"{size}\n")
    os.replace(tmp, folder / "acknowledged")


def read_object_receipts(data_dir: Path) -> dict[int, ReceivedCopy]:
    """The bureau's receipts for this station's objects, by ``stored`` entry index (one line
    each: index, size, SHA-256, SM3, when it arrived). Lines that do not read as one (a line
    cut by a crash) are skipped: that object is simply uploaded again (idempotent)."""
    path = data_dir / "sync" / "objects"
    if not path.is_file():
        return {}
    found: dict[int, ReceivedCopy] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        try:
            index, size, sha256, sm3, at = parts
            received = ReceivedCopy(
                receipt=ObjectReceipt(station_id="", index=int(index), size=int(size),
                                      sha256=sha256, sm3=sm3),
                received_at=datetime.fromisoformat(at))
        except ValueError:
            continue
        if received.received_at.tzinfo is not None:
            found.setdefault(received.receipt.index, received)
    return found


def add_object_receipt(data_dir: Path, receipt: ObjectReceipt, *, at: datetime) -> None:
    folder = data_dir / "sync"
    folder.mkdir(mode=0o700, exist_ok=True)
    with (folder / "objects").open("a") as fh:
        fh.write(f"{receipt.index} {receipt.size} {receipt.sha256} {receipt.sm3} "
                 f"{at.isoformat()}\n")
        fh.flush()
        os.fsync(fh.fileno())
