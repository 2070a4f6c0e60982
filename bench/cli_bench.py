"""How long the ``liuhen`` command takes to start (issue 11 goals: ``liuhen --help`` ≤ 0.5 s,
``liuhen verify SHA`` ≤ 1.5 s), each a median of fresh processes beside ``python -c pass`` on the
same interpreter: the floor no command can go under on this machine.

``verify`` runs against a one-recorder demo ledger made first (setup, not measured): it opens the
ledger, re-hashes one stored original and prints its entries, so it is a whole command, not only
its imports.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import report

RUNS = 7
LIUHEN = ["-c", "from api.cli import main; main()"]


def _median_process_s(argv: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run([sys.executable, *argv], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run() -> None:
    floor = _median_process_s(["-c", "pass"])
    report("CLI start: liuhen --help (median of fresh processes)",
           _median_process_s([*LIUHEN, "--help"]), "s", peer="python -c pass", peer_value=floor,
           goal="≤ 0.5 s")
    with tempfile.TemporaryDirectory(prefix="liuhen-cli-bench-") as tmp:
        data = str(Path(tmp) / "data")
        demo = subprocess.run([sys.executable, *LIUHEN, "demo", "--recorders", "1",
                               "--data-dir", data], check=True, capture_output=True, text=True)
        found = re.search(r"verify ([0-9a-f]{64})", demo.stdout)
        if found is None:
            raise RuntimeError(f"the demo named no clip to verify:\n{demo.stdout}")
        report("CLI start: liuhen verify SHA (open ledger, re-hash one clip)",
               _median_process_s([*LIUHEN, "verify", found.group(1), "--data-dir", data]), "s",
               peer="python -c pass", peer_value=floor, goal="≤ 1.5 s")


if __name__ == "__main__":
    run()
