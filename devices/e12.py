"""The "E12" transport of Android recorders: the GA/T 947.4 functions over TCP (issue 19).

What public vendor code documents, and this module keeps to:

- a message is a 4-byte length then a GBK payload (the length is big-endian, as Java's
  ``DataOutputStream.writeInt`` the recorders' apps use writes it);
- commands are ``E12CMDS001`` … ``E12CMDS013`` (the standard set), ``E12CMDN…`` (vendor
  extensions) and ``E12CMDD…`` (one-way: reboot, FTP start/stop; no reply);
- replies are ``E12DATR…``; ``E12DATR880`` means "processing, wait" and may come several times
  before the answer;
- the send timeout is 3 s and the read timeout 5 s (each "processing" reply restarts it);
- ``SyncDevTime`` sends the PC's time string after the command;
- ``ZFY_INFO`` travels as 89 bytes: 7 + 6 + 32 + 12 + 32, GBK, NUL-padded (no terminator when a
  field is full), where the DLL's struct is 94 (``devices.zfy``: each field one byte longer).

What the documents leave open is fixed here (and by the simulator, ``devices.sim.e12sim``):
fields after the command code are separated by ``|``; the password travels as its 6 bytes in
hex; a reply is ``E12DATR<nnn>|<status>[|<data>]`` where ``nnn`` repeats the command number and
``status`` is the GA/T 947.4 code (1–8, ``devices.gat947.Gat947Status``); the standard numbers
are :data:`COMMANDS`. Times are the recorder's wall clock, ``YYYY-MM-DD HH:MM:SS``.

Errors: the connection failing, refused or timing out is ``OSError`` (the driver makes it
``UnavailableError``: re-dock); a reply that breaks the protocol is ``VerificationError``
(step ``e12``).
"""

from __future__ import annotations

import socket
import struct
import threading
from datetime import datetime

from devices.zfy import FIELDS, ZFY_INFO_BYTES
from evidence.errors import PolicyViolationError, VerificationError

ENCODING = "gbk"
SEND_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 5.0
MAX_PROCESSING = 12
""""Processing" replies accepted for one command (12 × 5 s: a minute) before giving up."""
MAX_MESSAGE = 64 * 1024
PROCESSING = "E12DATR880"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

COMMANDS = {
    "GetIDCode": 1, "Init_Device": 2, "UnInit_Device": 3, "GetZFYInfo": 4, "WriteZFYInfo": 5,
    "SyncDevTime": 6, "SetMSDC": 7, "ReadDeviceResolution": 8,
    "ReadDeviceBatteryDumpEnergy": 9, "ReadDevTime": 10,
}
"""The standard set's numbers (``E12CMDS%03d``); 11–13 (file list, storage, GPS) are not used
by a station, which reads the files over mass storage after ``SetMSDC``."""

WIRE_FIELDS = (7, 6, 32, 12, 32)
WIRE_ZFY_BYTES = sum(WIRE_FIELDS)  # 89
_LENGTH = struct.Struct(">I")


def zfy_from_wire(data: bytes) -> bytes:
    """The 94-byte ``ZFY_INFO`` of ``devices.zfy`` from the 89 bytes an E12 recorder sends."""
    if len(data) != WIRE_ZFY_BYTES:
        raise VerificationError(f"E12 ZFY_INFO is {len(data)} bytes, expected {WIRE_ZFY_BYTES}",
                                step="e12")
    out, offset = bytearray(), 0
    for wire, (_, size) in zip(WIRE_FIELDS, FIELDS, strict=True):
        out += data[offset:offset + wire].rstrip(b"\x00").ljust(size, b"\x00")
        offset += wire
    return bytes(out)


def zfy_to_wire(info: bytes) -> bytes:
    """The 89 wire bytes of a 94-byte ``ZFY_INFO`` (a value that fills its DLL field exactly
    fits the wire field, which has no terminator)."""
    if len(info) != ZFY_INFO_BYTES:
        raise PolicyViolationError(f"ZFY_INFO is {len(info)} bytes, expected {ZFY_INFO_BYTES}")
    out, offset = bytearray(), 0
    for wire, (name, size) in zip(WIRE_FIELDS, FIELDS, strict=True):
        value = info[offset:offset + size].split(b"\x00", 1)[0]
        if len(value) > wire:
            raise PolicyViolationError(f"ZFY_INFO.{name} takes {len(value)} GBK bytes; the E12 "
                                       f"wire field holds {wire}")
        out += value.ljust(wire, b"\x00")
        offset += size
    return bytes(out)


def send_message(sock: socket.socket, payload: bytes) -> None:
    if len(payload) > MAX_MESSAGE:
        raise PolicyViolationError(f"E12 message of {len(payload)} bytes (at most {MAX_MESSAGE})")
    sock.sendall(_LENGTH.pack(len(payload)) + payload)


def _read_exact(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionResetError("E12: the recorder closed the connection mid-message")
        data += chunk
    return bytes(data)


def read_message(sock: socket.socket) -> bytes:
    (length,) = _LENGTH.unpack(_read_exact(sock, _LENGTH.size))
    if length > MAX_MESSAGE:
        raise VerificationError(f"E12 message announces {length} bytes (at most {MAX_MESSAGE})",
                                step="e12")
    return _read_exact(sock, length)


class E12Transport:
    """``Gat947Transport`` over one TCP connection to an Android recorder (through ``adb
    forward`` on a station: ``devices.adb``). One command at a time (a lock): the recorder
    answers in order."""

    def __init__(self, host: str, port: int, *, send_timeout: float = SEND_TIMEOUT_S,
                 read_timeout: float = READ_TIMEOUT_S) -> None:
        self._address = (host, port)
        self._send_timeout, self._read_timeout = send_timeout, read_timeout
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def _connected(self) -> socket.socket:
        if self._sock is None:
            self._sock = socket.create_connection(self._address, timeout=self._send_timeout)
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _ask(self, function: str, *fields: bytes) -> tuple[int, bytes]:
        """(status, data) of one command; the connection is dropped on any failure (the next
        command reconnects)."""
        number = COMMANDS[function]
        payload = b"|".join((f"E12CMDS{number:03d}".encode(ENCODING), *fields))
        expected = f"E12DATR{number:03d}".encode(ENCODING)
        with self._lock:
            try:
                sock = self._connected()
                sock.settimeout(self._send_timeout)
                send_message(sock, payload)
                sock.settimeout(self._read_timeout)
                for _ in range(MAX_PROCESSING + 1):
                    reply = read_message(sock)
                    if reply != PROCESSING.encode(ENCODING):
                        return _parse(function, expected, reply)
                raise TimeoutError(f"E12 {function}: still processing after "
                                   f"{MAX_PROCESSING} waits")
            except BaseException:
                self.close()
                raise

    # -- the GA/T 947.4 functions ----------------------------------------------------------
    def get_id_code(self) -> str:
        return _text(self._ask("GetIDCode")[1])

    def init_device(self, id_code: str) -> int:
        return self._ask("Init_Device", id_code.encode(ENCODING))[0]

    def uninit_device(self) -> None:
        try:
            self._ask("UnInit_Device")
        finally:
            self.close()

    def get_zfy_info(self, password: bytes) -> tuple[int, bytes]:
        status, data = self._ask("GetZFYInfo", password.hex().encode())
        return status, (zfy_from_wire(data) if data else b"")

    def write_zfy_info(self, info: bytes, password: bytes) -> int:
        return self._ask("WriteZFYInfo", password.hex().encode(), zfy_to_wire(info))[0]

    def sync_dev_time(self, password: bytes, wall_clock: datetime) -> int:
        return self._ask("SyncDevTime", password.hex().encode(),
                         wall_clock.strftime(TIME_FORMAT).encode())[0]

    def set_msdc(self, password: bytes) -> int:
        return self._ask("SetMSDC", password.hex().encode())[0]

    def read_device_resolution(self) -> tuple[int, int]:
        text = _text(self._ask("ReadDeviceResolution")[1])
        width, sep, height = text.partition("x")
        if not (sep and width.isdigit() and height.isdigit()):
            raise VerificationError(f"E12 resolution {text!r} is not WIDTHxHEIGHT", step="e12")
        return int(width), int(height)

    def read_device_battery_dump_energy(self) -> int:
        text = _text(self._ask("ReadDeviceBatteryDumpEnergy")[1])
        if not text.isdigit() or int(text) > 100:
            raise VerificationError(f"E12 battery {text!r} is not a percentage", step="e12")
        return int(text)

    def read_dev_time(self) -> datetime:
        text = _text(self._ask("ReadDevTime")[1])
        try:
            return datetime.strptime(text, TIME_FORMAT)
        except ValueError as exc:
            raise VerificationError(f"E12 clock {text!r} is not {TIME_FORMAT}", step="e12") from exc


def _parse(function: str, expected: bytes, reply: bytes) -> tuple[int, bytes]:
    head, _, rest = reply.partition(b"|")
    if head != expected:
        raise VerificationError(f"E12 {function}: reply {head[:16]!r}, expected {expected!r}",
                                step="e12")
    status, _, data = rest.partition(b"|")
    if not status.isdigit() or not 1 <= int(status) <= 8:
        raise VerificationError(f"E12 {function}: status {status[:8]!r} is not 1–8", step="e12")
    return int(status), data


def _text(data: bytes) -> str:
    try:
        return data.decode(ENCODING)
    except UnicodeDecodeError as exc:
        raise VerificationError("E12 reply is not GBK text", step="e12") from exc
