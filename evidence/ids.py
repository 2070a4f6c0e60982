"""Lookalike strings and bytes get their own types (STYLE.md §8)."""

from __future__ import annotations

from typing import NewType

Sha256Hex = NewType("Sha256Hex", str)
"""64 lowercase hex digits."""

Sm3Hex = NewType("Sm3Hex", str)
"""64 lowercase hex digits of an SM3 digest (GB/T 32905): the same shape as a SHA-256 one, so
a lookup by either tries both columns and says which matched."""

LeafHash = NewType("LeafHash", bytes)
"""32 bytes: SHA-256(0x00 ‖ entry bytes) (RFC 9162 §2.1.1)."""

KeyId = NewType("KeyId", str)
"""Hex of the 4-byte C2SP signed-note key id."""

Origin = NewType("Origin", str)
"""A ledger's checkpoint origin line, e.g. ``liuhen.example-bureau/ledger/v1``."""

StationId = NewType("StationId", str)
DeviceSerial = NewType("DeviceSerial", str)
OfficerNo = NewType("OfficerNo", str)
"""警号: the officer's badge number."""
CaseId = NewType("CaseId", str)
StepCode = NewType("StepCode", str)


def is_sha256_hex(value: str) -> bool:
    """True when ``value`` is 64 lowercase hex digits."""
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)
