"""Table tests of the pure parts of access (docs/access.md): role names, unit codes, subtrees,
and password hashes."""

from __future__ import annotations

import pytest

from access.accounts import check_unit_code, parse_roles, subtree_of
from access.passwords import hash_password, password_matches
from evidence.identity import InvalidInputError


@pytest.mark.parametrize(("given", "want"), [
    (["officer"], ("officer",)),
    (["leader,officer"], ("officer", "leader")),
    (["officer", "leader"], ("officer", "leader")),
    (["法制", "管理员"], ("auditor", "admin")),
    (["Officer， leader"], ("officer", "leader")),  # full-width comma, case
    (["officer", "officer"], ("officer",)),
])
def test_roles(given: list[str], want: tuple[str, ...]) -> None:
    assert parse_roles(given) == want


@pytest.mark.parametrize("given", [[], [""], ["boss"], ["officer,station"]])
def test_bad_roles_are_refused_in_chinese_first(given: list[str]) -> None:
    with pytest.raises(InvalidInputError, match="角色"):
        parse_roles(given)


@pytest.mark.parametrize("code", ["1101", "11010100000a", "１１０１０１０００００００",
                                  "1101010000001", ""])
def test_bad_unit_codes(code: str) -> None:
    with pytest.raises(InvalidInputError, match="12 位"):
        check_unit_code(code)


def test_unit_code_is_trimmed() -> None:
    assert check_unit_code(" 110101000000 ") == "110101000000"


def test_subtree() -> None:
    children: dict[str | None, list[str]] = {None: ["r"], "r": ["a", "b"], "a": ["a1"],
                                             "b": ["b1"]}
    assert subtree_of("a", children) == {"a", "a1"}
    assert subtree_of("r", children) == {"r", "a", "a1", "b", "b1"}
    assert subtree_of("a1", children) == {"a1"}


def test_passwords() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$")
    assert password_matches(stored, "correct horse")
    assert not password_matches(stored, "correct horse ")
    assert not password_matches(stored, "")
    assert not password_matches("not a hash", "correct horse")
    with pytest.raises(InvalidInputError, match="密码过短"):
        hash_password("short")
