"""Errors to HTTP (STYLE.md §3: only api/ maps error families to status codes).

Every error response is JSON ``{"error": <code>, "detail": <message>}``, plus ``step`` and
``index`` for a verification failure and ``retry_after_s`` (and a ``Retry-After`` header) for
503. docs/api.md lists the codes. The message is Chinese first (the English follows in
parentheses): a message that has no Chinese of its own gets its family's Chinese label.

PolicyViolationError is 422, not 403: 403 means "your role may not call this", which a client
handles differently from "this request is refused by policy" (a disposed clip, an unknown
执法环节 code).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import family_of
from evidence.errors import (
    LiuhenError,
    PolicyViolationError,
    UnavailableError,
    VerificationError,
)

HASH_FIELDS = frozenset({"sha256"})


class ErrorOut(BaseModel):
    error: str
    """A stable code: not_found, conflict, policy_violation, purpose_required,
    verification_failed, unavailable, invalid_request, unauthorized, forbidden, ..."""
    detail: str
    step: str | None = None
    index: int | None = None
    retry_after_s: float | None = None


HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 406: "not_acceptable", 409: "conflict",
              413: "payload_too_large", 415: "unsupported_media_type",
              416: "range_not_satisfiable", 422: "invalid_request"}

CHINESE_LABELS = {
    "purpose_required": "须说明调阅事由", "verification_failed": "核验失败", "not_found": "未找到",
    "conflict": "冲突", "policy_violation": "不允许", "unavailable": "暂不可用",
    "invalid_request": "输入有误", "bad_request": "请求有误", "unauthorized": "未登录或令牌无效",
    "forbidden": "无权访问", "method_not_allowed": "不支持该方法",
    "not_acceptable": "无法提供该格式",
    "payload_too_large": "请求体过大", "unsupported_media_type": "不支持的内容类型",
    "range_not_satisfiable": "范围无效", "internal": "内部错误", "http_error": "请求失败",
}
_CJK = re.compile(r"[\u3400-\u9fff]")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorOut, "description": "refused: see `error` and `detail`"},
    503: {"model": ErrorOut, "description": "a dependency is down: retry after Retry-After"},
}
"""Declared on every API route, so the OpenAPI document tells clients the error shape."""


def chinese_first(error: str, detail: str) -> str:
    """``detail`` as it is when it already says it in Chinese, else behind its family's label
    (``error`` is a code of CHINESE_LABELS, or a Chinese label itself)."""
    if _CJK.search(detail):
        return detail
    label = CHINESE_LABELS.get(error, error if _CJK.search(error) else "请求失败")
    return f"{label}：{detail}"


def _body(error: str, detail: str, **extra: object) -> dict[str, object]:
    return {"error": error, "detail": chinese_first(error, detail),
            **{k: v for k, v in extra.items() if v is not None}}


def liuhen_error(_request: Request, exc: Exception) -> JSONResponse:
    status, code, _exit = family_of(exc)  # the one table of api/errors.py
    headers = {}
    extra: dict[str, object] = {}
    if isinstance(exc, VerificationError):
        extra = {"step": exc.step or None, "index": exc.index}
    if isinstance(exc, UnavailableError):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
        extra = {"retry_after_s": exc.retry_after_s}
    return JSONResponse(_body(code, str(exc), **extra), status_code=status, headers=headers)


_PLACES = {"path": ("路径参数", "path parameter"), "query": ("查询参数", "query parameter"),
           "header": ("请求头", "header"), "body": ("请求体字段", "body"),
           "cookie": ("Cookie", "cookie")}


def _where(loc: Sequence[object]) -> tuple[str, str]:
    """Where a value was, in Chinese and in English: ``查询参数 'start'``, ``query parameter
    'start'``."""
    parts = [str(p) for p in loc]
    if not parts:
        return "请求", "request"
    zh, en = _PLACES.get(parts[0], (parts[0], parts[0]))
    rest = ".".join(parts[1:])
    return (f"{zh} {rest!r}", f"{en} {rest!r}") if rest else (zh, en)


def validation_message(err: dict[str, Any]) -> str:
    loc = tuple(err.get("loc", ()))
    name = str(loc[-1]) if loc else ""
    kind = err.get("type", "")
    zh, en = _where(loc)
    if name in HASH_FIELDS and kind in ("string_pattern_mismatch", "string_too_short",
                                        "string_too_long"):
        return (f"{zh} 须为 SHA-256：64 位十六进制数字 ({en} must be a SHA-256: 64 hexadecimal "
                "digits)")
    if kind == "json_invalid":
        return "请求体不是有效的 JSON (the body is not valid JSON)"
    if kind == "timezone_aware":
        return f"{zh} 没有时区：请写明，例如 +08:00 或 Z ({en} has no timezone: give one (e.g. " \
               "+08:00 or Z))"
    error = (err.get("ctx") or {}).get("error")
    if isinstance(error, PolicyViolationError):  # our own rule, raised inside a validator
        return f"{zh}：{error}"
    return f"{zh} 无效 ({en}: {err.get('msg', 'invalid')})"


def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = "; ".join(validation_message(e) for e in errors[:10]) or "invalid request"
    return JSONResponse(_body("invalid_request", detail), status_code=422)


def http_error(_request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    detail = exc.detail if isinstance(exc, StarletteHTTPException) else "internal error"
    headers = getattr(exc, "headers", None)
    return JSONResponse(_body(HTTP_CODES.get(status, "http_error"), str(detail)),
                        status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(LiuhenError, liuhen_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
