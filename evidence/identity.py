"""Canonical forms of what people type that names someone or something, or says why (issue 11
§5; DESIGN.md §8): the purpose of a view (调阅事由), the officer number (警号), case numbers
(案件编号), other actor names, free text and search terms.

Threat model: every value here may come from a hostile or careless client (a browser form, a
JSON body, a URL, a command line, a recorder's ZFY_INFO). Two strings that look the same must
not become two identities, an invisible string must not pass for a purpose, and nothing that
breaks a URL, a database driver or a page may reach the ledger, which keeps it for ever.

Pure: every function takes a string and returns its canonical form or raises
:class:`InvalidInputError` (a PolicyViolationError, and a ValueError for validators) with a
message in Chinese first. The edges (CLI, REST schemas, pages, the station) call these; they
never re-implement them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from evidence.errors import PolicyViolationError
from evidence.ids import CaseId, OfficerNo


class InvalidInputError(PolicyViolationError, ValueError):
    """A value is refused at the edge (HTTP 422, exit code 3). A ValueError too, so that a
    pydantic validator reports it against its field."""


class PurposeRequiredError(InvalidInputError):
    """A view or download without a stated purpose (调阅须说明事由)."""


DEFAULT_OFFICER_NO_PATTERN = r"[0-9]{6,8}"
"""The bureau's 警号 pattern (matched whole, ASCII only): 6–8 ASCII digits by default."""
MAX_PURPOSE_CHARS = 500  # a sentence, not a document: entries stay far below 64 KiB
MIN_PURPOSE_WORD_CHARS = 2  # "x", "." or one invisible letter is not a reason
MAX_CASE_ID_CHARS = 100
MAX_ACTOR_CHARS = 64
MAX_LOOKUP_CHARS = 200  # a search term or an id in a URL: bound what reaches the database
_ECHO_CHARS = 40  # how much of a refused value a message repeats

_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Control, format (zero-width, bidi overrides, BOM, tags), surrogate, private-use, unassigned,
line and paragraph separators: invisible, or not text at all."""
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
"""Hangul fillers: category Lo (letters), yet they print as nothing."""
_CASE_ID_RESERVED = frozenset("/\\#?%")
"""Characters that end or escape a URL path segment (RFC 3986 §3.3): a case number is one."""
_REPLACEMENT = "\ufffd"  # what undecodable bytes became


def _echo(value: str) -> str:
    return repr(value[:_ECHO_CHARS] + ("…" if len(value) > _ECHO_CHARS else ""))


def _codepoint(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def _first_unsafe(value: str) -> str | None:
    """The first character that is invisible or not text (see _UNSAFE_CATEGORIES), or the
    replacement character left by undecodable bytes."""
    for char in value:
        if char == _REPLACEMENT or unicodedata.category(char) in _UNSAFE_CATEGORIES:
            return char
    return None


def _refuse_unsafe(what: str, value: str) -> None:
    bad = _first_unsafe(value)
    if bad is not None:
        raise InvalidInputError(f"{what}含不可见字符、控制字符或无法解码的字节"
                                f"（{_codepoint(bad)}），请删除后重试 ({_echo(value)} contains "
                                "an invisible, control or undecodable character)")


def _without_format(value: str) -> str:
    return "".join(c for c in value if unicodedata.category(c) != "Cf")


def _is_word_char(char: str) -> bool:
    """A letter, a digit or a CJK ideograph (categories L* and N*), not a blank filler."""
    return unicodedata.category(char)[0] in "LN" and char not in _BLANK_LETTERS


# --- purpose (调阅事由) ------------------------------------------------------------------------

def canonical_purpose(value: str | None, *, max_chars: int = MAX_PURPOSE_CHARS) -> str:
    """The purpose of a view or download as the ledger records it: NFKC-normalized, format
    characters (Unicode category Cf: zero-width, BOM, bidi overrides) removed, whitespace runs
    collapsed, at most ``max_chars``, and at least two letters, digits or CJK ideographs.
    PurposeRequiredError when none is given; InvalidInputError for anything else refused."""
    if value is None or not value.strip():
        raise PurposeRequiredError(
            "调阅须说明事由：请填写查看或下载的原因（查询参数 purpose=… 或请求头 "
            "X-Liuhen-Purpose），它会记入账本 (a purpose is required to view or download a clip: "
            "say why; it is recorded in the ledger)")
    if len(value) > 4 * max_chars:  # before NFKC, which may lengthen a string up to 18 times
        raise InvalidInputError(f"调阅事由过长：最多 {max_chars} 个字符 (purpose is too long)")
    # Format characters out before NFKC too: left in, one would keep a letter and its accent
    # apart, and the result would not be NFKC once it is gone.
    text = unicodedata.normalize("NFKC", _without_format(value))
    text = " ".join(_without_format(text).split())  # line breaks and tabs become spaces
    _refuse_unsafe("调阅事由", text)
    if len(text) > max_chars:
        raise InvalidInputError(f"调阅事由过长：{len(text)} 个字符，最多 {max_chars} 个 "
                                f"(purpose is {len(text)} characters; at most {max_chars})")
    if sum(map(_is_word_char, text)) < MIN_PURPOSE_WORD_CHARS:
        raise InvalidInputError(
            f"调阅事由 {_echo(text)} 不是有效的说明：至少要有 {MIN_PURPOSE_WORD_CHARS} 个汉字、"
            "字母或数字 (a purpose must say why in words: at least two letters, digits or "
            "CJK ideographs)")
    return text


# --- 警号 and other actor names -------------------------------------------------------------

def _fullmatch(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value, flags=re.ASCII) is not None
    except re.error as exc:
        raise PolicyViolationError(f"本局的警号格式 {pattern!r} 不是有效的正则表达式 "
                                   f"(the officer number pattern is invalid: {exc})") from exc


def canonical_officer_no(value: str, *,
                         pattern: str = DEFAULT_OFFICER_NO_PATTERN) -> OfficerNo:
    """The one form of a 警号: surrounding whitespace trimmed, then refused unless it is in
    NFKC form, has no invisible or control character and matches the bureau's ``pattern``
    whole (ASCII: ``[0-9]`` and ``\\d`` mean ASCII digits only). Full-width digits, other
    scripts' digits and zero-width characters are refused, never silently mapped: the caller
    learns the form to use, and no second spelling of an officer ever reaches the ledger."""
    text = value.strip()
    _refuse_unsafe("警号", text)
    folded = unicodedata.normalize("NFKC", text)
    if folded != text:
        raise InvalidInputError(f"警号 {_echo(text)} 含全角或兼容字符，请写作 {_echo(folded)} "
                                "(officer number has full-width or compatibility characters)")
    if not _fullmatch(pattern, text):
        want = ("6–8 位半角数字" if pattern == DEFAULT_OFFICER_NO_PATTERN
                else f"本局格式 {pattern}")
        raise InvalidInputError(f"警号 {_echo(text)} 格式不对：须为{want} (officer number must "
                                f"match {pattern})")
    return OfficerNo(text)


def canonical_actor(value: str, *, max_chars: int = MAX_ACTOR_CHARS) -> str:
    """The name of a non-officer token holder (a station id, an auditor's or admin's id):
    trimmed, 1–``max_chars`` characters, NFKC form, no whitespace, invisible or control
    character; refused otherwise, so that no two names look alike."""
    text = value.strip()
    if not text:
        raise InvalidInputError("名称不能为空 (the name must not be empty)")
    if len(text) > max_chars:
        raise InvalidInputError(f"名称过长：最多 {max_chars} 个字符 (name is too long)")
    _refuse_unsafe("名称", text)
    if any(c.isspace() for c in text):
        raise InvalidInputError(f"名称 {_echo(text)} 不能含空白 (name must not contain spaces)")
    folded = unicodedata.normalize("NFKC", text)
    if folded != text:
        raise InvalidInputError(f"名称 {_echo(text)} 含全角或兼容字符，请写作 {_echo(folded)} "
                                "(name has full-width or compatibility characters)")
    return text


# --- case numbers (案件编号) ------------------------------------------------------------------

def check_case_id(value: str) -> CaseId:
    """A new case number as the bureau writes it, e.g. ``京公（治）行罚决字〔2026〕123号``:
    1–100 characters, no surrounding spaces, no invisible, control or line-breaking character,
    none of ``/ \\ # ? %`` (nor their full-width forms: a case number is a URL path segment),
    and not only dots (``.``, ``..``). Full-width brackets are fine; look-alikes of an
    existing number are refused by :func:`confusable_case_id`."""
    if not value or value != value.strip():
        raise InvalidInputError(f"案件编号 {_echo(value)} 不能为空，也不能以空白开头或结尾 "
                                "(case id must not be empty or start or end with spaces)")
    if len(value) > MAX_CASE_ID_CHARS:
        raise InvalidInputError(f"案件编号过长：最多 {MAX_CASE_ID_CHARS} 个字符 "
                                f"(case id is {len(value)} characters; at most "
                                f"{MAX_CASE_ID_CHARS})")
    _refuse_unsafe("案件编号", value)
    if any(c.isspace() and c != " " for c in value):
        raise InvalidInputError(f"案件编号 {_echo(value)} 只能含普通空格 (case id may contain "
                                "plain spaces only)")
    folded = unicodedata.normalize("NFKC", value)
    reserved = sorted({c for c in value + folded if c in _CASE_ID_RESERVED})
    if reserved:
        raise InvalidInputError(
            f"案件编号 {_echo(value)} 不能含 {' '.join(reserved)}（及其全角形式）：它们会截断"
            "或改写网址 (case id must not contain '/', '\\', '#', '?' or '%')")
    if not folded.strip(". "):
        raise InvalidInputError(f"案件编号 {_echo(value)} 不能只由点组成 (case id must not be "
                                "'.' or '..')")
    return CaseId(value)


def case_id_key(value: str) -> str:
    """What two case numbers that look alike share: NFKC, case-folded, NFKC again (case folding
    may denormalize), with format characters dropped. ``A-1``, ``a-1`` and ``Ａ－１`` share
    one key."""
    once = unicodedata.normalize("NFKC", _without_format(value)).casefold()
    return _without_format(unicodedata.normalize("NFKC", once))


def confusable_case_id(value: str, existing: Iterable[str]) -> str | None:
    """The existing case number (other than ``value`` itself) that ``value`` only differs from
    by case, width or compatibility form, if any."""
    key = case_id_key(value)
    return next((e for e in existing if e != value and case_id_key(e) == key), None)


# --- free text and search terms ---------------------------------------------------------------

def check_text(what: str, value: str, *, max_chars: int, allow_empty: bool = False) -> str:
    """Free text for an entry (a title, a unit number, a step name): trimmed, at most
    ``max_chars``, no invisible or control character."""
    text = value.strip()
    if not text and not allow_empty:
        raise InvalidInputError(f"{what}不能为空 (must not be empty)")
    if len(text) > max_chars:
        raise InvalidInputError(f"{what}过长：{len(text)} 个字符，最多 {max_chars} 个 "
                                f"({len(text)} characters; at most {max_chars})")
    _refuse_unsafe(what, text)
    return text


def check_lookup(what: str, value: str, *, max_chars: int = MAX_LOOKUP_CHARS) -> str:
    """An id or search term as given (a case number in a URL, a device serial, a name): at
    most ``max_chars``, no invisible or control character (a NUL would break the database
    driver). Not normalized: an id that does not exist is simply not found."""
    if len(value) > max_chars:
        raise InvalidInputError(f"{what}过长：最多 {max_chars} 个字符 (at most {max_chars} "
                                "characters)")
    _refuse_unsafe(what, value)
    return value
