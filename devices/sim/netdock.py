"""Simulated network recorders as a dock source (``liuhen station --simulate-e12 N
--simulate-zzx N``): each recorder's protocol simulator on loopback, reached as a station reaches
a real one after ``adb forward``, through the real transport. Each docks once; the servers live
as long as the process."""

from __future__ import annotations

from devices.docking import Docked
from devices.e12 import E12Transport
from devices.gat947 import Gat947Driver, Gat947Transport
from devices.sim.device import SimulatedRecorder
from devices.sim.e12sim import E12Simulator
from devices.sim.zzxsim import ZzxSimulator
from devices.zzx import ZzxTransport
from evidence.ids import DeviceSerial


class SimulatedNetworkDock:
    def __init__(self, *, e12: list[SimulatedRecorder], zzx: list[SimulatedRecorder]) -> None:
        self._recorders: list[tuple[str, SimulatedRecorder, int]] = []
        for r in e12:
            self._recorders.append(("e12", r, E12Simulator(r).__enter__().port))
        for r in zzx:
            self._recorders.append(("zzx", r, ZzxSimulator(r).__enter__().port))
        self.unsupported: set[str] = set()
        self._docked: set[str] = set()

    def poll(self) -> list[Docked]:
        docked = []
        for protocol, recorder, port in self._recorders:
            if recorder.serial in self._docked:
                continue
            self._docked.add(recorder.serial)
            transport: Gat947Transport = (E12Transport("127.0.0.1", port) if protocol == "e12"
                                          else ZzxTransport("127.0.0.1", port))
            docked.append(Docked(serial=recorder.serial, port=f"{protocol}:127.0.0.1:{port}",
                                 driver=Gat947Driver(transport,
                                                     usb_serial=DeviceSerial(recorder.serial),
                                                     storage=recorder.volume)))
        return docked
