"""An Android recorder speaking ZZX JSON on loopback (``devices.zzx``): the conformance
simulator of the tests and ``liuhen station --simulate-zzx``, over a ``SimulatedRecorder``.

Beyond the GA/T 947.4 functions it answers some of ZZX's own (``GetGPS``, ``GetStorage``), as
the recorders do. Faults: a recorder ``silent`` on a function (the read timeout), one that
``drops`` the connection half-way through a line, one that answers ``garbage`` (not JSON).
Unknown functions are answered with ``Result`` 2.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devices.e12 import TIME_FORMAT
from devices.sim.device import SimulatedRecorder
from devices.sim.loopback import LoopbackServer
from devices.zzx import LineReader, send_line, zfy_from_body, zfy_to_body


@dataclass
class ZzxFaults:
    silent: set[str] = field(default_factory=set)
    drops: set[str] = field(default_factory=set)
    garbage: set[str] = field(default_factory=set)


class ZzxSimulator(LoopbackServer):
    """One simulated recorder on loopback; a context manager (``devices.sim.loopback``)."""

    def __init__(self, recorder: SimulatedRecorder, faults: ZzxFaults | None = None) -> None:
        super().__init__()
        self.recorder = recorder
        self.faults = faults or ZzxFaults()
        self.functions: list[str] = []

    def serve(self, sock: socket.socket) -> None:
        reader = LineReader(sock)
        try:
            while True:
                request = json.loads(reader.line())
                head, body = request["Head"], request.get("Body") or {}
                function = str(head["FunctionID"])
                self.functions.append(function)
                if function in self.faults.silent:
                    continue
                if function in self.faults.drops:
                    sock.sendall(b'{"Head": {"Funct')
                    return
                if function in self.faults.garbage:
                    sock.sendall(b"<html>502</html>\n")
                    continue
                try:
                    status, answer = self._call(function, body)
                except OSError:
                    status, answer = 2, {}
                send_line(sock, {"Head": {"FunctionID": function, "Seq": head.get("Seq"),
                                          "Result": status}, "Body": answer})
        except (OSError, ValueError, KeyError):
            return

    def _call(self, function: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        r = self.recorder
        pwd = bytes.fromhex(str(body.get("Password", "")))

        def zfy() -> tuple[int, dict[str, Any]]:
            status, info = r.get_zfy_info(pwd)
            return status, zfy_to_body(info) if info else {}

        def uninit() -> tuple[int, dict[str, Any]]:
            r.uninit_device()
            return 1, {}

        def resolution() -> tuple[int, dict[str, Any]]:
            width, height = r.read_device_resolution()
            return 1, {"Width": width, "Height": height}

        calls: dict[str, Callable[[], tuple[int, dict[str, Any]]]] = {
            "GetIDCode": lambda: (1, {"IDCode": r.get_id_code()}),
            "Init_Device": lambda: (r.init_device(str(body.get("IDCode", ""))), {}),
            "UnInit_Device": uninit,
            "GetZFYInfo": zfy,
            "WriteZFYInfo": lambda: (r.write_zfy_info(zfy_from_body(body), pwd), {}),
            "SyncDevTime": lambda: (r.sync_dev_time(
                pwd, datetime.strptime(str(body.get("Time")), TIME_FORMAT)), {}),
            "SetMSDC": lambda: (r.set_msdc(pwd), {}),
            "ReadDeviceResolution": resolution,
            "ReadDeviceBatteryDumpEnergy": lambda: (
                1, {"Battery": r.read_device_battery_dump_energy()}),
            "ReadDevTime": lambda: (1, {"Time": r.read_dev_time().strftime(TIME_FORMAT)}),
            "GetGPS": lambda: (1, {"Latitude": 39.9087, "Longitude": 116.3975, "Fix": True}),
            "GetStorage": lambda: (1, {"TotalMB": 65536, "FreeMB": 41230}),
        }
        call = calls.get(function)
        return (2, {}) if call is None else call()
