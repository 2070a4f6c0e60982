"""The ZZX transport (devices/zzx.py) against its conformance simulator on loopback: the station
sequence, the JSON forms, and the faults (a wrong password, silence, a drop mid-line, a reply
that is not JSON or answers another request)."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from datetime import timedelta

import pytest

from devices.gat947 import Gat947Driver
from devices.sim.cards import Media
from devices.sim.clock import ManualClock
from devices.sim.recorder import expected_files
from devices.sim.zzxsim import ZzxFaults, ZzxSimulator
from devices.zzx import LineReader, ZzxTransport, send_line
from evidence.errors import PolicyViolationError, UnavailableError, VerificationError
from evidence.ids import DeviceSerial, OfficerNo
from evidence.records import Officer
from tests.unit.devices.conftest import START, RecorderFactory

PASSWORD = b"123456"
FAST = {"send_timeout": 1.0, "read_timeout": 0.5}


def test_the_station_sequence_over_zzx(new_recorder: RecorderFactory, clock: ManualClock,
                                       media: Media) -> None:
    recorder = new_recorder(2, clock_offset=timedelta(seconds=-95))
    with ZzxSimulator(recorder) as sim:
        driver = Gat947Driver(ZzxTransport("127.0.0.1", sim.port, **FAST),
                              usb_serial=DeviceSerial("LH00003"), storage=recorder.volume)
        driver.identify()
        device = driver.officer_info(PASSWORD)
        assert device.officer == Officer(OfficerNo("036512"), "欧阳建国", "440305000000",
                                         "深圳市公安局南山分局")
        assert driver.read_clock() - clock() == timedelta(seconds=-95)
        driver.sync_clock(PASSWORD, clock())
        assert driver.read_clock() == clock().replace(microsecond=0)
        assert driver.resolution() == (1920, 1080) and driver.battery_percent() == 87
        driver.enable_mass_storage(PASSWORD)
        got = {}
        for rec in driver.list_recordings():
            with driver.open_recording(rec) as fh:
                got[rec.path] = hashlib.sha256(fh.read()).hexdigest()
        expected = expected_files(recorder, media, START)
        assert got == {p: hashlib.sha256(d).hexdigest() for p, d in expected.items()}
        driver.close()
    assert sim.functions.index("ReadDevTime") < sim.functions.index("SyncDevTime")


def test_the_wire_is_one_json_object_a_line(new_recorder: RecorderFactory) -> None:
    with ZzxSimulator(new_recorder(0)) as sim, socket.create_connection(
            ("127.0.0.1", sim.port), timeout=2) as sock:
        send_line(sock, {"Head": {"FunctionID": "GetGPS", "Seq": 7}, "Body": {}})
        reply = json.loads(LineReader(sock).line())  # beyond the nine: ZZX's own functions
        assert reply["Head"] == {"FunctionID": "GetGPS", "Seq": 7, "Result": 1}
        assert reply["Body"]["Fix"] is True


def test_a_wrong_password_is_refused(new_recorder: RecorderFactory) -> None:
    with ZzxSimulator(new_recorder(0)) as sim:
        driver = Gat947Driver(ZzxTransport("127.0.0.1", sim.port, **FAST))
        driver.identify()
        with pytest.raises(PolicyViolationError, match="refused the password"):
            driver.officer_info(b"654321")


@pytest.mark.parametrize("fault, error, words", [
    ("silent", UnavailableError, "GetZFYInfo failed"),
    ("drops", UnavailableError, "GetZFYInfo failed"),
    ("garbage", VerificationError, "not a ZZX message"),
])
def test_faults(new_recorder: RecorderFactory, fault: str, error: type[Exception],
                words: str) -> None:
    faults = ZzxFaults(**{fault: {"GetZFYInfo"}})
    with ZzxSimulator(new_recorder(0), faults) as sim:
        driver = Gat947Driver(ZzxTransport("127.0.0.1", sim.port, **FAST))
        driver.identify()
        with pytest.raises(error, match=words):
            driver.officer_info(PASSWORD)
        getattr(faults, fault).clear()
        assert driver.officer_info(PASSWORD).serial == "LH00001"  # reconnects


def test_a_reply_to_another_request_is_refused() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        transport = ZzxTransport("127.0.0.1", server.getsockname()[1], **FAST)

        def answer_stale() -> None:
            conn, _ = server.accept()
            with conn:
                LineReader(conn).line()
                send_line(conn, {"Head": {"FunctionID": "GetIDCode", "Seq": 0, "Result": 1},
                                 "Body": {"IDCode": "LHZF1"}})

        t = threading.Thread(target=answer_stale)
        t.start()
        with pytest.raises(VerificationError, match="expected #1") as raised:
            transport.get_id_code()
        t.join()
    assert raised.value.step == "zzx"
