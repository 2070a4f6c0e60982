"""The GA/T 947.4 bridge (devices/bridge.py) against the real sidecar script
(scripts/gat947-bridge/sidecar.py), which loads with ctypes a stand-in vendor DLL the test builds
with gcc (tests/support/fakevendor.c): the station sequence, a dock into a station (SQLite and
PostgreSQL), a refused token, a station clock the host disagrees with, an unplugged recorder and
a sidecar that dies mid-session.

The stand-in's clock is the host's real clock (95 s behind until synced): the sidecar's host
rules the recorder's time, so the offsets are compared within a few seconds."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.compose import Station
from api.station import run_station
from devices.bridge import BridgeDockSource, BridgeTransport
from devices.docking import DockSources
from devices.gat947 import Gat947Driver
from devices.sim.cards import Media
from devices.sim.recorder import expected_files, make_recorder
from evidence.errors import PolicyViolationError, UnavailableError
from evidence.ids import DeviceSerial
from ingest.station import Dock
from tests.integration.test_station import Quiet

ROOT = Path(__file__).resolve().parents[2]
SIDECAR = ROOT / "scripts" / "gat947-bridge" / "sidecar.py"
TOKEN = "a-shared-token-of-the-bureau-0001"
PASSWORD = b"123456"
START = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
FAST = {"send_timeout": 2.0, "read_timeout": 2.0}


@pytest.fixture(scope="module")
def vendor_dll(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is missing: scripts/system-deps.sh installs it")
    out = tmp_path_factory.mktemp("dll") / "fakevendor.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-O2", "-o", str(out),
                    str(ROOT / "tests" / "support" / "fakevendor.c")], check=True)
    return out


@dataclass
class Sidecar:
    process: subprocess.Popen[str]
    port: int

    def transport(self, token: str = TOKEN) -> BridgeTransport:
        return BridgeTransport("127.0.0.1", self.port, token=token, **FAST)


def start_sidecar(dll: Path, tmp: Path, **env: str) -> Sidecar:
    token = tmp / "token"
    token.write_text(TOKEN)
    process = subprocess.Popen(
        [sys.executable, str(SIDECAR), "--dll", str(dll), "--listen", "127.0.0.1:0",
         "--token-file", str(token)], stdout=subprocess.PIPE, text=True,
        env={"PATH": "/usr/bin:/bin", **env})
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("listening on 127.0.0.1:"), line
    return Sidecar(process, int(line.rsplit(":", 1)[1]))


@pytest.fixture
def sidecar(vendor_dll: Path, tmp_path: Path) -> Iterator[Sidecar]:
    side = start_sidecar(vendor_dll, tmp_path)
    yield side
    side.process.kill()
    side.process.wait()


def near(delta: timedelta, seconds: float) -> bool:
    return abs(delta.total_seconds() - seconds) <= 3.0


def test_the_station_sequence_through_the_bridge(sidecar: Sidecar) -> None:
    transport = sidecar.transport()
    driver = Gat947Driver(transport, usb_serial=DeviceSerial("LH00009"))
    assert driver.identify().id_code == "LHZF1"
    assert transport.dll == "fakevendor.so"
    with pytest.raises(PolicyViolationError, match="refused the password"):
        driver.officer_info(b"654321")
    device = driver.officer_info(PASSWORD)
    assert device.serial == "LH00009" and device.officer is not None
    assert (device.officer.officer_no, device.officer.name) == ("010203", "张伟")
    assert near(driver.read_clock() - datetime.now(UTC), -95)  # read before the sync
    driver.sync_clock(PASSWORD, datetime.now(UTC))
    assert near(driver.read_clock() - datetime.now(UTC), 0)
    assert driver.resolution() == (1920, 1080) and driver.battery_percent() == 64
    driver.enable_mass_storage(PASSWORD)
    driver.close()


def test_a_recorder_docks_into_a_station_through_the_bridge(
        sidecar: Sidecar, station: Station, tmp_path: Path, media: Media) -> None:
    card = make_recorder(8, workdir=tmp_path / "cards", media=media, card_start=START,
                         base_clock=lambda: datetime.now(UTC))  # LH00009: the disk it presents
    driver = Gat947Driver(sidecar.transport(), usb_serial=DeviceSerial("LH00009"),
                          storage=card.volume)
    result = Dock(driver, ctx=station.context(Quiet()), password=PASSWORD).run()
    assert result.failed == {} and result.verified == result.files
    assert result.files == len(expected_files(card, media, START))
    assert result.clock_offset_ms is not None and abs(result.clock_offset_ms + 95_000) < 3_000


def test_a_wrong_token_is_refused(sidecar: Sidecar) -> None:
    driver = Gat947Driver(sidecar.transport(token="not-the-token-of-the-bureau"))
    with pytest.raises(PolicyViolationError, match="桥接服务拒绝了令牌"):
        driver.identify()


def test_the_host_refuses_a_station_clock_it_disagrees_with(sidecar: Sidecar) -> None:
    driver = Gat947Driver(sidecar.transport())
    driver.identify()
    with pytest.raises(UnavailableError, match="SyncDevTime failed \\(status 6\\)"):
        driver.sync_clock(PASSWORD, datetime.now(UTC) - timedelta(hours=1))


def test_an_unplugged_recorder_is_unavailable(vendor_dll: Path, tmp_path: Path) -> None:
    side = start_sidecar(vendor_dll, tmp_path, FAKEVENDOR_UNPLUGGED="1")
    try:
        with pytest.raises(UnavailableError, match="no recorder on the bridge"):
            Gat947Driver(side.transport()).identify()
    finally:
        side.process.kill()
        side.process.wait()


def test_a_sidecar_that_dies_mid_session_is_unavailable(sidecar: Sidecar) -> None:
    driver = Gat947Driver(sidecar.transport())
    driver.identify()
    sidecar.process.kill()
    sidecar.process.wait()
    with pytest.raises(UnavailableError, match="GetZFYInfo failed"):
        driver.officer_info(PASSWORD)


def test_the_station_docks_through_the_bridge_once(sidecar: Sidecar, station: Station,
                                                   tmp_path: Path, media: Media) -> None:
    """The daemon's source over a sidecar: its recorder docks once, and a poll while it docks
    (the sidecar is busy with the dock's connection) neither docks it again nor forgets it."""
    card = make_recorder(8, workdir=tmp_path / "cards", media=media, card_start=START,
                         base_clock=lambda: datetime.now(UTC))
    source = BridgeDockSource([("127.0.0.1", sidecar.port)], token=TOKEN, storage=card.volume)
    lines: list[str] = []
    run = run_station(station, DockSources([source]), password=PASSWORD, once=True,
                      out=lines.append)
    assert run.errors == {} and len(run.results) == 1
    result = run.results[0]
    assert result.serial == "LH00009" and result.failed == {}
    assert result.verified == result.files == len(expected_files(card, media, START))
    assert any(f"记录仪接入端口 bridge:127.0.0.1:{sidecar.port}" in line for line in lines)
    assert source.poll() == []  # still docked: not again
    wrong = BridgeDockSource([("127.0.0.1", sidecar.port)], token="not-the-token-of-the-bureau",
                             storage=card.volume)
    assert wrong.poll() == []  # a refused token docks nothing
