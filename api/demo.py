"""``liuhen demo``: the station end to end on the embedded defaults.

Simulated recorders (a pyusb backend with real-looking descriptors, GA/T 947.4 sessions,
drifting clocks, cards with tiny real clips) are docked once; every file is copied read-only
with SHA-256 on first read, ledgered, stored in the local write-once store and verified; then a
checkpoint is published and one clip's proof bundle is exported and verified offline.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from api.cli_station import print_results, station_run
from api.settings import Settings
from integrity.bundle import verify_bundle
from ledger.audit import run_audit
from ledger.files import write_atomic
from ledger.proofs import export_bundle


def liuhen_command() -> str:
    """How to run ``liuhen`` from this shell: the bare name when it is on PATH, else the full
    path of the console script beside this interpreter (``make demo`` does not activate
    .venv, so ``.venv/bin`` is usually not on PATH)."""
    here = Path(sys.executable).with_name("liuhen")
    on_path = shutil.which("liuhen")
    if on_path is not None and (not here.exists() or Path(on_path).samefile(here)):
        return "liuhen"
    if here.exists():
        return shlex.quote(str(here.absolute()))
    return "liuhen"


def run_demo(settings: Settings, *, recorders: int, out: Callable[[str], None]) -> None:
    out(f"liuhen demo in {settings.data_dir.resolve()}: docking {recorders} simulated recorders")
    station, run = station_run(settings, simulate=recorders, once=True, out=out)
    try:
        print_results(station, run, out)
        ledger = station.ledger
        head = ledger.store.head()
        latest = ledger.store.latest_checkpoint()
        out(f"ledger: {head.size} entries; checkpoint size "
            f"{latest.head.size if latest else 0} root "
            f"{latest.head.root.hex() if latest else '-'}")
        playable = {c.sha256 for c in ledger.catalogue.all_clips()
                    if c.playback is not None and not c.quarantine_reason}
        rows = [r for r in station.repo.all_files() if r.object is not None and r.size > 0
                and r.sha256 in playable]
        if not rows:
            out("no playable clip was stored; nothing to export")
            return
        row = rows[0]
        bundle = export_bundle(ledger.store, ledger.trust, str(row.acquired_index))
        path = settings.data_dir / "demo.bundle.json"
        write_atomic(path, bundle)
        report = verify_bundle(bundle, trust=ledger.trust, clip_sha256=row.sha256)
        out(f"bundle for {row.path} ({row.serial}): {path}, {len(bundle)} bytes; verified "
            f"offline: entry {report.index} under checkpoint {report.checkpoint.head.size}")
        audit = run_audit(ledger.store, ledger.trust,
                          external=[ledger.latest_note_path.read_bytes()])
        out(f"audit OK: {audit.head.size} entries, {audit.commits} commits, "
            f"{audit.checkpoints} checkpoints")
        out(f"next: {liuhen_command()} verify {row.sha256} --data-dir "
            f"{shlex.quote(str(settings.data_dir))}")
    finally:
        station.close()
