"""Android recorders over adb (issue 19): Debian's ``adb`` lists them, forwards a local port to
each one's E12 or ZZX server (``devices.e12``, ``devices.zzx``: one protocol per station), and
each docks once until it leaves.

``adb devices`` prints ``SERIAL<TAB>STATE`` lines; only ``device`` is ready (``offline``,
``unauthorized`` — the recorder has not accepted the station's key — are reported, not docked).
``adb -s SERIAL forward tcp:0 tcp:REMOTE`` answers the local port it chose; the forward is removed
when the recorder leaves. adb failing or missing is ``UnavailableError`` naming the command.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable

from devices.docking import Docked
from devices.e12 import E12Transport
from devices.gat947 import Gat947Driver, Gat947Transport
from devices.volume import Volume
from devices.zzx import ZzxTransport
from evidence.errors import PolicyViolationError, UnavailableError
from evidence.ids import DeviceSerial

E12_REMOTE_PORT = 9527
"""The port the recorders' E12 (or ZZX) server listens on, on the recorder (the vendor's
setting)."""
TRANSPORTS: dict[str, Callable[..., Gat947Transport]] = {"e12": E12Transport,
                                                          "zzx": ZzxTransport}
ADB_TIMEOUT_S = 10.0


class AdbDockSource:
    """``DockSource`` over adb. ``storage`` opens the volume a recorder presents after SetMSDC."""

    def __init__(self, *, storage: Callable[[DeviceSerial], Volume], adb: list[str] | None = None,
                 protocol: str = "e12", remote_port: int = E12_REMOTE_PORT,
                 **timeouts: float) -> None:
        if protocol not in TRANSPORTS:
            raise PolicyViolationError(f"未知的安卓记录仪协议 {protocol!r}（可选 e12、zzx）")
        self._adb = adb or ["adb"]
        self._storage = storage
        self._transport = TRANSPORTS[protocol]
        self._remote = remote_port
        self._timeouts = timeouts
        self._forwarded: dict[str, int] = {}
        self.unsupported: set[str] = set()
        self.not_ready: dict[str, str] = {}
        """Serials adb sees but cannot use yet, with adb's state (``unauthorized`` …)."""

    def _run(self, *args: str) -> str:
        command = [*self._adb, *args]
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False,
                                  timeout=ADB_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UnavailableError(f"adb 不可用 ({' '.join(args)}): {exc}") from exc
        if done.returncode != 0:
            raise UnavailableError(f"adb {' '.join(args)} 失败：{done.stderr.strip()[:200]}")
        return done.stdout

    def _states(self) -> dict[str, str]:
        states = {}
        for line in self._run("devices").splitlines()[1:]:
            serial, _, state = line.strip().partition("\t")
            if serial and state:
                states[serial] = state.strip()
        return states

    def poll(self) -> list[Docked]:
        """Recorders that came up since the last poll, each with an E12 session."""
        states = self._states()
        self.not_ready = {s: state for s, state in states.items() if state != "device"}
        for gone in set(self._forwarded) - {s for s, st in states.items() if st == "device"}:
            port = self._forwarded.pop(gone)
            with contextlib.suppress(UnavailableError):  # the forward went with the device
                self._run("forward", "--remove", f"tcp:{port}")
        docked = []
        for serial in sorted(s for s, state in states.items() if state == "device"):
            if serial in self._forwarded:
                continue
            answer = self._run("-s", serial, "forward", "tcp:0", f"tcp:{self._remote}").strip()
            if not answer.isdigit():
                raise UnavailableError(f"adb forward for {serial} answered {answer[:40]!r}")
            self._forwarded[serial] = int(answer)
            transport = self._transport("127.0.0.1", int(answer), **self._timeouts)
            docked.append(Docked(serial=serial, port=f"adb:{serial}", driver=Gat947Driver(
                transport, usb_serial=DeviceSerial(serial), storage=self._storage)))
        return docked
