"""移送 package build (docs/export.md) beside ``cp -r`` + ``sha256sum`` of the same item bytes:
the package re-hashes every object (SHA-256 and SM3) while copying, writes the 清单 and the
custody slice, appends an ``exported`` entry and publishes a checkpoint."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import tempfile
from pathlib import Path

from api.compose import exporter, open_station
from api.settings import Settings
from bench.common import median_time, report
from cases.export import ExportRequest
from evidence.records import EntryKind
from integrity.entry import decode_entry


def run() -> None:
    from typer.testing import CliRunner

    from api.cli import app

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = root / "d"
        done = CliRunner().invoke(app, ["demo", "--data-dir", str(data), "--recorders", "2"])
        assert done.exit_code == 0, done.output
        station = open_station(Settings(data_dir=data))
        try:
            items = tuple(dict.fromkeys(decode_entry(raw).subject
                          for _, raw, _ in station.ledger.store.entry_rows()
                          if decode_entry(raw).kind is EntryKind.ACQUIRED))
            request = ExportRequest(items=items, case="", variant="original", recipient="bench",
                                    purpose="bench", actor="bench")
            writer = exporter(station)
            counter = itertools.count()
            first = root / "pkg-first"
            writer.export(request, first)
            size = sum(p.stat().st_size for p in (first / "items").iterdir())
            build = median_time(lambda: writer.export(request, root / f"pkg{next(counter)}"))
        finally:
            station.close()

        def peer() -> None:
            target = root / f"cp{next(counter)}"
            subprocess.run(["cp", "-r", str(first / "items"), str(target)], check=True)
            files = sorted(str(p) for p in target.iterdir())
            subprocess.run(["sha256sum", *files], check=True, capture_output=True)
            shutil.rmtree(target)

        copy = median_time(peer)
    mb = size / 1e6
    # Demo clips are small: the fixed cost (an entry, a signed checkpoint, the proofs) dominates.
    report(f"export package, {len(items)} clips (ms per package)", build * 1e3, "ms",
           peer="cp -r + sha256sum of the same files", peer_value=copy * 1e3)
    report(f"export package, {len(items)} clips, {mb:.1f} MB (MB/s)", mb / build, "MB/s",
           peer="cp -r + sha256sum of the same files", peer_value=mb / copy)
