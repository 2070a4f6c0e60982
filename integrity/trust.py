"""Trust roots: the origin, log/station/witness keys with validity ranges, and TSA roots.

A trust root is what an auditor decides to trust; the verifier never trusts a key it was not given.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from evidence.errors import VerificationError
from evidence.ids import Origin
from evidence.records import PublicKey
from integrity.notes import parse_vkey, vkey

ROLES = ("log", "station", "witness")


@dataclass(frozen=True, slots=True)
class TrustRoot:
    origin: Origin
    keys: tuple[PublicKey, ...]
    tsa_roots: tuple[bytes, ...] = ()
    """PEM certificates of trusted RFC 3161 TSA roots."""

    def with_keys(self, keys: Sequence[PublicKey]) -> TrustRoot:
        return TrustRoot(origin=self.origin, keys=tuple(keys), tsa_roots=self.tsa_roots)

    def to_dict(self) -> dict[str, object]:
        return {
            "origin": self.origin,
            "keys": [{"vkey": vkey(k), "role": k.role, "valid_from": k.valid_from,
                      "valid_until": k.valid_until} for k in self.keys],
            "tsa_roots": [pem.decode("ascii") for pem in self.tsa_roots],
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False).encode() + b"\n"

    @classmethod
    def from_dict(cls, value: object) -> TrustRoot:
        step = "trust-root"
        try:
            if not isinstance(value, dict):
                raise TypeError("trust root must be an object")
            keys = []
            for item in value["keys"]:
                role = item["role"]
                if role not in ROLES:
                    raise ValueError(f"unknown key role {role!r}")
                until = item.get("valid_until")
                keys.append(parse_vkey(item["vkey"], role=role, valid_from=int(item["valid_from"]),
                                       valid_until=None if until is None else int(until)))
            roots = tuple(pem.encode("ascii") for pem in value.get("tsa_roots", []))
            return cls(origin=Origin(str(value["origin"])), keys=tuple(keys), tsa_roots=roots)
        except (KeyError, TypeError, ValueError) as exc:
            raise VerificationError(f"malformed trust root: {exc}", step=step) from exc

    @classmethod
    def from_json(cls, data: bytes) -> TrustRoot:
        try:
            value = json.loads(data)
        except ValueError as exc:
            raise VerificationError(f"trust root is not JSON: {exc}", step="trust-root") from exc
        return cls.from_dict(value)
