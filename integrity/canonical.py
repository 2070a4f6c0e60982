"""RFC 8785 (JSON Canonicalization Scheme) for the subset liuhen uses.

Values are objects, arrays, strings, booleans, null and integers within the I-JSON safe range
(RFC 7493 §2.2); floats are refused, so the ECMAScript number formatting of RFC 8785 §3.2.2.3
reduces to decimal integers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from evidence.errors import VerificationError

MAX_SAFE_INT = 2**53 - 1  # RFC 7493 §2.2: integers beyond this lose precision in I-JSON peers

_ESCAPE = json.encoder.encode_basestring
"""The json module's C string encoder (ensure_ascii off): it escapes exactly '"', '\\' and the
controls below U+0020 (``\\b \\t \\n \\f \\r``, others ``\\u00xx`` in lowercase) and leaves
everything else literal, which is RFC 8785 §3.2.2.2. tests/unit/test_canonical.py checks it
against a character-by-character reference over every code point."""


def _encode_string(value: str, out: list[str]) -> None:
    # Lone surrogates pass through here and are refused by canonical_json's UTF-8 encoding
    # (UnicodeEncodeError is a ValueError).
    out.append(_ESCAPE(value))


def _utf16_key(key: str) -> bytes:
    # RFC 8785 §3.2.3: properties sort by their UTF-16 code units, not by code points.
    return key.encode("utf-16-be")


def _encode(value: object, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise ValueError(f"integer {value} outside the I-JSON safe range")
        out.append(str(value))
    elif isinstance(value, str):
        _encode_string(value, out)
    elif isinstance(value, Mapping):
        out.append("{")
        items = sorted(value.items(), key=lambda kv: _utf16_key(_check_key(kv[0])))
        for i, (key, item) in enumerate(items):
            if i:
                out.append(",")
            _encode_string(key, out)
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise ValueError(f"cannot canonicalize {type(value).__name__}: integers, strings, "
                         "booleans, null, arrays and objects only")


def _check_key(key: object) -> str:
    if not isinstance(key, str):
        raise ValueError("object keys must be strings")
    return key


def canonical_json(value: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``value``; ValueError if it has no such form."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, item in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = item
    return result


def _no_floats(text: str) -> object:
    raise ValueError(f"non-integer number {text}")


def parse_canonical(data: bytes) -> object:
    """Parse ``data`` and require that it is already canonical (re-encodes to the same bytes).

    Raises VerificationError(step="canonical") otherwise: a ledger entry has exactly one encoding.
    """
    try:
        value = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_float=_no_floats,
            parse_constant=_no_floats,
        )
        again = canonical_json(value)
    except (UnicodeDecodeError, ValueError) as exc:
        raise VerificationError(f"not canonical JSON: {exc}", step="canonical") from exc
    if again != data:
        raise VerificationError("JSON is valid but not in RFC 8785 canonical form",
                                step="canonical")
    return value
