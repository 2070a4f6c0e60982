"""The E12 transport (devices/e12.py) against its conformance simulator on loopback: the station
sequence, the wire forms (length prefix, GBK, the 89-byte ZFY_INFO), and the faults Android
recorders show (a wrong password, "processing" replies, a recorder that never answers, one that
drops the connection mid-answer, replies that break the protocol)."""

from __future__ import annotations

import hashlib
import socket
import socketserver
import threading
from collections.abc import Iterator
from datetime import UTC, timedelta

import pytest

from devices.e12 import (
    WIRE_ZFY_BYTES,
    E12Transport,
    read_message,
    send_message,
    zfy_from_wire,
    zfy_to_wire,
)
from devices.gat947 import Gat947Driver
from devices.sim.cards import Media
from devices.sim.clock import ManualClock
from devices.sim.e12sim import E12Faults, E12Simulator
from devices.sim.recorder import expected_files
from devices.zfy import ZfyInfo
from evidence.errors import PolicyViolationError, UnavailableError, VerificationError
from evidence.ids import DeviceSerial, OfficerNo
from evidence.records import Officer
from tests.unit.devices.conftest import START, RecorderFactory

PASSWORD = b"123456"
FAST = {"send_timeout": 1.0, "read_timeout": 0.5}  # the tests' own timeouts (defaults 3 s, 5 s)


def test_the_station_sequence_over_e12(new_recorder: RecorderFactory, clock: ManualClock,
                                       media: Media) -> None:
    recorder = new_recorder(0, clock_offset=timedelta(seconds=-95))
    with E12Simulator(recorder) as sim:
        driver = Gat947Driver(E12Transport("127.0.0.1", sim.port, **FAST),
                              usb_serial=DeviceSerial("LH00001"), storage=recorder.volume)
        assert driver.identify().id_code == "LHZF1"
        device = driver.officer_info(PASSWORD)
        assert device.serial == "LH00001"
        assert device.officer == Officer(OfficerNo("010203"), "张伟", "110105000000",
                                         "北京市公安局朝阳分局")
        observed = driver.read_clock()  # read before it is synced; the wire carries seconds
        assert observed - clock() == timedelta(seconds=-95)
        driver.sync_clock(PASSWORD, clock())
        assert driver.read_clock() == clock().replace(microsecond=0)
        assert driver.resolution() == (1920, 1080) and driver.battery_percent() == 87
        driver.enable_mass_storage(PASSWORD)
        expected = expected_files(recorder, media, START)
        got = {}
        for rec in driver.list_recordings():
            with driver.open_recording(rec) as fh:
                got[rec.path] = hashlib.sha256(fh.read()).hexdigest()
        assert got == {path: hashlib.sha256(data).hexdigest() for path, data in expected.items()}
        driver.close()
    assert sim.commands[:4] == ["E12CMDS001", "E12CMDS002", "E12CMDS004", "E12CMDS010"]
    assert sim.commands[-1] == "E12CMDS003"  # UnInit_Device
    # the clock was read (010) before it was set (006)
    assert sim.commands.index("E12CMDS010") < sim.commands.index("E12CMDS006")


def test_a_wrong_password_is_refused(new_recorder: RecorderFactory) -> None:
    with E12Simulator(new_recorder(0)) as sim:
        driver = Gat947Driver(E12Transport("127.0.0.1", sim.port, **FAST))
        driver.identify()
        with pytest.raises(PolicyViolationError, match="refused the password"):
            driver.officer_info(b"654321")
        assert driver.officer_info(PASSWORD).serial == "LH00001"  # the session goes on


def test_processing_replies_are_waited_out(new_recorder: RecorderFactory) -> None:
    with E12Simulator(new_recorder(0), E12Faults(processing=3)) as sim:
        driver = Gat947Driver(E12Transport("127.0.0.1", sim.port, **FAST))
        driver.identify()
        assert driver.officer_info(PASSWORD).serial == "LH00001"


def test_a_recorder_that_never_answers_times_out(new_recorder: RecorderFactory) -> None:
    with E12Simulator(new_recorder(0), E12Faults(silent={"GetZFYInfo"})) as sim:
        driver = Gat947Driver(E12Transport("127.0.0.1", sim.port, **FAST))
        driver.identify()
        with pytest.raises(UnavailableError, match="GetZFYInfo failed"):
            driver.officer_info(PASSWORD)


def test_a_connection_dropped_mid_answer_is_unavailable_and_reconnects(
        new_recorder: RecorderFactory) -> None:
    faults = E12Faults(drops={"ReadDevTime"})
    with E12Simulator(new_recorder(0), faults) as sim:
        driver = Gat947Driver(E12Transport("127.0.0.1", sim.port, **FAST))
        driver.identify()
        driver.officer_info(PASSWORD)
        with pytest.raises(UnavailableError, match="reading the clock failed"):
            driver.read_clock()
        faults.drops.clear()
        assert driver.read_clock().tzinfo is UTC  # the next command opens a new connection


def test_a_recorder_that_is_not_there_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connection refused
        driver = Gat947Driver(E12Transport("127.0.0.1", port, **FAST))
        with pytest.raises(UnavailableError, match="GetIDCode failed"):
            driver.identify()


class _Scripted:
    """A peer that answers every request with the same raw payload."""

    def __init__(self, reply: bytes) -> None:
        scripted = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                try:
                    while True:
                        read_message(self.request)
                        send_message(self.request, scripted.reply)
                except OSError:
                    return

        self.reply = reply
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])


@pytest.fixture
def scripted() -> Iterator[_Scripted]:
    peer = _Scripted(b"")
    yield peer
    peer.server.shutdown()
    peer.server.server_close()


@pytest.mark.parametrize("reply, words", [
    (b"E12DATR002|1|LHZF1", "expected b'E12DATR001'"),  # the answer to another command
    (b"E12DATR001|9|LHZF1", "is not 1"),                  # a status outside GA/T 947.4's
    (b"E12DATR001|1|\xff\xff", "not GBK"),                # not GBK text
])
def test_replies_that_break_the_protocol_name_the_step(scripted: _Scripted, reply: bytes,
                                                       words: str) -> None:
    scripted.reply = reply
    with pytest.raises(VerificationError, match=words) as raised:
        E12Transport("127.0.0.1", scripted.port, **FAST).get_id_code()
    assert raised.value.step == "e12"


def test_the_wire_zfy_info_is_89_bytes_and_round_trips() -> None:
    info = ZfyInfo(DeviceSerial("LH00001"),
                   Officer(OfficerNo("010203"), "欧阳建国", "440305000000", "深圳市公安局南山分局"))
    wire = zfy_to_wire(info.pack())
    assert len(wire) == WIRE_ZFY_BYTES == 7 + 6 + 32 + 12 + 32
    assert wire[:7] == b"LH00001" and wire[7:13] == b"010203"  # full fields, no terminator
    assert wire[13:21] == "欧阳建国".encode("gbk") and wire[21:45] == b"\x00" * 24
    assert ZfyInfo.unpack(zfy_from_wire(wire)) == info
    with pytest.raises(VerificationError, match="88 bytes"):
        zfy_from_wire(wire[:-1])
    long_no = ZfyInfo(DeviceSerial("LH00001"), Officer(OfficerNo("0102030"), "张伟", "1", "局"))
    with pytest.raises(PolicyViolationError, match="userNo"):
        zfy_to_wire(long_no.pack())  # a 7-digit 警号 does not fit E12's 6 bytes


def test_messages_are_length_prefixed_big_endian_gbk() -> None:
    left, right = socket.socketpair()
    with left, right:
        send_message(left, "E12CMDS001".encode("gbk"))
        assert right.recv(4) == b"\x00\x00\x00\x0a"
        left.sendall(b"\x7f\xff\xff\xff")
        right.recv(10)
        with pytest.raises(VerificationError, match="announces"):
            read_message(right)
