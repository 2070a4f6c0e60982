"""The one table of error families at the edges (STYLE.md §3: only api/ maps them): what each
family becomes on HTTP (status and the ``error`` code of docs/api.md) and on the command line
(the exit code README.md lists). ``api/http/errors.py`` and ``api/cli/_common.py`` both read it.

The first row that matches wins, so a subclass comes before its family (PurposeRequiredError is
a PolicyViolationError). Exit codes: 1 verification failed; sysexits-style codes for the rest.
"""

from __future__ import annotations

from evidence.errors import (
    ConflictError,
    LiuhenError,
    NotFoundError,
    NotPermittedError,
    PolicyViolationError,
    UnavailableError,
    VerificationError,
)
from evidence.identity import PurposeRequiredError

FAMILIES: tuple[tuple[type[LiuhenError], int, str, int], ...] = (
    # family               HTTP  error code             exit code
    (PurposeRequiredError, 422, "purpose_required", 3),
    (VerificationError, 422, "verification_failed", 1),
    (NotFoundError, 404, "not_found", 4),
    (NotPermittedError, 403, "forbidden", 77),  # EX_NOPERM
    (ConflictError, 409, "conflict", 5),
    (PolicyViolationError, 422, "policy_violation", 3),
    (UnavailableError, 503, "unavailable", 75),  # EX_TEMPFAIL: retry later
)
UNKNOWN = (500, "internal", 2)
"""A LiuhenError of no family above: a bug of ours, not the caller's."""
HEADINGS = {"purpose_required": "需要说明调阅事由 Purpose required",
            "verification_failed": "核验失败 Verification failed",
            "not_found": "未找到 Not found", "forbidden": "无权操作 Not permitted",
            "conflict": "冲突 Conflict",
            "policy_violation": "不允许 Refused by policy", "unavailable": "暂不可用 Unavailable",
            "internal": "错误 Error"}
"""The heading an error page shows for each error code (the pages, Chinese first)."""


def family_of(exc: BaseException) -> tuple[int, str, int]:
    """(HTTP status, error code, exit code) of ``exc``: its family's row, else UNKNOWN."""
    return next(((status, code, exit_code) for family, status, code, exit_code in FAMILIES
                 if isinstance(exc, family)), UNKNOWN)
