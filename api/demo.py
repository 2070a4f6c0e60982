"""``liuhen demo``: the station end to end on the embedded defaults.

Simulated recorders (a pyusb backend with real-looking descriptors, GA/T 947.4 sessions,
drifting clocks, cards with tiny real clips) are docked once; every file is copied read-only
with SHA-256 on first read, ledgered, stored in the local write-once store and verified; then a
checkpoint is published and one clip's proof bundle is exported and verified offline.
"""

from __future__ import annotations

from collections.abc import Callable

from api.cli_station import print_results, station_run
from api.ledger_ops import export_bundle, run_audit
from api.settings import Settings
from ingest.files import write_atomic
from integrity.bundle import verify_bundle


def run_demo(settings: Settings, *, recorders: int, out: Callable[[str], None]) -> None:
    out(f"liuhen demo in {settings.data_dir.resolve()}: docking {recorders} simulated recorders")
    station, results, errors = station_run(settings, simulate=recorders, once=True, out=out)
    try:
        print_results(results, out)
        for serial, why in errors.items():
            out(f"  {serial}: {why}")
        ledger = station.ledger
        head = ledger.store.head()
        latest = ledger.store.latest_checkpoint()
        out(f"ledger: {head.size} entries; checkpoint size "
            f"{latest.head.size if latest else 0} root "
            f"{latest.head.root.hex() if latest else '-'}")
        rows = [r for r in station.repo.all_files() if r.object is not None and r.size > 0]
        if not rows:
            out("no clip was stored; nothing to export")
            return
        row = rows[0]
        bundle = export_bundle(ledger, str(row.acquired_index))
        path = settings.data_dir / "demo.bundle.json"
        write_atomic(path, bundle)
        report = verify_bundle(bundle, trust=ledger.trust, clip_sha256=row.sha256)
        out(f"bundle for {row.path} ({row.serial}): {path}, {len(bundle)} bytes; verified "
            f"offline: entry {report.index} under checkpoint {report.checkpoint.head.size}")
        audit = run_audit(ledger, external=[ledger.latest_note_path.read_bytes()])
        out(f"audit OK: {audit.head.size} entries, {audit.commits} commits, "
            f"{audit.checkpoints} checkpoints")
        out(f"next: liuhen verify {row.sha256} --data-dir {settings.data_dir}")
    finally:
        station.close()
