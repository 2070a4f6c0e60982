"""Error families, grouped by who must react (STYLE.md §3).

Adapters translate library errors (SQLAlchemy, botocore, pyusb, ffmpeg) into these with
``raise ... from exc``; only ``api/`` maps them to HTTP status codes and exit codes.
"""

from __future__ import annotations


class LiuhenError(Exception):
    """Base of every error liuhen raises on purpose."""


class VerificationError(LiuhenError):
    """Evidence does not verify: quarantine it, never retry.

    ``step`` names the numbered step of docs/verification.md that failed; ``index`` is the ledger
    index (or tree size, for a checkpoint) where it failed, when there is one.
    """

    def __init__(self, reason: str, *, step: str = "", index: int | None = None) -> None:
        self.reason = reason
        self.step = step
        self.index = index
        where = f" at index {index}" if index is not None else ""
        prefix = f"[{step}] " if step else ""
        super().__init__(f"{prefix}{reason}{where}")


class MalformedEntryError(VerificationError):
    """A ledger entry's body is not what its kind's writer writes (evidence/bodies): a field is
    missing, of the wrong type or of the wrong form. ``kind`` and ``field`` (a dotted path within
    the body, e.g. ``derivatives[0].size``) name it."""

    def __init__(self, kind: str, field: str, zh: str, en: str) -> None:
        self.kind = kind
        self.field = field
        super().__init__(f"账本条目 {kind} 的 body.{field} {zh} ({kind} entry: body.{field} {en})")


class PolicyViolationError(LiuhenError):
    """The request is well-formed but policy forbids it (early disposal, unsafe store, ...)."""


class NotPermittedError(PolicyViolationError):
    """The caller may not do this (HTTP 403): e.g. changing a case they do not work on."""


class ConflictError(LiuhenError):
    """The request conflicts with recorded state (overwrite, duplicate, concurrent writer)."""


class NotFoundError(LiuhenError):
    """The named thing does not exist."""


class UnavailableError(LiuhenError):
    """A dependency is down or busy: retry later (HTTP 503 + Retry-After)."""

    def __init__(self, message: str, *, retry_after_s: float = 5.0) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)
