"""A recorder folder with hostile contents: nothing leads outside the root, nothing blocks."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
from pathlib import Path

import pytest

from devices.dirvolume import DirectoryVolume
from devices.driver import Recording
from devices.massstorage import MassStorageDriver
from devices.sim.cards import Media
from devices.sim.recorder import expected_files
from evidence.errors import ConflictError, NotFoundError, PolicyViolationError
from evidence.ids import DeviceSerial
from tests.unit.devices.conftest import START, RecorderFactory

SERIAL = DeviceSerial("LH00001")


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, Path]:
    """A card folder with escapes planted next to one real clip; returns (root, outside)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"station secret")
    root = tmp_path / "card"
    media = root / "DCIM" / "100MEDIA"
    media.mkdir(parents=True)
    (media / "CLIP0001.MP4").write_bytes(b"real clip bytes")
    (media / "escape.MP4").symlink_to(outside / "secret.txt")
    (root / "DCIM" / "linkdir").symlink_to(outside, target_is_directory=True)
    (media / "..MP4").write_bytes(b"dots are just a name")
    os.mkfifo(media / "fifo.MP4")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(media / "sock.MP4"))
    (media / os.fsdecode(b"bad-\xff\xfe.MP4")).write_bytes(b"not utf-8")
    return root, outside


def test_only_regular_files_inside_the_root_are_listed(hostile: tuple[Path, Path]) -> None:
    root, _ = hostile
    listed = {r.path: r for r in DirectoryVolume(root).recordings()}
    assert set(listed) == {
        "DCIM/100MEDIA/CLIP0001.MP4",
        "DCIM/100MEDIA/..MP4",
        "DCIM/100MEDIA/bad-\ufffd\ufffd.MP4",
    }
    assert (
        listed["DCIM/100MEDIA/bad-\ufffd\ufffd.MP4"].raw_path == b"DCIM/100MEDIA/bad-\xff\xfe.MP4"
    )


def test_undecodable_name_is_still_read_exactly(hostile: tuple[Path, Path]) -> None:
    root, _ = hostile
    driver = MassStorageDriver.from_directory(root, serial=SERIAL)
    recording = next(r for r in driver.list_recordings() if r.path.startswith("DCIM/100MEDIA/bad-"))
    with driver.open_recording(recording) as stream:
        assert stream.read() == b"not utf-8"


def _forge(volume: DirectoryVolume, raw_path: bytes) -> Recording:
    real = volume.recordings()[0]
    return dataclasses.replace(real, path=os.fsdecode(raw_path), raw_path=raw_path)


@pytest.mark.parametrize(
    "raw_path",
    [
        b"../outside/secret.txt",
        b"DCIM/../../outside/secret.txt",
        b"/etc/passwd",
        b"DCIM//x",
        b"./DCIM",
    ],
)
def test_traversal_in_a_recording_is_refused(hostile: tuple[Path, Path], raw_path: bytes) -> None:
    volume = DirectoryVolume(hostile[0])
    with pytest.raises(PolicyViolationError, match="refusing path component"):
        volume.open_raw(_forge(volume, raw_path))


def test_symlinks_are_refused_even_if_forged(hostile: tuple[Path, Path]) -> None:
    volume = DirectoryVolume(hostile[0])
    with pytest.raises(PolicyViolationError, match="symlink"):
        volume.open_raw(_forge(volume, b"DCIM/100MEDIA/escape.MP4"))
    with pytest.raises(PolicyViolationError):
        volume.open_raw(_forge(volume, b"DCIM/linkdir/secret.txt"))


def test_fifo_is_refused_without_blocking(hostile: tuple[Path, Path]) -> None:
    volume = DirectoryVolume(hostile[0])
    with pytest.raises(PolicyViolationError, match="not a regular file"):
        volume.open_raw(_forge(volume, b"DCIM/100MEDIA/fifo.MP4"))


def test_file_swapped_for_a_symlink_after_listing(hostile: tuple[Path, Path]) -> None:
    root, outside = hostile
    driver = MassStorageDriver.from_directory(root, serial=SERIAL)
    recording = next(r for r in driver.list_recordings() if r.path.endswith("CLIP0001.MP4"))
    clip = root / "DCIM" / "100MEDIA" / "CLIP0001.MP4"
    clip.unlink()
    clip.symlink_to(outside / "secret.txt")
    with pytest.raises(PolicyViolationError, match="symlink"):
        driver.open_recording(recording)


def test_file_replaced_after_listing_is_a_conflict(hostile: tuple[Path, Path]) -> None:
    root, _ = hostile
    driver = MassStorageDriver.from_directory(root, serial=SERIAL)
    recording = next(r for r in driver.list_recordings() if r.path.endswith("CLIP0001.MP4"))
    clip = root / "DCIM" / "100MEDIA" / "CLIP0001.MP4"
    replacement = clip.with_name("new")
    replacement.write_bytes(b"other bytes, other inode")
    replacement.replace(clip)
    with pytest.raises(ConflictError, match="replaced"):
        driver.open_recording(recording)


@pytest.mark.parametrize(
    ("new_content", "message"), [(b"short", "ended at byte"), (b"x" * 100, "longer")]
)
def test_size_change_after_listing_is_a_conflict(
    hostile: tuple[Path, Path], new_content: bytes, message: str
) -> None:
    root, _ = hostile
    driver = MassStorageDriver.from_directory(root, serial=SERIAL)
    recording = next(r for r in driver.list_recordings() if r.path.endswith("CLIP0001.MP4"))
    (root / "DCIM" / "100MEDIA" / "CLIP0001.MP4").write_bytes(new_content)  # same inode
    with driver.open_recording(recording) as stream, pytest.raises(ConflictError, match=message):
        stream.read()


def test_removed_file_is_not_found(hostile: tuple[Path, Path]) -> None:
    root, _ = hostile
    driver = MassStorageDriver.from_directory(root, serial=SERIAL)
    recording = next(r for r in driver.list_recordings() if r.path.endswith("CLIP0001.MP4"))
    (root / "DCIM" / "100MEDIA" / "CLIP0001.MP4").unlink()
    with pytest.raises(NotFoundError):
        driver.open_recording(recording)


def test_release_deletes_exactly_that_file(hostile: tuple[Path, Path]) -> None:
    root, outside = hostile
    driver = MassStorageDriver.from_directory(root, serial=SERIAL)
    recording = next(r for r in driver.list_recordings() if r.path.endswith("CLIP0001.MP4"))
    driver.release(recording)
    assert not (root / "DCIM" / "100MEDIA" / "CLIP0001.MP4").exists()
    assert (outside / "secret.txt").exists()
    with pytest.raises(PolicyViolationError):
        driver.release(_forge(DirectoryVolume(root), b"DCIM/100MEDIA/escape.MP4"))
    assert (root / "DCIM" / "100MEDIA" / "escape.MP4").is_symlink()


def test_card_folder_is_byte_identical(new_recorder: RecorderFactory, media: Media) -> None:
    recorder = new_recorder(1)
    driver = MassStorageDriver.from_directory(
        recorder.storage, serial=DeviceSerial(recorder.serial)
    )
    expected = expected_files(recorder, media, START)
    recordings = driver.list_recordings()
    assert sorted(r.path for r in recordings) == sorted(expected)
    for recording in recordings:
        with driver.open_recording(recording) as stream:
            data = stream.read()
        assert hashlib.sha256(data).digest() == hashlib.sha256(expected[recording.path]).digest()
    assert (
        next(r for r in recordings if r.path.endswith("093000_LH00002_020417.MP4")).device_mtime
        == START
    )


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        DirectoryVolume(tmp_path / "absent")
