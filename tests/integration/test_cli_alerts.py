"""``liuhen alerts`` as a separate process on a data directory made by ``liuhen init``: the
alerts of a period printed, written as CSV for Excel, and a bad time refused (exit 3)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from api.compose import open_ledger
from api.settings import Settings
from evidence.bodies import AccessedBody
from evidence.ids import StationId
from ledger.appending import LedgerWriter

LIUHEN = str(Path(sys.executable).with_name("liuhen"))
AT = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)


def run(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LIUHEN, "alerts", *args, "--data-dir", str(data)], text=True,
                          capture_output=True, timeout=60, check=False)


def test_alerts_of_a_period_printed_and_written_as_csv(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = subprocess.run([LIUHEN, "init", "--data-dir", str(data)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    ledger = open_ledger(Settings(data_dir=data))
    try:
        writer = LedgerWriter(appender=ledger.committer, checkpoints=ledger.store,
                              station=StationId("station-local"), clock=lambda: AT)
        index = writer.append(AccessedBody(action="download", variant="original",
                                           purpose="移送检察院", role="leader", case=None),
                              subject="cd" * 32, actor="000777").index
    finally:
        ledger.close()
    out = tmp_path / "alerts.csv"
    shown = run(data, "--since", "2026-12-01", "--until", "2026-12-03", "--csv", str(out))
    assert shown.returncode == 0, shown.stderr
    assert "下载原始文件\t000777" in shown.stdout
    assert f"original_download:{index}" in shown.stdout
    assert "共 1 条预警，1 条未处理" in shown.stdout
    text = out.read_bytes()
    assert text.startswith(b"\xef\xbb\xbf")
    assert "移送检察院" in text.decode("utf-8-sig")
    # 2026-12-03 12:00 in Beijing: inside --until 2026-12-03 (the whole day), outside
    # --until 2026-12-02 and outside a period ending at 12:00 sharp
    none = run(data, "--since", "2026-12-01", "--until", "2026-12-02")
    assert none.returncode == 0 and "共 0 条预警" in none.stdout
    none = run(data, "--since", "2026-12-01", "--until", "2026-12-03T12:00")
    assert none.returncode == 0 and "共 0 条预警" in none.stdout
    bad = run(data, "--since", "yesterday")
    assert bad.returncode == 3 and "格式不对" in bad.stderr
