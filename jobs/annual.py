"""The annual statistics report (行政执法统计年报) of recordings: CSV and a chart (PNG).

For calendar year Y in China Standard Time (UTC+8, no DST): clips captured in Y and their hours,
per month, officer (警号), unit and 执法环节; and recording completeness: of the case steps of Y
(a step's start, else its case's opening, falls in Y) whose rule is ``required``, the share that
``evidence.completeness`` does not list as missing a recording (a currently linked clip whose
original is stored and that is neither quarantined nor disposed). Steps with such a recording
but with uncovered stretches in their time window are counted apart (``steps_with_gaps``). The
same figures are given for ``should`` steps, per step code, per unit (the case's unit) and per
officer (the step's officer). Unknown step codes count as required (fail closed, as there).

The CSV is UTF-8 with a BOM (so spreadsheet programs show the Chinese labels) with one header
``section,key,label,rule,clips,hours,steps,recorded_steps,completeness,steps_with_gaps``;
sections ``summary``, ``month``, ``officer``, ``unit``, ``step``. Hours have two decimals, rates
four; a rate with no steps is empty. The chart is drawn with matplotlib's Agg canvas (no display,
no pyplot state).
"""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from evidence.completeness import LinkedRecording, completeness
from evidence.records import Case, CaseStep, Clip
from evidence.steps import RecordingRule, StepKind
from jobs.context import JobContext
from jobs.ports import JobOutcome
from ledger.files import write_atomic

log = logging.getLogger("liuhen.jobs.report")

CST = timezone(timedelta(hours=8), "CST")
COLUMNS = ("section", "key", "label", "rule", "clips", "hours", "steps", "recorded_steps",
           "completeness", "steps_with_gaps")
CJK_FONT_FILES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),  # fonts-wqy-microhei (make servers)
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),  # fonts-noto-cjk
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),  # fonts-wqy-zenhei
)
"""CJK fonts picked by file: matplotlib's font cache (~/.cache/matplotlib) may have been built
before the font was installed, and then a family asked for by name falls back to DejaVu Sans,
which has no Chinese glyphs: every label renders as boxes."""
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "SimHei")
"""Families also used when the font cache already knows them (a bureau's own fonts)."""
CASE_PAGE = 200
TOP_N = 12  # bars per ranking chart: beyond that a chart is unreadable


@dataclass
class Tally:
    clips: int = 0
    ms: int = 0
    steps: int = 0
    recorded: int = 0
    gaps: int = 0

    @property
    def hours(self) -> float:
        return self.ms / 3_600_000

    def rate(self) -> float | None:
        return self.recorded / self.steps if self.steps else None


@dataclass
class AnnualReport:
    year: int
    total: Tally = field(default_factory=Tally)
    should: Tally = field(default_factory=Tally)
    without_duration: int = 0
    months: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    officers: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    units: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    steps: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    kinds: dict[str, StepKind] = field(default_factory=dict)


def year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=CST), datetime(year + 1, 1, 1, tzinfo=CST)


def _in_year(step: CaseStep, case: Case, start: datetime, end: datetime) -> bool:
    when = step.started_at or case.opened_at
    return when is not None and start <= when < end


def _recording(clip: Clip, step_id: str) -> LinkedRecording:
    return LinkedRecording(sha256=clip.sha256, step_id=step_id, captured_at=clip.captured_at,
                           duration_ms=clip.duration_ms, stored=clip.original is not None,
                           quarantined=clip.quarantine_reason is not None
                           or clip.media_state == "quarantined",
                           disposed=clip.disposed_index is not None)


def compute(year: int, *, clips: Iterable[Clip], cases: Iterable[tuple[Case, dict[str, set[str]]]],
            kinds: Iterable[StepKind]) -> AnnualReport:
    """The figures, from plain records: ``cases`` pairs each case with its current links
    (step id → clip SHA-256s). Pure: the job gathers the records, this counts."""
    start, end = year_bounds(year)
    report = AnnualReport(year=year, kinds={k.code: k for k in kinds})
    by_sha: dict[str, Clip] = {}
    for clip in clips:
        by_sha[clip.sha256] = clip
        if not start <= clip.captured_at < end:
            continue
        ms = clip.duration_ms or 0
        report.without_duration += clip.duration_ms is None
        for tally in (report.total, report.months[clip.captured_at.astimezone(CST)
                                                  .strftime("%Y-%m")],
                      report.officers[clip.officer], report.units[clip.unit_no or "-"]):
            tally.clips += 1
            tally.ms += ms
    rules = {code: kind.rule for code, kind in report.kinds.items()}
    for case, links in cases:
        steps = [step for step in case.steps if _in_year(step, case, start, end)]
        if not steps:
            continue
        recordings = [_recording(by_sha[sha], step_id) for step_id, shas in links.items()
                      for sha in sorted(shas) if sha in by_sha]
        verdict = completeness(case, rules=rules, recordings=recordings)
        missing = {m.step_id for m in (*verdict.missing_required, *verdict.missing_should)}
        gapped = {g.step_id for g in verdict.gaps}
        for step in steps:
            rule = rules.get(step.code, RecordingRule.REQUIRED)
            linked = [r for r in recordings if r.step_id == step.step_id]
            recorded = (step.step_id not in missing if rule is not RecordingRule.OPTIONAL
                        else any(r.counts for r in linked))
            gap = recorded and step.step_id in gapped
            per_step = report.steps[step.code]
            per_step.clips += len(linked)
            per_step.ms += sum(r.duration_ms or 0 for r in linked)
            tallies = [per_step]
            if rule is RecordingRule.REQUIRED:
                tallies += [report.total, report.units[case.unit_no or "-"],
                            *([report.officers[step.officer]] if step.officer else [])]
            elif rule is RecordingRule.SHOULD:
                tallies.append(report.should)
            for tally in tallies:
                tally.steps += 1
                tally.recorded += recorded
                tally.gaps += gap
    return report


def _row(section: str, key: str, label: str, rule: str, t: Tally) -> list[str]:
    rate = t.rate()
    return [section, key, label, rule, str(t.clips), f"{t.hours:.2f}", str(t.steps),
            str(t.recorded), "" if rate is None else f"{rate:.4f}", str(t.gaps)]


def to_csv(report: AnnualReport) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerow(_row("summary", "total", f"{report.year} 年合计（必须录制环节）", "required",
                         report.total))
    writer.writerow(_row("summary", "should", "应当录制环节", "should", report.should))
    writer.writerow(["summary", "clips_without_duration", "无时长（未转码或隔离）", "",
                     str(report.without_duration), "", "", "", "", ""])
    for month in sorted(report.months):
        writer.writerow(_row("month", month, month, "", report.months[month]))
    for section, table in (("officer", report.officers), ("unit", report.units)):
        for key in sorted(table):
            writer.writerow(_row(section, key, key, "", table[key]))
    for code in sorted(report.steps):
        kind = report.kinds.get(code)
        writer.writerow(_row("step", code, kind.name if kind else code,
                             kind.rule.value if kind else RecordingRule.REQUIRED.value,
                             report.steps[code]))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_png(report: AnnualReport) -> bytes:
    """Four panels: clips per month, hours per unit, completeness per step, clips per officer."""
    from matplotlib import font_manager, rc_context  # noqa: PLC0415 - heavy, report only
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    manager = font_manager.fontManager
    registered = {f.fname for f in manager.ttflist}
    cjk: list[str] = []
    for path in CJK_FONT_FILES:
        if path.is_file():
            if str(path) not in registered:
                manager.addfont(str(path))
            cjk.append(font_manager.get_font(str(path)).family_name)
    have = {f.name for f in manager.ttflist}
    cjk += [name for name in CJK_FONTS if name in have and name not in cjk]
    if not cjk:
        log.warning("report: no CJK font found (%s); Chinese labels will not render: install "
                    "fonts-wqy-microhei", ", ".join(str(p) for p in CJK_FONT_FILES))
    with rc_context({"font.family": [*cjk, "DejaVu Sans"], "axes.unicode_minus": False}):
        fig = Figure(figsize=(13, 9), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        (a, b), (c, d) = fig.subplots(2, 2)
        months = [f"{report.year}-{m:02d}" for m in range(1, 13)]
        a.bar([m[5:] for m in months], [report.months[m].clips if m in report.months else 0
                                         for m in months], color="#3b6ea8")
        a.set_title("每月视音频记录数 (clips per month)")
        a.set_xlabel("月")
        a.yaxis.set_major_locator(MaxNLocator(integer=True))
        units = sorted(report.units.items(), key=lambda kv: -kv[1].ms)[:TOP_N]
        b.barh([u for u, _ in units][::-1], [t.hours for _, t in units][::-1], color="#5a9e6f")
        b.set_title("各单位录制时长 (hours per unit)")
        steps = sorted((code for code, t in report.steps.items() if t.steps),
                       key=lambda code: code)
        rates = [100 * (report.steps[s].rate() or 0) for s in steps]
        labels = [report.kinds[s].name if s in report.kinds else s for s in steps]
        colours = ["#c0504d" if s in report.kinds and report.kinds[s].rule
                   is RecordingRule.REQUIRED else "#9bbb59" for s in steps]
        bars = c.bar(labels, rates, color=colours)
        c.bar_label(bars, labels=[f"{report.steps[s].recorded}/{report.steps[s].steps}"
                                  for s in steps])
        c.set_ylim(0, 110)
        if not steps:
            c.text(0.5, 0.5, f"{report.year} 年无执法环节记录 (no case steps)",
                   ha="center", va="center", transform=c.transAxes)
        rate = report.total.rate()
        c.set_title("执法环节录制完整率 % (red: required)"
                    + (f" — 必须录制合计 {100 * rate:.1f}%" if rate is not None else ""))
        c.tick_params(axis="x", labelrotation=45)
        officers = sorted(report.officers.items(), key=lambda kv: -kv[1].clips)[:TOP_N]
        d.barh([o for o, _ in officers][::-1], [t.clips for _, t in officers][::-1],
               color="#8064a2")
        d.set_title("执法人员记录数 (clips per officer, 警号)")
        d.xaxis.set_major_locator(MaxNLocator(integer=True))
        fig.suptitle(f"{report.year} 年行政执法统计年报 — 执法记录仪视音频 "
                     f"(clips {report.total.clips}, hours {report.total.hours:.1f})")
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()


def _cases(ctx: JobContext) -> list[tuple[Case, dict[str, set[str]]]]:
    found = []
    offset = 0
    while page := ctx.catalogue.cases(limit=CASE_PAGE, offset=offset):
        offset += len(page)
        for case in page:
            links: dict[str, set[str]] = defaultdict(set)
            for link in ctx.catalogue.links(case_id=case.case_id, current_only=True):
                links[link.step_id].add(link.sha256)
            found.append((case, dict(links)))
    return found


def run_report(ctx: JobContext, *, year: int | None = None,
               out_dir: Path | None = None) -> JobOutcome:
    """Write ``annual-YEAR.csv`` and ``annual-YEAR.png`` (default: this year to date, in CST)
    under ``out_dir`` (default ``DATA/reports``)."""
    outcome = JobOutcome(job="report")
    ctx.catalogue.catch_up()
    year = year or ctx.clock().astimezone(CST).year
    out_dir = out_dir or ctx.data_dir / "reports"
    ctx.progress.progress("report", 0, 3, "reading the catalogue")
    report = compute(year, clips=ctx.catalogue.all_clips(), cases=_cases(ctx),
                     kinds=ctx.catalogue.step_kinds())
    ctx.progress.progress("report", 1, 3, "CSV")
    csv_path = out_dir / f"annual-{year}.csv"
    write_atomic(csv_path, to_csv(report))
    ctx.progress.progress("report", 2, 3, "chart")
    png_path = out_dir / f"annual-{year}.png"
    write_atomic(png_path, to_png(report))
    ctx.progress.progress("report", 3, 3, "done")
    outcome.files += [csv_path, png_path]
    rate = report.total.rate()
    outcome.summary.append(
        f"report {year}: {report.total.clips} clip(s), {report.total.hours:.2f} h, "
        f"{len(report.officers)} officer(s), {len(report.units)} unit(s); required steps "
        f"recorded {report.total.recorded}/{report.total.steps}"
        + (f" ({100 * rate:.1f}%)" if rate is not None else "")
        + f"; wrote {csv_path} and {png_path}")
    return outcome
