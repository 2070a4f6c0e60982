from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.errors import VerificationError
from integrity.canonical import MAX_SAFE_INT, canonical_json, parse_canonical

# RFC 8785 §3.2.3: keys sort by UTF-16 code units. By code point U+FB33 precedes U+1F600, but in
# UTF-16 the pair 0xD83D 0xDE00 precedes 0xFB33, so a code-point sort would get this wrong.
CASES = [
    ({"b": 1, "a": [True, False, None]}, b'{"a":[true,false,null],"b":1}'),
    ({"\u20ac": 1, "\U0001f600": 2, "\r": 3, "1": 4, "\u00f6": 5, "\ufb33": 6},
     '{"\\r":3,"1":4,"\u00f6":5,"\u20ac":1,"\U0001f600":2,"\ufb33":6}'.encode()),
    ("\u0000\u001f\u007f\"\\/", b'"\\u0000\\u001f\x7f\\"\\\\/"'),
    ({"警号": "000123"}, '{"警号":"000123"}'.encode()),
    (-0, b"0"),
    (MAX_SAFE_INT, b"9007199254740991"),
]


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_canonical_bytes(value: object, expected: bytes) -> None:
    assert canonical_json(value) == expected
    assert parse_canonical(expected) == value


@pytest.mark.parametrize("value", [1.5, MAX_SAFE_INT + 1, b"bytes", {1: "x"}, "\ud800"])
def test_values_without_canonical_form_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        canonical_json(value)


@pytest.mark.parametrize("text", [b'{"b":1,"a":2}', b'{"a": 1}', b'{"a":1,"a":1}', b'1.0',
                                  b'"\\u00e9"', b'NaN', b'\xff'])
def test_non_canonical_input_is_refused(text: bytes) -> None:
    with pytest.raises(VerificationError) as err:
        parse_canonical(text)
    assert err.value.step == "canonical"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INT, MAX_SAFE_INT)
    | st.text(st.characters(exclude_categories=["Cs"])),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(st.characters(exclude_categories=["Cs"]), max_size=5), inner,
                      max_size=4),
    max_leaves=12)


@given(json_values)
def test_round_trip_and_agreement_with_json(value: object) -> None:
    data = canonical_json(value)
    assert parse_canonical(data) == value
    assert json.loads(data) == value


def _reference_string(value: str) -> str:
    """RFC 8785 §3.2.2.2 spelled out character by character."""
    short = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"',
             0x5C: "\\\\"}
    out = []
    for ch in value:
        code = ord(ch)
        out.append(short.get(code) or (f"\\u{code:04x}" if code < 0x20 else ch))
    return '"' + "".join(out) + '"'


def test_string_escaping_matches_rfc8785_for_every_code_point() -> None:
    for start in range(0, 0x110000, 0x1000):
        chars = "".join(chr(c) for c in range(start, start + 0x1000)
                        if not 0xD800 <= c <= 0xDFFF)
        assert canonical_json(chars) == _reference_string(chars).encode("utf-8")


@pytest.mark.parametrize("value", ["\ud800", "a\udfffb", {"k\udc00": 1}])
def test_lone_surrogates_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        canonical_json(value)
