"""Anchoring: an RFC 3161 token per checkpoint from each configured TSA, each token ledgered.

Runs after a checkpoint is published. A TSA that is down does not stop the others; the caller
gets the failures back and retries later (the checkpoint stays unanchored until then).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from hashlib import sha256

from evidence.errors import UnavailableError, VerificationError
from evidence.records import Checkpoint, EntryKind
from ingest.ledger import LedgerWriter
from ingest.ports import AnchorStore, Clock, TimestampAuthority
from integrity.notes import split_note
from integrity.timestamp import verify_token
from jobs.context import JobContext
from jobs.ports import Finding, FindingKind, JobOutcome

log = logging.getLogger("liuhen.jobs.anchor")


@dataclass
class AnchorResult:
    checkpoint: Checkpoint
    anchored: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def anchor_checkpoint(checkpoint: Checkpoint, *, store: AnchorStore,
                      tsas: Sequence[TimestampAuthority], tsa_roots: Sequence[bytes],
                      writer: LedgerWriter, clock: Clock, actor: str) -> AnchorResult:
    """Timestamp the checkpoint body with every TSA not yet used for it; ledger each token.

    The token is verified against ``tsa_roots`` before it is kept, so a misconfigured or hostile
    TSA cannot fill the ledger with tokens no auditor will accept.
    """
    body, _ = split_note(checkpoint.note)
    done = {name for name, _ in store.timestamps(checkpoint.head.size)}
    result = AnchorResult(checkpoint=checkpoint)
    for tsa in tsas:
        if tsa.name in done:
            continue
        try:
            token = tsa.timestamp(body)
            info = verify_token(token, message=body, roots=tsa_roots)
        except (UnavailableError, VerificationError) as exc:
            result.failed[tsa.name] = str(exc)
            continue
        store.add_timestamp(checkpoint.head.size, tsa.name, token, clock())
        writer.record(EntryKind.ANCHORED, checkpoint.head.root.hex(), {
            "checkpoint_size": checkpoint.head.size,
            "tsa": tsa.name,
            "token_sha256": sha256(token).hexdigest(),
            "gen_time": info.gen_time.isoformat(),
            "tsa_serial": str(info.serial),
        }, actor=actor)
        result.anchored.append(tsa.name)
    return result


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
