"""``liuhen demo``: the ledger end to end on the embedded defaults (SQLite + files in DATA).

Until the station lands (issue 3), the demo records three synthetic clips as ``acquired``
entries; the station demo replaces the synthetic clips with a simulated recorder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from api.compose import open_ledger, write_atomic
from api.ledger_ops import export_bundle, run_audit
from api.settings import Settings
from evidence.records import EntryKind
from integrity.bundle import verify_bundle
from integrity.hashing import sha256_stream

CLIPS = ("DCIM/100MEDIA/20261124_085703_ZFY00042_000123.MP4",
         "DCIM/100MEDIA/20261124_091200_ZFY00042_000123.MP4",
         "DCIM/100MEDIA/执法_20261124_093015.WAV")


def run_demo(settings: Settings, *, out: Callable[[str], None]) -> None:
    ledger = open_ledger(settings)
    try:
        clips_dir = settings.data_dir / "demo-clips"
        out(f"liuhen demo in {settings.data_dir.resolve()} (database {settings.db_url()})")
        first_sha, first_path = "", clips_dir / "clip0.bin"
        for n, name in enumerate(CLIPS):
            # Synthetic clip bytes, deterministic per name (the station demo uses real media).
            data = b"".join(hashlib.sha256(f"{name}/{i}".encode()).digest() for i in range(4096))
            path = clips_dir / f"clip{n}.bin"
            write_atomic(path, data)
            with path.open("rb") as fh:
                sha, size = sha256_stream(fh)
            receipt = ledger.writer.record(EntryKind.ACQUIRED, sha, {
                "device": "ZFY00042", "officer": "000123", "name_on_device": name,
                "size": size, "clock_offset_ms": 1375}, actor="000123")
            out(f"  acquired {name} -> entry {receipt.index} sha256 {sha[:16]}…")
            if not first_sha:
                first_sha = sha
        _, anchored = ledger.publish(actor="demo")
        head = ledger.store.head()
        out(f"checkpoint: size {head.size}, root {head.root.hex()}")
        if anchored is None:
            out("  (no TSA configured: checkpoints are signed, not timestamped; set "
                "LIUHEN_TSA_URLS to anchor them)")
        else:
            for name in anchored.anchored:
                out(f"  timestamped by {name}")
            for name, why in anchored.failed.items():
                out(f"  TSA {name} failed: {why}; `liuhen checkpoint` retries it")
        bundle = export_bundle(ledger, first_sha)
        bundle_path = settings.data_dir / "demo.bundle.json"
        write_atomic(bundle_path, bundle)
        out(f"bundle for {first_sha[:16]}…: {bundle_path} ({len(bundle)} bytes)")
        with first_path.open("rb") as fh:
            clip_sha, _ = sha256_stream(fh)
        report = verify_bundle(bundle, trust=ledger.trust, clip_sha256=clip_sha)
        out(f"  verified offline: entry {report.index} under checkpoint "
            f"{report.checkpoint.head.size}, clip bytes match")
        result = run_audit(ledger, external=[ledger.latest_note_path.read_bytes()])
        out(f"audit OK: {result.head.size} entries, {result.commits} commits, "
            f"{result.checkpoints} checkpoints")
        out(f"next: liuhen verify-bundle {bundle_path} --clip {first_path} "
            f"--trust-root {settings.data_dir / 'keyring.json'}")
    finally:
        ledger.close()
