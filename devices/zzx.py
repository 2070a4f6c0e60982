"""The "ZZX" transport of Android recorders: the GA/T 947.4 functions as line-delimited JSON
(issue 19).

What public vendor code documents, and this module keeps to: each message is one JSON object on
one line, ``{"Head": {"FunctionID": …}, "Body": …}``, on a server socket the recorder's app opens
(a station reaches it through ``adb forward``, ``devices.adb``); the protocol has more functions
than the standard's nine (GPS, loop recording, users, storage, login), which a station does not
need.

What the documents leave open is fixed here (and by the simulator, ``devices.sim.zzxsim``): the
function ids are the DLL's function names (:data:`FUNCTIONS`); the Head carries ``Seq`` (the
request's number, repeated in the reply) and the reply's ``Result`` (the GA/T 947.4 status 1–8);
the password travels as ``Body.Password`` in hex; ``ZFY_INFO`` as the struct's five fields by
name; times as ``YYYY-MM-DD HH:MM:SS`` in the recorder's wall clock. Lines are UTF-8, at most
64 KiB; the send timeout is 3 s and the read timeout 5 s, as for E12.

Errors: the connection failing or timing out is ``OSError`` (the driver makes it
``UnavailableError``); a reply that is not JSON, answers another request or lacks a field is
``VerificationError`` (step ``zzx``).
"""

from __future__ import annotations

import json
import socket
import threading
from datetime import datetime
from typing import Any

from devices.e12 import READ_TIMEOUT_S, SEND_TIMEOUT_S, TIME_FORMAT
from devices.zfy import ZfyInfo
from evidence.errors import VerificationError
from evidence.ids import DeviceSerial, OfficerNo
from evidence.records import Officer

MAX_LINE = 64 * 1024
FUNCTIONS = ("GetIDCode", "Init_Device", "UnInit_Device", "GetZFYInfo", "WriteZFYInfo",
             "SyncDevTime", "SetMSDC", "ReadDeviceResolution", "ReadDeviceBatteryDumpEnergy",
             "ReadDevTime")
ZFY_FIELDS = ("cSerial", "userNo", "userName", "unitNo", "unitName")


def zfy_to_body(info: bytes) -> dict[str, str]:
    z = ZfyInfo.unpack(info)
    values = (z.serial, z.officer.officer_no, z.officer.name, z.officer.unit_no,
              z.officer.unit_name)
    return dict(zip(ZFY_FIELDS, values, strict=True))


def zfy_from_body(body: dict[str, Any]) -> bytes:
    try:
        values = [str(body[name]) for name in ZFY_FIELDS]
    except KeyError as exc:
        raise VerificationError(f"ZZX ZFY_INFO lacks {exc.args[0]}", step="zzx") from exc
    serial, number, name, unit_no, unit_name = values
    return ZfyInfo(DeviceSerial(serial), Officer(OfficerNo(number), name, unit_no,
                                                 unit_name)).pack()


def send_line(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(json.dumps(message, ensure_ascii=False).encode() + b"\n")


class LineReader:
    """Lines from a socket, each at most MAX_LINE bytes."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()

    def line(self) -> bytes:
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise VerificationError(f"ZZX line longer than {MAX_LINE} bytes", step="zzx")
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("ZZX: the recorder closed the connection mid-line")
            self._buffer += chunk
        line, _, rest = self._buffer.partition(b"\n")
        self._buffer = bytearray(rest)
        return bytes(line)


class ZzxTransport:
    """``Gat947Transport`` over one TCP connection to a ZZX recorder; one request at a time."""

    def __init__(self, host: str, port: int, *, send_timeout: float = SEND_TIMEOUT_S,
                 read_timeout: float = READ_TIMEOUT_S) -> None:
        self._address = (host, port)
        self._send_timeout, self._read_timeout = send_timeout, read_timeout
        self._sock: socket.socket | None = None
        self._reader: LineReader | None = None
        self._seq = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = self._reader = None

    def _ask(self, function: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        with self._lock:
            try:
                if self._sock is None or self._reader is None:
                    self._sock = socket.create_connection(self._address,
                                                          timeout=self._send_timeout)
                    self._reader = LineReader(self._sock)
                sock, reader = self._sock, self._reader
                self._seq += 1
                sock.settimeout(self._send_timeout)
                send_line(sock, {"Head": {"FunctionID": function, "Seq": self._seq},
                                 "Body": body or {}})
                sock.settimeout(self._read_timeout)
                return _parse(function, self._seq, reader.line())
            except BaseException:
                self.close()
                raise

    def get_id_code(self) -> str:
        return str(self._ask("GetIDCode")[1].get("IDCode", ""))

    def init_device(self, id_code: str) -> int:
        return self._ask("Init_Device", {"IDCode": id_code})[0]

    def uninit_device(self) -> None:
        try:
            self._ask("UnInit_Device")
        finally:
            self.close()

    def get_zfy_info(self, password: bytes) -> tuple[int, bytes]:
        status, body = self._ask("GetZFYInfo", {"Password": password.hex()})
        return status, (zfy_from_body(body) if body else b"")

    def write_zfy_info(self, info: bytes, password: bytes) -> int:
        return self._ask("WriteZFYInfo", {"Password": password.hex(), **zfy_to_body(info)})[0]

    def sync_dev_time(self, password: bytes, wall_clock: datetime) -> int:
        return self._ask("SyncDevTime", {"Password": password.hex(),
                                         "Time": wall_clock.strftime(TIME_FORMAT)})[0]

    def set_msdc(self, password: bytes) -> int:
        return self._ask("SetMSDC", {"Password": password.hex()})[0]

    def read_device_resolution(self) -> tuple[int, int]:
        body = self._ask("ReadDeviceResolution")[1]
        return _int(body, "Width", 1 << 16), _int(body, "Height", 1 << 16)

    def read_device_battery_dump_energy(self) -> int:
        return _int(self._ask("ReadDeviceBatteryDumpEnergy")[1], "Battery", 100)

    def read_dev_time(self) -> datetime:
        text = str(self._ask("ReadDevTime")[1].get("Time", ""))
        try:
            return datetime.strptime(text, TIME_FORMAT)
        except ValueError as exc:
            raise VerificationError(f"ZZX clock {text!r} is not {TIME_FORMAT}", step="zzx") from exc


def _parse(function: str, seq: int, line: bytes) -> tuple[int, Any]:
    try:
        message = json.loads(line)
        head, body = message["Head"], message.get("Body") or {}
        answered, status = head["FunctionID"], head["Result"]
    except (ValueError, KeyError, TypeError) as exc:
        raise VerificationError(f"ZZX {function}: reply is not a ZZX message ({exc})",
                                step="zzx") from exc
    if answered != function or head.get("Seq") != seq:
        raise VerificationError(f"ZZX {function}: reply to {answered!r} #{head.get('Seq')}, "
                                f"expected #{seq}", step="zzx")
    if not isinstance(status, int) or not 1 <= status <= 8 or not isinstance(body, dict):
        raise VerificationError(f"ZZX {function}: Result {status!r} is not 1–8", step="zzx")
    return status, body


def _int(body: dict[str, Any], name: str, limit: int) -> int:
    value = body.get(name)
    if not isinstance(value, int) or not 0 <= value <= limit:
        raise VerificationError(f"ZZX {name} {value!r} is not a number up to {limit}",
                                step="zzx")
    return value
