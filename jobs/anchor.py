"""The anchoring job: publish a checkpoint if the tree grew, then timestamp it with every
configured TSA (``ledger.anchoring``), retrying the TSAs that failed on the next run."""

from __future__ import annotations

import logging

from jobs.context import JobContext
from jobs.ports import Finding, FindingKind, JobOutcome
from ledger.anchoring import anchor_checkpoint

log = logging.getLogger("liuhen.jobs.anchor")


def run_anchor(ctx: JobContext, *, actor: str = "job:anchor") -> JobOutcome:
    """The anchoring job: publish a checkpoint if the tree grew, then timestamp the latest
    checkpoint with every configured TSA that has not stamped it (``anchor_checkpoint``: one
    ``anchored`` entry per token). A TSA that fails is a finding to retry (exit 75), and is
    asked again on the next run; the others are not held up."""
    outcome = JobOutcome(job="anchor")
    setup = ctx.anchoring
    if setup is None:
        outcome.summary.append("anchor: not configured")
        return outcome
    published = setup.publish()
    latest = published or setup.store.latest_checkpoint()
    if latest is None:
        outcome.summary.append("anchor: the ledger is empty; nothing to anchor")
        return outcome
    line = (f"anchor: checkpoint {latest.head.size} "
            + ("published" if published is not None else "(latest, unchanged)"))
    if not setup.tsas:
        outcome.summary.append(line + "; no TSA configured: signed only")
        return outcome
    result = anchor_checkpoint(latest, store=setup.store, tsas=setup.tsas,
                               tsa_roots=setup.tsa_roots, writer=ctx.writer, clock=ctx.clock,
                               actor=actor)
    done = {name for name, _ in setup.store.timestamps(latest.head.size)}
    outcome.summary.append(line + f"; timestamped now by {len(result.anchored)} TSA(s) "
                           f"{sorted(result.anchored)}, {len(done)}/{len(setup.tsas)} in all")
    for name, why in result.failed.items():
        log.error("anchor: TSA %s failed for checkpoint %d: %s", name, latest.head.size, why)
        outcome.findings.append(Finding(FindingKind.UNAVAILABLE, name, why))
    return outcome
