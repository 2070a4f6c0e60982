"""Checkpoint publishing, the one publisher: C2SP ``tlog-checkpoint`` notes signed by the log
key, at most once per interval while entries are pending (DESIGN.md §4).

Several publishers (one per station process) may run against one database: Ed25519 signatures
are deterministic but SM2 signatures are not, so two publishers signing the same head may produce
different notes; the store keeps the first, and the publisher whose ``add_checkpoint`` conflicts
with a checkpoint at least as large simply has nothing to do.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from evidence.errors import ConflictError, PolicyViolationError, VerificationError
from evidence.ids import Origin
from evidence.records import Checkpoint
from integrity.notes import sign_checkpoint
from ledger.ports import CheckpointStore, Signer

_log = logging.getLogger(__name__)

def publish_checkpoint(store: CheckpointStore, *, origin: Origin, signers: Sequence[Signer],
                       now: datetime) -> Checkpoint | None:
    """Sign and record a checkpoint for the store's head if it is beyond the latest checkpoint.

    Returns the new checkpoint, or None when there is nothing new (or another publisher has
    already covered this head). Raises VerificationError when the ledger is *smaller* than its
    latest checkpoint: the database was rolled back below a published checkpoint.
    """
    roles = sorted({s.public.role for s in signers})
    if roles != ["log"]:
        raise PolicyViolationError(f"checkpoints are signed by the log keys, not {roles!r} keys")
    head = store.head()
    latest = store.latest_checkpoint()
    latest_size = 0 if latest is None else latest.head.size
    if head.size < latest_size:
        raise VerificationError(f"ledger of size {head.size} is behind its checkpoint of size "
                                f"{latest_size}: rolled back", step="checkpoint", index=head.size)
    if head.size == latest_size:
        return None
    # One signature per key commits both trees: the SM3 tree's head rides in the sm3 line.
    cp = sign_checkpoint(origin, head, signers, sm3=store.sm3_head(head.size))
    try:
        store.add_checkpoint(cp, published_at=now)
    except ConflictError:
        latest = store.latest_checkpoint()
        if latest is not None and latest.head.size >= head.size:
            return None  # another publisher got there first
        raise
    return cp


class Publisher:
    """The one checkpoint publisher loop (DESIGN.md §4), used by the station daemon and the API
    server: a background thread calling ``publish`` every ``interval_s`` seconds, and once more
    on :meth:`stop` so that entries pending at shutdown are covered.

    ``publish`` signs a checkpoint if the head grew (:func:`publish_checkpoint`), and may also
    write it outside the database and anchor it (``Ledger.publish`` in api/compose.py). Errors
    are logged and kept in ``last_error``; the thread goes on (a database that is down now may
    be back at the next interval).
    """

    def __init__(self, publish: Callable[[], object], *, interval_s: float = 1.0,
                 name: str = "liuhen-checkpoints") -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self._publish = publish
        self._interval_s = interval_s
        self._stopping = threading.Event()
        self.last_error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _publish_once(self) -> None:
        try:
            self._publish()
        except Exception as error:
            _log.warning("checkpoint not published: %s", error, exc_info=True)
            self.last_error = error

    def _run(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            self._publish_once()
            # Event.wait, not sleep: stop() wakes the thread at once.
            self._stopping.wait(max(0.0, self._interval_s - (time.monotonic() - started)))

    def stop(self) -> None:
        """End the thread, then publish once more if entries are pending."""
        self._stopping.set()
        self._thread.join()
        self._publish_once()
