"""Anchoring: an RFC 3161 token per checkpoint from each configured TSA, each token ledgered.

Runs after a checkpoint is published (the publisher of api/compose.py's ``Ledger.publish`` and
the scheduled ``anchor`` job). A TSA that is down does not stop the others; the caller gets the
failures back and retries later (the checkpoint stays unanchored until then).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from hashlib import sha256

from evidence.bodies import AnchoredBody
from evidence.errors import UnavailableError, VerificationError
from evidence.records import Checkpoint
from integrity.notes import split_note
from integrity.timestamp_sm import verify_timestamp
from ledger.appending import LedgerWriter
from ledger.ports import AnchorStore, Clock, TimestampAuthority


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
            info = verify_timestamp(token, message=body, roots=tsa_roots)
        except (UnavailableError, VerificationError) as exc:
            result.failed[tsa.name] = str(exc)
            continue
        store.add_timestamp(checkpoint.head.size, tsa.name, token, clock())
        writer.append(AnchoredBody(checkpoint_size=checkpoint.head.size, tsa=tsa.name,
                                   token_sha256=sha256(token).hexdigest(),
                                   gen_time=info.gen_time.isoformat(),
                                   tsa_serial=str(info.serial)),
                      subject=checkpoint.head.root.hex(), actor=actor)
        result.anchored.append(tsa.name)
    return result
