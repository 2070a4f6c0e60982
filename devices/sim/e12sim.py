"""An Android recorder speaking E12 on loopback (``devices.e12``): the conformance simulator the
tests and ``liuhen station --simulate`` use, over a ``SimulatedRecorder``'s GA/T 947.4 session.

Faults, as recorders show them: ``processing`` "E12DATR880" replies before each answer, a
recorder that goes ``silent`` on a command (never answers: the read timeout), one that ``drops``
the connection half-way through its answer, and unknown commands answered ``E12DATR999``.
One-way ``E12CMDD…`` commands get no reply.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from devices.e12 import (
    COMMANDS,
    ENCODING,
    PROCESSING,
    TIME_FORMAT,
    read_message,
    send_message,
    zfy_from_wire,
    zfy_to_wire,
)
from devices.sim.device import SimulatedRecorder
from devices.sim.loopback import LoopbackServer

_BY_NUMBER = {number: name for name, number in COMMANDS.items()}


@dataclass
class E12Faults:
    processing: int = 0
    """"Processing" replies sent before every answer."""
    silent: set[str] = field(default_factory=set)
    """Functions the recorder never answers."""
    drops: set[str] = field(default_factory=set)
    """Functions whose answer stops half-way and the connection closes."""


class E12Simulator(LoopbackServer):
    """One simulated recorder on loopback; a context manager (``devices.sim.loopback``)."""

    def __init__(self, recorder: SimulatedRecorder, faults: E12Faults | None = None) -> None:
        super().__init__()
        self.recorder = recorder
        self.faults = faults or E12Faults()
        self.commands: list[str] = []

    def serve(self, sock: socket.socket) -> None:
        try:
            while True:
                request = read_message(sock)
                reply = self._answer(request)
                if reply is None:
                    continue
                if reply == b"":  # dropped half-way
                    sock.sendall(b"\x00\x00")
                    return
                for _ in range(self.faults.processing):
                    send_message(sock, PROCESSING.encode(ENCODING))
                send_message(sock, reply)
        except (OSError, ValueError):
            return  # the station hung up, or the recorder "dropped"

    def _answer(self, request: bytes) -> bytes | None:
        code, *fields = request.split(b"|", 2)  # the last field may hold "|" bytes (GBK)
        text = code.decode(ENCODING, errors="replace")
        self.commands.append(text)
        if text.startswith("E12CMDD"):
            return None  # one-way
        name = _BY_NUMBER.get(int(text[7:])) if text[:7] == "E12CMDS" and text[7:].isdigit() \
            else None
        if name is None:
            return b"E12DATR999|2"
        if name in self.faults.silent:
            return None
        if name in self.faults.drops:
            return b""
        head = f"E12DATR{COMMANDS[name]:03d}".encode()
        try:
            status, data = self._call(name, fields)
        except OSError:
            status, data = 2, b""  # unplugged under the session: connect failed
        return b"|".join((head, str(status).encode(), data)) if data else \
            b"|".join((head, str(status).encode()))

    def _call(self, name: str, fields: list[bytes]) -> tuple[int, bytes]:
        r = self.recorder
        if name == "Init_Device":
            return r.init_device(fields[0].decode(ENCODING)), b""
        pwd = bytes.fromhex(fields[0].decode()) if fields else b""

        def zfy() -> tuple[int, bytes]:
            status, info = r.get_zfy_info(pwd)
            return status, zfy_to_wire(info) if info else b""

        def uninit() -> tuple[int, bytes]:
            r.uninit_device()
            return 1, b""

        def resolution() -> tuple[int, bytes]:
            width, height = r.read_device_resolution()
            return 1, f"{width}x{height}".encode()

        calls: dict[str, Callable[[], tuple[int, bytes]]] = {
            "GetIDCode": lambda: (1, r.get_id_code().encode(ENCODING)),
            "UnInit_Device": uninit,
            "GetZFYInfo": zfy,
            "WriteZFYInfo": lambda: (r.write_zfy_info(zfy_from_wire(fields[1]), pwd), b""),
            "SyncDevTime": lambda: (r.sync_dev_time(
                pwd, datetime.strptime(fields[1].decode(), TIME_FORMAT)), b""),
            "SetMSDC": lambda: (r.set_msdc(pwd), b""),
            "ReadDeviceResolution": resolution,
            "ReadDeviceBatteryDumpEnergy": lambda: (
                1, str(r.read_device_battery_dump_energy()).encode()),
            "ReadDevTime": lambda: (1, r.read_dev_time().strftime(TIME_FORMAT).encode()),
        }
        return calls[name]()

