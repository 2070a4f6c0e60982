"""The bureau's station API over HTTP (api/http/rest_stations.py), for a station: satisfies
``ledger.forwarding.BureauPort`` and files registrations. httpx errors and error answers become
evidence.errors families: unreachable or 5xx → UnavailableError (retried with backoff), the
bureau's refusals keep their family and Chinese detail (with the step of a failed verification).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

import httpx

from evidence.errors import (
    ConflictError,
    LiuhenError,
    NotFoundError,
    NotPermittedError,
    PolicyViolationError,
    UnavailableError,
    VerificationError,
)
from evidence.identity import InvalidInputError
from evidence.records import ObjectReceipt

_FAMILIES: dict[str, type[LiuhenError]] = {
    "conflict": ConflictError, "not_found": NotFoundError,
    "policy_violation": PolicyViolationError, "invalid_request": InvalidInputError,
    "unauthorized": PolicyViolationError, "forbidden": NotPermittedError,
}


OBJECT_ANSWER_S = 900.0
"""How long an object upload waits for the bureau's answer once the bytes are sent: it stores
them under Object Lock and re-hashes what its store holds before the receipt (a 1 GiB object
on a loaded bureau took over a minute in bench/stations_sync_bench.py)."""


class BureauClient:
    def __init__(self, url: str, *, token: str | None = None, timeout_s: float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        """``token``: the station's API token, issued by ``liuhen stations approve`` (only the
        registration goes without one)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s,
                                    transport=transport, headers=headers)

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, body: object | None = None, *,
              content: BinaryIO | None = None) -> dict[str, Any]:
        try:
            if content is not None:
                response = self._client.request(
                    method, path, content=iter(lambda: content.read(1 << 20), b""),
                    headers={"Content-Type": "application/octet-stream"},
                    timeout=httpx.Timeout(self._client.timeout.connect,
                                          read=OBJECT_ANSWER_S))
            else:
                response = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise UnavailableError(f"无法连接局端 {self._client.base_url}：{exc} "
                                   "(bureau unreachable)") from exc
        try:
            value = response.json()
        except ValueError:
            value = {}
        if response.status_code < 400:
            if not isinstance(value, dict):
                raise UnavailableError(f"局端应答不是 JSON 对象 (HTTP {response.status_code})")
            return value
        detail = str(value.get("detail", response.text[:300])) if isinstance(value, dict) \
            else response.text[:300]
        code = value.get("error") if isinstance(value, dict) else None
        if response.status_code >= 500:
            raise UnavailableError(f"局端暂不可用 (HTTP {response.status_code})：{detail}")
        if code == "verification_failed" and isinstance(value, dict):
            index = value.get("index")
            raise VerificationError(f"局端拒绝：{detail}", step=str(value.get("step") or ""),
                                    index=index if isinstance(index, int) else None)
        family = _FAMILIES.get(str(code), PolicyViolationError)
        raise family(f"局端拒绝 (HTTP {response.status_code})：{detail}")

    def certificate_login(self, cert_pem: str, sign: Callable[[bytes], bytes]) -> dict[str, Any]:
        """Sign in with an SM2 certificate (docs/access.md §9): a challenge, ``sign`` over its
        bytes (DER), the answer; the session as ``POST /api/login`` answers it."""
        challenge = str(self._call("POST", "/api/login/challenge")["challenge"])
        signature = base64.b64encode(sign(challenge.encode())).decode()
        return self._call("POST", "/api/login/certificate", {
            "challenge": challenge, "certificate": cert_pem, "signature": signature})

    def bureau_origin(self) -> str:
        return str(self._call("GET", "/api/stations/bureau")["origin"])

    def register(self, station_id: str, *, origin: str,
                 keys: Sequence[dict[str, object]]) -> str:
        """File the registration; the station's status (``pending`` until approved)."""
        answer = self._call("POST", "/api/stations/register",
                            {"station_id": station_id, "origin": origin, "keys": list(keys)})
        return str(answer["status"])

    def acknowledged(self, station_id: str) -> int:
        return int(self._call("GET", f"/api/stations/{station_id}")["size"])

    def push(self, station_id: str, *, start: int, entries: Sequence[bytes],
             note: bytes) -> int:
        answer = self._call("POST", f"/api/stations/{station_id}/push", {
            "start": start, "entries": [base64.b64encode(e).decode() for e in entries],
            "note": note.decode()})
        return int(answer["size"])

    def put_object(self, station_id: str, index: int, stream: BinaryIO) -> ObjectReceipt:
        answer = self._call("PUT", f"/api/stations/{station_id}/objects/{index}",
                            content=stream)
        try:
            return ObjectReceipt(station_id=str(answer["station_id"]), index=int(answer["index"]),
                                 size=int(answer["size"]), sha256=str(answer["sha256"]),
                                 sm3=str(answer["sm3"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise UnavailableError(f"局端的对象回执不完整 (incomplete receipt): {exc}") from exc

