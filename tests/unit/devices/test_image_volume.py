"""FAT16/FAT32/exFAT card images read without mounting, without root, read-only."""

from __future__ import annotations

import hashlib
import shutil
import struct
from pathlib import Path

import pytest

from devices.imagevolume import ImageVolume
from devices.massstorage import MassStorageDriver
from devices.sim.cards import CardFile, Media, fsck_exfat, write_fat_image
from devices.sim.recorder import expected_files
from evidence.errors import NotFoundError, PolicyViolationError, VerificationError
from evidence.ids import DeviceSerial
from tests.unit.devices.conftest import START, RecorderFactory, require_tools

KINDS = ["fat12", "fat16", "fat32", "fat32-mbr", "exfat"]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("kind", KINDS)
def test_files_are_byte_identical_to_the_source(
    kind: str, new_recorder: RecorderFactory, media: Media
) -> None:
    recorder = new_recorder(0, storage_kind=kind)
    image_digest = sha256(recorder.storage.read_bytes())
    driver = MassStorageDriver.from_image(recorder.storage, serial=DeviceSerial(recorder.serial))
    expected = expected_files(recorder, media, START)

    recordings = driver.list_recordings()

    assert sorted(r.path for r in recordings) == sorted(expected)
    for recording in recordings:
        with driver.open_recording(recording) as stream:
            assert sha256(stream.read()) == sha256(expected[recording.path]), recording.path
        assert recording.size == len(expected[recording.path])
    assert sha256(recorder.storage.read_bytes()) == image_digest  # nothing was written
    driver.close()


@pytest.mark.parametrize("kind", KINDS)
def test_names_and_times(kind: str, new_recorder: RecorderFactory) -> None:
    recorder = new_recorder(0, storage_kind=kind)
    volume = ImageVolume.from_path(recorder.storage)
    by_path = {r.path: r for r in volume.recordings()}
    assert (
        volume.kind
        == {
            "fat12": "FAT12",
            "fat16": "FAT16",
            "fat32": "FAT32",
            "fat32-mbr": "FAT32",
            "exfat": "exFAT",
        }[kind]
    )
    assert "DCIM/100MEDIA/现场检查_010203_第1段.MP4" in by_path  # long Chinese name
    assert "RECORD/录音/20240501_094500_LH00001_010203.WAV" in by_path  # Chinese directory
    if kind != "exfat":
        assert "DCIM/100MEDIA/执法记录.MP4" in by_path  # GBK 8.3 entry, no long name
    first = by_path["DCIM/100MEDIA/20240501_093000_LH00001_010203.MP4"]
    assert first.device_mtime == START  # FAT keeps China wall time; read back as UTC
    assert len({r.file_id for r in by_path.values()}) == len(by_path)
    volume.close()


def test_exfat_writer_produces_a_clean_volume(new_recorder: RecorderFactory) -> None:
    recorder = new_recorder(0, storage_kind="exfat")
    if shutil.which("fsck.exfat") is None:
        pytest.skip("fsck.exfat (exfatprogs) not installed")
    assert "clean" in fsck_exfat(recorder.storage)


def test_release_is_refused_on_an_image(new_recorder: RecorderFactory) -> None:
    recorder = new_recorder(0, storage_kind="fat16")
    driver = MassStorageDriver.from_image(recorder.storage, serial=DeviceSerial("LH00001"))
    recording = driver.list_recordings()[0]
    with pytest.raises(PolicyViolationError, match="read-only"):
        driver.release(recording)


def test_forged_recording_is_not_found(new_recorder: RecorderFactory) -> None:
    recorder = new_recorder(0, storage_kind="fat16")
    driver = MassStorageDriver.from_image(recorder.storage, serial=DeviceSerial("LH00001"))
    real = driver.list_recordings()[0]
    forged = type(real)(
        path="../../etc/passwd", size=real.size, device_mtime=real.device_mtime, file_id=7
    )
    with pytest.raises(NotFoundError):
        driver.open_recording(forged)


def _small_card(tmp_path: Path, files: list[CardFile]) -> Path:
    require_tools("fat16")
    return write_fat_image(tmp_path / "card.img", files, fat_bits=16, size_mib=16)


def _fat16_geometry(image: bytes | bytearray) -> tuple[int, int, int, int]:
    bps, spc, reserved, fats, root_entries, _total, _media, fat_sectors = struct.unpack_from(
        "<HBHBHHBH", image, 11
    )
    root = (reserved + fats * fat_sectors) * bps
    data = root + root_entries * 32
    return reserved * bps, root, data, bps * spc


def test_broken_fat_chain_is_a_verification_error(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40  # 10 KiB: several 512-byte clusters
    image = _small_card(tmp_path, [CardFile("BIG.BIN", data, START)])
    raw = bytearray(image.read_bytes())
    fat, root, _, _ = _fat16_geometry(raw)
    first_cluster = struct.unpack_from("<H", raw, root + 32 + 26)[0]  # entry 0 is the label
    struct.pack_into("<H", raw, fat + 2 * first_cluster, 0xFFFF)  # end the chain at cluster one
    image.write_bytes(bytes(raw))
    volume = ImageVolume.from_path(image)
    (recording,) = volume.recordings()
    with pytest.raises(VerificationError, match="cluster chain ends after"):
        volume.open_raw(recording)


@pytest.mark.parametrize(
    ("claimed", "message"), [(8192, "chain loops"), (50 << 20, "larger than the volume")]
)
def test_fat_chain_loop_is_bounded(tmp_path: Path, claimed: int, message: str) -> None:
    data = bytes(5000)
    image = _small_card(tmp_path, [CardFile("LOOP.BIN", data, START)])
    raw = bytearray(image.read_bytes())
    fat, root, _, _ = _fat16_geometry(raw)
    first_cluster = struct.unpack_from("<H", raw, root + 32 + 26)[0]
    struct.pack_into("<H", raw, fat + 2 * first_cluster, first_cluster)  # points at itself
    struct.pack_into("<I", raw, root + 32 + 28, claimed)
    image.write_bytes(bytes(raw))
    volume = ImageVolume.from_path(image)
    (recording,) = volume.recordings()
    with pytest.raises(VerificationError, match=message):
        volume.open_raw(recording)


def test_hostile_long_names_are_listed_safely(tmp_path: Path) -> None:
    image = _small_card(
        tmp_path, [CardFile("AAAAAAAAAAAA.MP4", b"x", START), CardFile("BB.MP4", b"y", START)]
    )
    raw = bytearray(image.read_bytes())
    # Rewrite the long name "AAAAAAAAAAAA.MP4" in place as "../../../etc/x.MP4"-like units.
    old = "AAAAA".encode("utf-16-le")
    at = raw.find(old)
    assert at > 0
    raw[at : at + 10] = "../..".encode("utf-16-le")
    image.write_bytes(bytes(raw))
    paths = [r.path for r in ImageVolume.from_path(image).recordings()]
    assert all("/" not in p and ".." not in p.split("/") for p in paths)
    assert "BB.MP4" in paths and len(paths) == 2


def test_truncated_image_is_refused(tmp_path: Path) -> None:
    image = _small_card(tmp_path, [CardFile("A.MP4", b"a", START)])
    image.write_bytes(image.read_bytes()[: 1 << 20])
    with pytest.raises(VerificationError, match="larger than its medium"):
        ImageVolume.from_path(image)


def test_not_a_file_system(tmp_path: Path) -> None:
    junk = tmp_path / "junk.img"
    junk.write_bytes(bytes(4096))
    with pytest.raises(NotFoundError, match="no FAT/exFAT boot sector"):
        ImageVolume.from_path(junk)


def test_missing_image(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        ImageVolume.from_path(tmp_path / "absent.img")
