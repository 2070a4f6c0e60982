"""The annual statistics report (行政执法统计年报) from a real catalogue: CSV figures per officer,
unit, month and 执法环节, completeness of required steps, and a PNG chart."""

from __future__ import annotations

import csv
import io
import warnings
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.compose import open_jobs
from api.settings import Settings
from jobs.annual import CJK_FONT_FILES, CJK_FONTS, COLUMNS, CST, compute, to_png
from tests.integration.test_jobs_retention import FakeClock, link, make_clip

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def rows(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    text = path.read_bytes().decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return {(r["section"], r["key"]): r for r in reader}


def test_annual_report_csv_and_chart(tmp_path: Path, ledger_url: str) -> None:
    data = tmp_path / "data"
    runtime = open_jobs(Settings(data_dir=data, database_url=ledger_url), clock=FakeClock())
    ctx = runtime.context
    src = tmp_path / "src"
    mar, jul = datetime(2025, 3, 5, 9, tzinfo=CST), datetime(2025, 7, 1, 14, tzinfo=CST)
    try:
        a = make_clip(ctx, src, b"a", officer="000101", unit="U1", captured_at=mar,
                      duration_ms=30 * 60_000)
        b = make_clip(ctx, src, b"b", officer="000101", unit="U1", captured_at=jul,
                      duration_ms=90 * 60_000)
        c = make_clip(ctx, src, b"c", officer="000202", unit="U2", captured_at=jul)
        # New Year's Eve 23:30 in Beijing is still 2024 in China: outside the report.
        make_clip(ctx, src, b"d", officer="000202", unit="U2",
                  captured_at=datetime(2024, 12, 31, 23, 30, tzinfo=CST), duration_ms=60_000)
        # Two required steps (查封扣押, 强制拆除), one recorded; a should step (现场检查), recorded.
        link(ctx, a, "C-1", "s1", code="chafeng", officer="000101", unit="U1", started_at=mar)
        link(ctx, b, "C-1", "s2", code="xianchang", officer="000101", unit="U1",
             started_at=jul)
        link(ctx, c, "C-2", "s1", code="chaichu", officer="000202", unit="U2", started_at=jul)
        link(ctx, c, "C-2", "s1", unlink=True)
    finally:
        runtime.close()
    result = CliRunner().invoke(app, ["jobs", "run", "report", "--once", "--year", "2025",
                                      "--data-dir", str(data)],
                                env={"LIUHEN_DATABASE_URL": ledger_url})
    assert result.exit_code == 0, result.output
    assert "report 2025: 3 clip(s), 2.00 h" in result.output
    assert "required steps recorded 1/2 (50.0%)" in result.output
    table = rows(data / "reports" / "annual-2025.csv")
    total = table[("summary", "total")]
    assert (total["clips"], total["hours"], total["steps"], total["recorded_steps"],
            total["completeness"]) == ("3", "2.00", "2", "1", "0.5000")
    assert table[("summary", "should")]["completeness"] == "1.0000"
    assert table[("summary", "clips_without_duration")]["clips"] == "1"
    assert table[("month", "2025-03")]["clips"] == "1"
    assert table[("month", "2025-07")]["hours"] == "1.50"
    assert ("month", "2024-12") not in table
    assert (table[("officer", "000101")]["clips"], table[("officer", "000101")]["hours"],
            table[("officer", "000101")]["completeness"]) == ("2", "2.00", "1.0000")
    assert table[("officer", "000202")]["completeness"] == "0.0000"
    assert table[("unit", "U2")]["recorded_steps"] == "0"
    chafeng = table[("step", "chafeng")]
    assert (chafeng["label"], chafeng["rule"], chafeng["completeness"]) == \
        ("查封扣押", "required", "1.0000")
    assert table[("step", "chaichu")]["completeness"] == "0.0000"
    png = (data / "reports" / "annual-2025.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000


def test_the_chart_draws_chinese_when_the_font_cache_predates_the_cjk_font(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """matplotlib's font cache built before fonts-wqy-microhei was installed knows no CJK
    family: asked by name, every Chinese label fell back to DejaVu Sans and rendered as boxes.
    The font is picked by file, so every glyph is found (no "missing from font" warning)."""
    from matplotlib import font_manager

    assert CJK_FONT_FILES[0].is_file(), "make servers installs fonts-wqy-microhei"
    files = {str(p) for p in CJK_FONT_FILES}
    stale = [f for f in font_manager.fontManager.ttflist
             if f.fname not in files and f.name not in CJK_FONTS]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)
    report = compute(2025, clips=[], cases=[], kinds=[])
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        png = to_png(report)
    assert png.startswith(b"\x89PNG")
    missing = [str(w.message) for w in seen if "missing from font" in str(w.message)]
    assert not missing, missing[:3]
