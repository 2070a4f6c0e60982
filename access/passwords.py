"""Password hashes: argon2id through argon2-cffi (RFC 9106), its PHC strings stored as they
come. Parameters: argon2-cffi's RFC 9106 "low memory" profile (t=3, m=64 MiB, p=4): about
50 ms per check on a station, so a guessing caller is slowed by the hash too, and throttled by
the lockout (access/login.py).
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from evidence.identity import InvalidInputError

MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 256  # bound the work one request asks of argon2

_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (the library's default)


def check_password_text(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInputError(f"密码过短：至少 {MIN_PASSWORD_CHARS} 个字符 (password is "
                                f"shorter than {MIN_PASSWORD_CHARS} characters)")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidInputError(f"密码过长：最多 {MAX_PASSWORD_CHARS} 个字符 (password is too "
                                "long)")
    return password


def hash_password(password: str) -> str:
    """The argon2id PHC string of a new password (checked for length first)."""
    return _HASHER.hash(check_password_text(password))


def password_matches(stored: str, password: str) -> bool:
    """True when ``password`` matches the stored hash; False for a mismatch, a password out of
    bounds, or a stored value that is not an argon2 hash."""
    if not password or len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@functools.cache
def dummy_hash() -> str:
    """Checked against when the 警号 has no account or no password, so that a wrong 警号 takes
    as long as a wrong password (no account enumeration by timing). Made on first use."""
    return _HASHER.hash("liuhen: no such account")
