"""The GA/T 947.4 bridge: a recorder vendor's Windows DLL driven from a Linux station through the
sidecar in scripts/gat947-bridge/ (its docstring is the protocol: one JSON object a line, a hello
with a shared token, the DLL's own iRet codes). USB recorders whose vendor ships only a Windows
DLL dock on the Windows host; the station reads their files from the disk they present after
SetMSDC, shared to the station (``storage`` of the driver).

Errors: the sidecar unreachable, closing or timing out is ``OSError`` (the driver makes it
``UnavailableError``); a refused token is ``PolicyViolationError``; a DLL without ReadDevTime is
``NotFoundError`` (the station then records no clock offset); any other answer that breaks the
protocol is ``VerificationError`` (step ``bridge``).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from devices.docking import Docked
from devices.e12 import READ_TIMEOUT_S, SEND_TIMEOUT_S, TIME_FORMAT
from devices.gat947 import Gat947Driver
from devices.volume import Volume
from devices.zzx import LineReader, send_line
from evidence.errors import LiuhenError, NotFoundError, PolicyViolationError, VerificationError
from evidence.ids import DeviceSerial

SIDECAR_VERSION = "liuhen-gat947-bridge/1"


class BridgeTransport:
    """``Gat947Transport`` over a connection to the sidecar; one call at a time."""

    def __init__(self, host: str, port: int, *, token: str, send_timeout: float = SEND_TIMEOUT_S,
                 read_timeout: float = READ_TIMEOUT_S) -> None:
        self._address = (host, port)
        self._token = token
        self._send_timeout, self._read_timeout = send_timeout, read_timeout
        self._sock: socket.socket | None = None
        self._reader: LineReader | None = None
        self._seq = 0
        self._lock = threading.Lock()
        self.dll = ""
        """The DLL's file name, as the sidecar reported it at hello."""

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = self._reader = None

    def _exchange(self, sock: socket.socket, reader: LineReader,
                  message: dict[str, Any]) -> dict[str, Any]:
        self._seq += 1
        sock.settimeout(self._send_timeout)
        send_line(sock, {"seq": self._seq, **message})
        sock.settimeout(self._read_timeout)
        try:
            answer = json.loads(reader.line())
        except ValueError as exc:
            raise VerificationError(f"bridge {message['call']}: reply is not JSON",
                                    step="bridge") from exc
        if not isinstance(answer, dict) or answer.get("seq") != self._seq:
            raise VerificationError(f"bridge {message['call']}: reply to another call",
                                    step="bridge")
        return answer

    def _ask(self, call: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            try:
                if self._sock is None or self._reader is None:
                    sock = socket.create_connection(self._address, timeout=self._send_timeout)
                    self._sock, self._reader = sock, LineReader(sock)
                    hello = self._exchange(sock, self._reader,
                                           {"call": "hello", "token": self._token})
                    if hello.get("error") == "unauthorised":
                        raise PolicyViolationError("GA/T 947.4 桥接服务拒绝了令牌 "
                                                   "(the bridge sidecar refused the token)")
                    if hello.get("sidecar") != SIDECAR_VERSION:
                        raise VerificationError(f"bridge: sidecar {hello.get('sidecar')!r}, "
                                                f"expected {SIDECAR_VERSION}", step="bridge")
                    self.dll = str(hello.get("dll", ""))
                answer = self._exchange(self._sock, self._reader, {"call": call, **fields})
            except BaseException:
                self.close()
                raise
        if answer.get("error") == "not_supported":
            raise NotFoundError(f"bridge: the vendor DLL has no {call}")
        ret = answer.get("ret")
        if "error" in answer or not isinstance(ret, int) or not 1 <= ret <= 8:
            raise VerificationError(f"bridge {call}: {answer.get('error') or ret!r} "
                                    f"{answer.get('message', '')}".strip(), step="bridge")
        return answer

    def get_id_code(self) -> str:
        answer = self._ask("GetIDCode")
        if answer["ret"] != 1:
            raise ConnectionError(f"GetIDCode: no recorder on the bridge (iRet {answer['ret']})")
        return str(answer.get("id", ""))

    def init_device(self, id_code: str) -> int:
        return int(self._ask("Init_Device", id=id_code)["ret"])

    def uninit_device(self) -> None:
        try:
            self._ask("UnInit_Device")
        finally:
            self.close()

    def get_zfy_info(self, password: bytes) -> tuple[int, bytes]:
        answer = self._ask("GetZFYInfo", password=password.hex())
        return int(answer["ret"]), bytes.fromhex(str(answer.get("zfy", "")))

    def write_zfy_info(self, info: bytes, password: bytes) -> int:
        return int(self._ask("WriteZFYInfo", password=password.hex(), zfy=info.hex())["ret"])

    def sync_dev_time(self, password: bytes, wall_clock: datetime) -> int:
        return int(self._ask("SyncDevTime", password=password.hex(),
                             time=wall_clock.strftime(TIME_FORMAT))["ret"])

    def set_msdc(self, password: bytes) -> int:
        return int(self._ask("SetMSDC", password=password.hex())["ret"])

    def read_device_resolution(self) -> tuple[int, int]:
        answer = self._ask("ReadDeviceResolution")
        return int(answer.get("width", 0)), int(answer.get("height", 0))

    def read_device_battery_dump_energy(self) -> int:
        return int(self._ask("ReadDeviceBatteryDumpEnergy").get("percent", 0))

    def read_dev_time(self) -> datetime:
        text = str(self._ask("ReadDevTime").get("time", ""))
        try:
            return datetime.strptime(text, TIME_FORMAT)
        except ValueError as exc:
            raise VerificationError(f"bridge clock {text!r} is not {TIME_FORMAT}",
                                    step="bridge") from exc


class BridgeDockSource:
    """``DockSource`` over bridge sidecars (``LIUHEN_BRIDGE_SIDECARS``): a sidecar whose DLL sees
    a recorder (GetIDCode answers 1) docks it once, until the recorder is gone. A sidecar serves
    one connection at a time, so while its recorder docks a probe times out: that means busy,
    still there — only a refused connection or no recorder means gone."""

    def __init__(self, sidecars: list[tuple[str, int]], *, token: str,
                 storage: Callable[[DeviceSerial], Volume], probe_timeout: float = 0.5,
                 **timeouts: float) -> None:
        self._sidecars = sidecars
        self._token = token
        self._storage = storage
        self._probe = probe_timeout
        self._timeouts = timeouts
        self._docked: set[str] = set()
        self.unsupported: set[str] = set()

    def _present(self, host: str, port: int) -> bool | None:
        """True: a recorder; False: none (or no sidecar); None: busy (its recorder docks)."""
        probe = BridgeTransport(host, port, token=self._token, send_timeout=self._probe,
                                read_timeout=self._probe)
        try:
            probe.get_id_code()
        except TimeoutError:
            return None
        except (OSError, LiuhenError):
            return False
        finally:
            probe.close()
        return True

    def poll(self) -> list[Docked]:
        docked = []
        for host, port in self._sidecars:
            key = f"bridge:{host}:{port}"
            present = self._present(host, port)
            if present is False:
                self._docked.discard(key)
            if not present or key in self._docked:
                continue
            self._docked.add(key)
            transport = BridgeTransport(host, port, token=self._token, **self._timeouts)
            docked.append(Docked(serial=key, port=key,
                                 driver=Gat947Driver(transport, storage=self._storage)))
        return docked
