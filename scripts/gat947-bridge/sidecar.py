#!/usr/bin/env python3
"""liuhen GA/T 947.4 bridge sidecar: the vendor's recorder DLL, on the Windows host the recorders
are plugged into, offered to a Linux docking station over TCP (README.md beside this file).

Standard library only (Python 3.8+): ``ctypes`` loads the DLL (``WinDLL``, stdcall, on Windows;
``CDLL`` elsewhere, as the tests load a stand-in library). One JSON object a line, UTF-8:

    → {"seq": 0, "call": "hello", "token": "<the shared token>"}
    ← {"seq": 0, "ret": 1, "sidecar": "liuhen-gat947-bridge/1", "dll": "<file name>"}
    → {"seq": 1, "call": "GetZFYInfo", "password": "<6 bytes in hex>"}
    ← {"seq": 1, "ret": 3, "zfy": "<the 94-byte ZFY_INFO in hex>"}

Calls: GetIDCode, Init_Device (``id``), UnInit_Device, GetZFYInfo, WriteZFYInfo (``zfy``),
SyncDevTime (``time``: the station's clock as the host's wall-clock string), SetMSDC,
ReadDeviceResolution, ReadDeviceBatteryDumpEnergy, ReadDevTime (a vendor extension; answered
``{"error": "not_supported"}`` when the DLL lacks it). ``ret`` is the function's own iRet (1–8).
SyncDevTime sets the recorder to the *host's* clock (the DLL takes no time): the sidecar refuses
(ret 6) when the station's time and the host's (in the recorders' zone, ``--zone``, China
Standard Time by default) differ by more than ``--max-skew`` seconds.
A connection must say hello with the token first; anything else closes it. Errors are
``{"seq": n, "error": code, "message": text}``. One connection at a time (the DLL is not
re-entrant).
"""

from __future__ import annotations

import argparse
import ctypes
import hmac
import json
import socket
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any

VERSION = "liuhen-gat947-bridge/1"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
ZFY_INFO_BYTES = 94
MAX_LINE = 64 * 1024


class Dll:
    """The nine GA/T 947.4 functions (and ReadDevTime when exported) through ctypes."""

    def __init__(self, path: str, zone: float) -> None:
        self.zone = zone
        loader = getattr(ctypes, "WinDLL", ctypes.CDLL)
        self.name = path.replace("\\", "/").rsplit("/", 1)[-1]
        self._lib = loader(path)
        for name in ("GetIDCode", "Init_Device", "UnInit_Device", "GetZFYInfo", "WriteZFYInfo",
                     "SyncDevTime", "SetMSDC", "ReadDeviceResolution",
                     "ReadDeviceBatteryDumpEnergy"):
            getattr(self._lib, name).restype = ctypes.c_int
        self.has_clock = hasattr(self._lib, "ReadDevTime")

    def call(self, name: str, request: dict[str, Any],  # noqa: PLR0911 - one branch a call
             max_skew: float) -> dict[str, Any]:
        lib = self._lib
        pwd = bytes.fromhex(request.get("password", "")) if "password" in request else b""
        if name == "GetIDCode":
            out = ctypes.create_string_buffer(16)
            return {"ret": lib.GetIDCode(out), "id": out.value.decode("ascii", "replace")}
        if name == "Init_Device":
            return {"ret": lib.Init_Device(str(request["id"]).encode("ascii"))}
        if name == "UnInit_Device":
            return {"ret": lib.UnInit_Device()}
        if name == "GetZFYInfo":
            buf = ctypes.create_string_buffer(ZFY_INFO_BYTES)
            ret = lib.GetZFYInfo(buf, ctypes.c_char_p(pwd))
            return {"ret": ret, "zfy": buf.raw.hex() if ret == 3 else ""}
        if name == "WriteZFYInfo":
            data = bytes.fromhex(request["zfy"])
            if len(data) != ZFY_INFO_BYTES:
                raise ValueError(f"zfy is {len(data)} bytes, expected {ZFY_INFO_BYTES}")
            return {"ret": lib.WriteZFYInfo(ctypes.create_string_buffer(data, ZFY_INFO_BYTES),
                                            ctypes.c_char_p(pwd))}
        if name == "SyncDevTime":
            asked = datetime.strptime(request["time"], TIME_FORMAT)
            now = datetime.now(timezone.utc)  # noqa: UP017 - the host may run Python 3.8
            here = now.replace(tzinfo=None) + timedelta(hours=self.zone)
            if abs((asked - here).total_seconds()) > max_skew:
                return {"ret": 6, "message": "the station's time and this host's differ"}
            return {"ret": lib.SyncDevTime(ctypes.c_char_p(pwd))}
        if name == "SetMSDC":
            return {"ret": lib.SetMSDC(ctypes.c_char_p(pwd))}
        if name == "ReadDeviceResolution":
            w, h = ctypes.c_int(), ctypes.c_int()
            return {"ret": lib.ReadDeviceResolution(ctypes.byref(w), ctypes.byref(h)),
                    "width": w.value, "height": h.value}
        if name == "ReadDeviceBatteryDumpEnergy":
            pct = ctypes.c_int()
            return {"ret": lib.ReadDeviceBatteryDumpEnergy(ctypes.byref(pct)),
                    "percent": pct.value}
        if name == "ReadDevTime":
            if not self.has_clock:
                return {"error": "not_supported", "message": "the DLL has no ReadDevTime"}
            out = ctypes.create_string_buffer(32)
            return {"ret": lib.ReadDevTime(out), "time": out.value.decode("ascii", "replace")}
        return {"error": "unknown_call", "message": name}


def serve(dll: Dll, listener: socket.socket, token: str, max_skew: float) -> None:
    while True:
        conn, peer = listener.accept()
        with conn:
            try:
                session(dll, conn, token, max_skew)
            except (OSError, ValueError) as exc:
                print(f"{time.strftime(TIME_FORMAT)} {peer[0]}: {exc}", file=sys.stderr)


def session(dll: Dll, conn: socket.socket, token: str, max_skew: float) -> None:
    reader = conn.makefile("rb")
    said_hello = False
    while True:
        line = reader.readline(MAX_LINE + 1)
        if not line or len(line) > MAX_LINE:
            return
        request = json.loads(line)
        seq, name = request.get("seq"), str(request.get("call"))
        if not said_hello:
            if name != "hello" or not hmac.compare_digest(str(request.get("token", "")), token):
                send(conn, {"seq": seq, "error": "unauthorised", "message": "hello with the token"})
                return
            said_hello = True
            send(conn, {"seq": seq, "ret": 1, "sidecar": VERSION, "dll": dll.name})
            continue
        try:
            answer = dll.call(name, request, max_skew)
        except (KeyError, ValueError) as exc:
            answer = {"error": "bad_request", "message": str(exc)}
        send(conn, {"seq": seq, **answer})


def send(conn: socket.socket, message: dict[str, Any]) -> None:
    conn.sendall(json.dumps(message).encode() + b"\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dll", required=True, help="the vendor's GA/T 947.4 DLL")
    parser.add_argument("--listen", default="127.0.0.1:9530", help="HOST:PORT (port 0: any)")
    parser.add_argument("--token-file", required=True, help="a file holding the shared token")
    parser.add_argument("--max-skew", type=float, default=2.0,
                        help="seconds the station's and this host's clocks may differ")
    parser.add_argument("--zone", type=float, default=8.0,
                        help="the recorders' zone, hours from UTC (China Standard Time: 8)")
    args = parser.parse_args(argv)
    with open(args.token_file, encoding="utf-8") as fh:
        token = fh.read().strip()
    if len(token) < 16:
        parser.error("the token must be at least 16 characters")
    host, _, port = args.listen.rpartition(":")
    listener = socket.create_server((host, int(port)))
    print(f"listening on {host}:{listener.getsockname()[1]}", flush=True)
    serve(Dll(args.dll, args.zone), listener, token, args.max_skew)
    return 0


if __name__ == "__main__":
    sys.exit(main())
