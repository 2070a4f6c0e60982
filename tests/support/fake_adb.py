"""A stand-in for Debian's ``adb`` CLI in tests: it answers ``devices``, ``forward tcp:0
tcp:REMOTE`` and ``forward --remove`` from a JSON state file the test writes
(``{"devices": {"SERIAL": "device"}, "ports": {"SERIAL": 40123}}``), where each port is the E12
simulator of that recorder (what a real forward would reach). Every call is appended to
``calls`` in the state file, so a test sees what the station asked of adb.

Run as ``python -m tests.support.fake_adb STATE ARGS...``."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    state_path, args = Path(argv[0]), argv[1:]
    state = json.loads(state_path.read_text())
    state.setdefault("calls", []).append(args)
    state_path.write_text(json.dumps(state))
    serial = None
    if args[:1] == ["-s"]:
        serial, args = args[1], args[2:]
    if args == ["devices"]:
        print("List of devices attached")
        for name, status in state["devices"].items():
            print(f"{name}\t{status}")
        return 0
    if args[:1] == ["forward"] and args[1:2] == ["--remove"]:
        return 0
    if args[:1] == ["forward"] and serial is not None:
        if state["devices"].get(serial) != "device":
            print(f"adb: error: device '{serial}' not found", file=sys.stderr)
            return 1
        print(state["ports"][serial])
        return 0
    print(f"adb: unknown command {args}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
