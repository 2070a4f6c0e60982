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
class StationTrust:
    """A station a bureau vouches for (``liuhen trust-root`` on a bureau, ``stations``): its log
    origin and keys (docs/adr/0014-two-level-log.md)."""

    station_id: str
    origin: str
    keys: tuple[PublicKey, ...]


def _keys_dict(keys: Sequence[PublicKey]) -> list[dict[str, object]]:
    return [{"vkey": vkey(k), "role": k.role, "valid_from": k.valid_from,
             "valid_until": k.valid_until} for k in keys]


def _parse_keys(items: Sequence[dict[str, object]]) -> tuple[PublicKey, ...]:
    keys = []
    for item in items:
        role = str(item["role"])
        if role not in ROLES:
            raise ValueError(f"unknown key role {role!r}")
        until = item.get("valid_until")
        keys.append(parse_vkey(str(item["vkey"]), role=role,
                               valid_from=int(str(item["valid_from"])),
                               valid_until=None if until is None else int(str(until))))
    return tuple(keys)


@dataclass(frozen=True, slots=True)
class TrustRoot:
    origin: Origin
    keys: tuple[PublicKey, ...]
    tsa_roots: tuple[bytes, ...] = ()
    """PEM certificates of trusted RFC 3161 TSA roots."""
    stations: tuple[StationTrust, ...] = ()
    """On a bureau: the stations whose logs it holds (a station clip's first hop)."""

    def with_keys(self, keys: Sequence[PublicKey]) -> TrustRoot:
        return TrustRoot(origin=self.origin, keys=tuple(keys), tsa_roots=self.tsa_roots,
                         stations=self.stations)

    def station(self, station_id: str) -> StationTrust:
        for found in self.stations:
            if found.station_id == station_id:
                return found
        raise VerificationError(f"信任根中没有站点 {station_id} (station not in the trust root)",
                                step="trust-root")

    def to_dict(self) -> dict[str, object]:
        value: dict[str, object] = {
            "origin": self.origin,
            "keys": _keys_dict(self.keys),
            "tsa_roots": [pem.decode("ascii") for pem in self.tsa_roots],
        }
        if self.stations:
            value["stations"] = [{"station_id": s.station_id, "origin": s.origin,
                                  "keys": _keys_dict(s.keys)} for s in self.stations]
        return value

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False).encode() + b"\n"

    @classmethod
    def from_dict(cls, value: object) -> TrustRoot:
        step = "trust-root"
        try:
            if not isinstance(value, dict):
                raise TypeError("trust root must be an object")
            roots = tuple(pem.encode("ascii") for pem in value.get("tsa_roots", []))
            stations = tuple(StationTrust(station_id=str(s["station_id"]),
                                          origin=str(s["origin"]), keys=_parse_keys(s["keys"]))
                             for s in value.get("stations", []))
            return cls(origin=Origin(str(value["origin"])), keys=_parse_keys(value["keys"]),
                       tsa_roots=roots, stations=stations)
        except (KeyError, TypeError, ValueError) as exc:
            raise VerificationError(f"malformed trust root: {exc}", step=step) from exc

    @classmethod
    def from_json(cls, data: bytes) -> TrustRoot:
        try:
            value = json.loads(data)
        except ValueError as exc:
            raise VerificationError(f"trust root is not JSON: {exc}", step="trust-root") from exc
        return cls.from_dict(value)
