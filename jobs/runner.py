"""One entry point for every job, by name (the CLI's ``jobs run`` and the scheduler)."""

from __future__ import annotations

from jobs.anchor import run_anchor
from jobs.annual import run_report
from jobs.context import JobContext
from jobs.disposal import run_disposal
from jobs.fixity import run_fixity
from jobs.ports import JobOutcome
from jobs.retention import run_retention
from jobs.schedule import JOB_NAMES


def run_job(ctx: JobContext, name: str, *, full: bool = False,
            year: int | None = None) -> JobOutcome:
    """Run job ``name`` once. ``full``: fixity re-hashes every object instead of the rolling
    sample; ``year``: the report's year (default: this year to date)."""
    if name == "retention":
        return run_retention(ctx.retention, catalogue=ctx.catalogue, progress=ctx.progress)
    if name == "disposal":
        return run_disposal(ctx)
    if name == "fixity":
        return run_fixity(ctx, full=full)
    if name == "anchor":
        return run_anchor(ctx)
    if name == "report":
        return run_report(ctx, year=year)
    raise ValueError(f"unknown job {name!r}; jobs are {', '.join(JOB_NAMES)}")
