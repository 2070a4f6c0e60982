"""The canonical forms of purposes, 警号 and case numbers (issue 11 §5; evidence/identity.py), and
the bureau's year range (§2; evidence/timerange.py). Table tests over whole Unicode categories,
plus hypothesis properties: nothing invisible passes for a purpose, no second spelling of an
officer or a case exists."""

from __future__ import annotations

import sys
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.errors import PolicyViolationError
from evidence.identity import (
    InvalidInputError,
    PurposeRequiredError,
    canonical_actor,
    canonical_officer_no,
    canonical_purpose,
    case_id_key,
    check_case_id,
    check_lookup,
    check_text,
    confusable_case_id,
)
from evidence.timerange import YearRange

ALL = [chr(c) for c in range(sys.maxunicode + 1)]
FORMAT_CHARS = [c for c in ALL if unicodedata.category(c) == "Cf"]
CONTROL_CHARS = [c for c in ALL if unicodedata.category(c) == "Cc"]
OTHER_DIGITS = [c for c in ALL if unicodedata.category(c) == "Nd" and not "0" <= c <= "9"]
NON_ASCII_DIGITS = [c for c in ALL if c.isdigit() and not "0" <= c <= "9"]


def has_chinese(message: str) -> bool:
    return any("\u3400" <= c <= "\u9fff" for c in message)


def test_the_tables_are_what_they_claim() -> None:
    assert "\u200b" in FORMAT_CHARS and "\ufeff" in FORMAT_CHARS and "\u202e" in FORMAT_CHARS
    assert "\uff11" in OTHER_DIGITS and "\u0661" in OTHER_DIGITS and len(OTHER_DIGITS) > 600


# --- purposes -----------------------------------------------------------------------------------

@pytest.mark.parametrize("purpose", [
    "\u200b", "\ufeff", "\u202e", "\u2800", ".", "\ufffd\ufffd", "\u200b\u200b\u200b",
    "\u3164\u3164", "\u115f\u1160", "\uffa0\uffa0", "x", "查", "!!", "\u2800\u2800\u2800",
    "\u00a0\u3000", "---", "。。", "\u0301\u0301",
])
def test_purposes_without_words_are_refused(purpose: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        canonical_purpose(purpose)
    assert has_chinese(str(caught.value))


@pytest.mark.parametrize("purpose", [None, "", "   ", "\t\n"])
def test_no_purpose_is_purpose_required(purpose: str | None) -> None:
    with pytest.raises(PurposeRequiredError):
        canonical_purpose(purpose)


def test_every_format_character_is_removed_from_a_purpose() -> None:
    for char in FORMAT_CHARS:
        assert canonical_purpose(f"案{char}件{char}复核") == "案件复核", hex(ord(char))
        with pytest.raises(InvalidInputError):
            canonical_purpose(char * 3)


def test_every_control_character_is_refused_or_is_whitespace() -> None:
    for char in CONTROL_CHARS:
        try:
            got = canonical_purpose(f"案件{char}复核")
        except InvalidInputError:
            continue
        assert char.isspace() and got == "案件 复核", hex(ord(char))


def test_purposes_are_nfkc_and_trimmed() -> None:
    assert canonical_purpose("  ＡＢ　复核\n第２次 ") == "AB 复核 第2次"
    assert canonical_purpose("ae\u200d\u0301b") == "a\u00e9b"  # the joiner kept them apart
    assert canonical_purpose("ab") == "ab" and canonical_purpose("复核") == "复核"
    assert canonical_purpose("12") == "12"


def test_undecodable_bytes_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="U\\+FFFD"):
        canonical_purpose("复核\ufffd案件")


def test_purposes_are_bounded() -> None:
    assert len(canonical_purpose("复" * 500)) == 500
    with pytest.raises(InvalidInputError):
        canonical_purpose("复" * 501)
    with pytest.raises(InvalidInputError):
        canonical_purpose("\ufdfa" * 100)  # 100 characters, 1800 after NFKC


@given(st.text(max_size=60))
def test_a_purpose_is_refused_or_canonical(text: str) -> None:
    try:
        got = canonical_purpose(text)
    except PolicyViolationError as exc:
        assert has_chinese(str(exc))
        return
    assert canonical_purpose(got) == got and unicodedata.is_normalized("NFKC", got)
    assert not any(unicodedata.category(c) in ("Cf", "Cc", "Cs") for c in got)
    assert sum(unicodedata.category(c)[0] in "LN" for c in got) >= 2


# --- 警号 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("officer", ["000123", "12345678", " 000123 "])
def test_canonical_officer_numbers_pass(officer: str) -> None:
    assert canonical_officer_no(officer) == officer.strip()


@pytest.mark.parametrize("officer", [
    "０００１２３", "000１23", "000\u200b123", "\u2060000123", "000123\u200d", "\ufeff000123",
    "\u202e321000", "00012", "123456789", "00 0123", "abcdef", "", "000123\x00", "٠٠٠١٢٣",
    "𝟎𝟎𝟎𝟏𝟐𝟑", "⁰⁰⁰¹²³", "000-123",
])
def test_other_spellings_of_an_officer_are_refused(officer: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        canonical_officer_no(officer)
    assert "警号" in str(caught.value)


def test_every_non_ascii_digit_and_format_character_is_refused_in_a_badge_number() -> None:
    for char in NON_ASCII_DIGITS + FORMAT_CHARS:
        with pytest.raises(InvalidInputError):
            canonical_officer_no(f"00012{char}")
        with pytest.raises(InvalidInputError):
            canonical_officer_no(f"000{char}123")


def test_the_bureau_pattern_is_configurable_and_ascii() -> None:
    assert canonical_officer_no("A12345", pattern=r"[A-Z][0-9]{5}") == "A12345"
    with pytest.raises(InvalidInputError, match="A-Z"):
        canonical_officer_no("000123", pattern=r"[A-Z][0-9]{5}")
    with pytest.raises(InvalidInputError):  # \d means ASCII digits only
        canonical_officer_no("\u0661" * 6, pattern=r"\d{6}")
    with pytest.raises(PolicyViolationError):
        canonical_officer_no("000123", pattern="[")


@given(st.text(max_size=10))
def test_one_officer_has_one_spelling(text: str) -> None:
    try:
        got = canonical_officer_no(text)
    except InvalidInputError:
        return
    assert got.isascii() and got.isdigit() and 6 <= len(got) <= 8


@pytest.mark.parametrize("name", ["fz-001", "station-07", "admin-1"])
def test_other_holders_keep_one_spelling(name: str) -> None:
    assert canonical_actor(name) == name
    for variant in (unicodedata.normalize("NFKC", name).upper().replace("-", "－"),
                    name + "\u200b", name.replace("-", " - "), "\u202e" + name, ""):
        if variant != name:
            with pytest.raises(InvalidInputError):
                canonical_actor(variant)


# --- case numbers -------------------------------------------------------------------------------

@pytest.mark.parametrize("case_id", ["京公(治)行罚决字〔2026〕123号",
                                     "京公（治）行罚决字〔2026〕123号", "C-7", "a.b", "2026 第1号"])
def test_case_numbers_as_bureaus_write_them_pass(case_id: str) -> None:
    assert check_case_id(case_id) == case_id


@pytest.mark.parametrize("case_id", [
    "a/b", "a\\b", "a#b", "a?b", "a%b", "a%2Fb", ".", "..", "...", "．", "．．", "a／b", "a＃b",
    "a？b", "a％b", "a\u200bb", "\ufeffa", "a\u202eb", "a\x00b", "a\nb", "a\tb", " a", "a ", "",
    "x" * 101, "a\u2028b", "a\u3000b", "a\u00a0b", "a\ud800b", "a\ue000b",
])
def test_case_numbers_that_break_urls_or_hide_are_refused(case_id: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_case_id(case_id)
    assert "案件编号" in str(caught.value)


def test_every_format_and_control_character_is_refused_in_a_case_number() -> None:
    for char in FORMAT_CHARS + CONTROL_CHARS:
        with pytest.raises(InvalidInputError):
            check_case_id(f"C{char}1")


@pytest.mark.parametrize(("new", "existing"), [
    ("a-1", "A-1"), ("Ａ－１", "A-1"), ("ａ-1", "A-1"), ("Ｃ-7", "c-7"), ("ǅ-1", "Ǆ-1"),
    ("京公(治)1号", "京公（治）1号"), ("STRASSE-1", "straße-1"), ("Ⅻ-1", "xii-1"),
])
def test_look_alikes_of_an_existing_case_number_are_found(new: str, existing: str) -> None:
    assert confusable_case_id(new, ["Z-9", existing]) == existing
    assert case_id_key(new) == case_id_key(existing)
    assert confusable_case_id(existing, [existing]) is None  # the same id is a duplicate


def test_different_case_numbers_are_not_look_alikes() -> None:
    assert confusable_case_id("A-1", ["A-2", "A-10", "A_1"]) is None


# --- free text and search terms -----------------------------------------------------------------

def test_free_text_and_lookups_refuse_invisible_and_control_characters() -> None:
    assert check_text("标题", "  案件 ", max_chars=10) == "案件"
    assert check_lookup("设备编号", "LH00001") == "LH00001"
    for bad in ("a\x00b", "a\u202eb", "a\ud800b", "a\u2029b"):
        with pytest.raises(InvalidInputError):
            check_text("标题", bad, max_chars=10)
        with pytest.raises(InvalidInputError):
            check_lookup("设备编号", bad)
    with pytest.raises(InvalidInputError):
        check_lookup("设备编号", "x" * 201)


# --- the bureau's years -------------------------------------------------------------------------

@pytest.mark.parametrize("moment", [
    datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 11, 24, 9, 0, tzinfo=timezone(timedelta(hours=8))),
])
def test_times_within_the_years_pass_in_utc(moment: datetime) -> None:
    got = YearRange().check("start", moment)
    assert got == moment and got.tzinfo is UTC


@pytest.mark.parametrize("moment", [
    datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))),
    datetime(999, 6, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC),
    datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(2000, 1, 1, 7, tzinfo=timezone(timedelta(hours=8))),  # 1999 in UTC
    datetime(2101, 1, 1, tzinfo=UTC), datetime(2026, 1, 1),
])
def test_times_outside_the_years_are_refused(moment: datetime) -> None:
    with pytest.raises(InvalidInputError) as caught:
        YearRange().check("start", moment)
    assert has_chinese(str(caught.value))


@given(st.datetimes(timezones=st.integers(-1439, 1439).map(
    lambda m: timezone(timedelta(minutes=m)))))
def test_every_time_is_accepted_in_range_or_refused_never_crashes(moment: datetime) -> None:
    try:
        got = YearRange(2000, 2100).check("t", moment)
    except InvalidInputError:
        return
    assert 2000 <= got.year <= 2100


def test_the_year_range_is_configurable_and_sane() -> None:
    assert YearRange(1990, 2200).check("t", datetime(1995, 1, 1, tzinfo=UTC)).year == 1995
    for bad in ((2100, 2000), (1, 2000), (2000, 9999)):
        with pytest.raises(ValueError):
            YearRange(*bad)
