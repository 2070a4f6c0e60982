"""The recorder simulator: fake body-worn recorders for tests, demo and benchmarks (DESIGN.md §6).

It behaves like hardware where the station can tell:

- ``SimulatedUsbBackend`` is a pyusb backend (``usb.backend.IBackend``, as pyusb's own tests do)
  that enumerates recorders with real-looking device, configuration, interface and endpoint
  descriptors and string descriptors (manufacturer, product, serial; UTF-16, Chinese allowed).
  A recorder in GA/T 947.4 session mode shows a vendor-specific interface; after SetMSDC it
  re-enumerates (new address) with a mass-storage interface (0x08/0x06/0x50, bulk IN/OUT).
- ``SimulatedRecorder`` implements ``Gat947Transport``: ID code, ZFY_INFO, 6-byte password,
  a drifting clock (offset + drift ppm over an injected base clock), SetMSDC.
- Its storage is a directory, a FAT16/FAT32 image (optionally inside an MBR partition) or an exFAT
  image, laid out like a recorder card (``DCIM/100MEDIA/<date>_<time>_<serial>_<警号>.MP4``, Chinese
  long names, a GBK-only 8.3 name) with tiny real media made by ffmpeg: H.264/AAC MP4, MJPEG/PCM
  AVI, a JPEG photo, an A-law WAV, a corrupt file, a truncated MP4, a JPEG named .MP4, an empty
  file.
- Faults: a wrong password is just a different password; ``fail_read_after`` makes a stream raise
  ``OSError(EIO)`` after N bytes and unplugs the recorder; ``unplug()`` makes listing fail.

Media are generated once per directory (``media_library``) so a test session makes them once.
Images need ``mkfs.vfat``/``mtools`` (FAT), ``sfdisk`` (MBR) and ``mkfs.exfat`` (exFAT); media need
ffmpeg, and fall back to placeholder bytes (``Media.real`` is False) without it.
"""

from __future__ import annotations

import array
import errno
import hashlib
import math
import os
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import usb.backend
import usb.core

from devices.dirvolume import DirectoryVolume
from devices.driver import CHINA_STANDARD_TIME, Recording
from devices.exfat import entry_set_checksum
from devices.gat947 import Gat947Status
from devices.imagevolume import ImageVolume
from devices.stream import RawSource
from devices.volume import Volume
from devices.zfy import ZfyInfo
from evidence.ids import DeviceSerial, OfficerNo
from evidence.records import Officer

# --------------------------------------------------------------------------------------------------
# Media (tiny, real where ffmpeg exists), generated once per cache directory
# --------------------------------------------------------------------------------------------------

MEDIA_VERSION = "1"  # bump when the recipes change: cached media are regenerated


@dataclass(frozen=True)
class Media:
    """Paths of one generated set of media files."""

    clip_mp4: Path  # H.264 + AAC, faststart, 1 s 160x120
    clip_avi: Path  # MJPEG + PCM, 1 s
    photo_jpg: Path
    audio_wav: Path  # G.711 A-law, 1 s 8 kHz
    clip_truncated_mp4: Path  # the first 60 % of clip_mp4: moov intact, mdat cut
    corrupt_mp4: Path  # deterministic garbage behind an ftyp box
    jpeg_named_mp4: Path  # a JPEG under an .MP4 name: probes as jpeg_pipe
    empty_mp4: Path
    real: bool  # False when ffmpeg was missing and placeholders were written


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, capture_output=True
    )


def _placeholder(magic: bytes, label: str, size: int) -> bytes:
    stream = b"".join(
        hashlib.sha256(f"{label}{i}".encode()).digest() for i in range(size // 32 + 1)
    )
    return (magic + stream)[:size]


def _noise(label: str, size: int) -> bytes:
    return _placeholder(b"", label, size)


def media_library(directory: Path) -> Media:
    """Generate (or reuse) the media in ``directory``; ~1 s with ffmpeg."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = Media(
        clip_mp4=directory / "clip.mp4",
        clip_avi=directory / "clip.avi",
        photo_jpg=directory / "photo.jpg",
        audio_wav=directory / "audio.wav",
        clip_truncated_mp4=directory / "clip_truncated.mp4",
        corrupt_mp4=directory / "clip_corrupt.mp4",
        jpeg_named_mp4=directory / "photo_named_as.mp4",
        empty_mp4=directory / "empty.mp4",
        real=shutil.which("ffmpeg") is not None,
    )
    stamp = directory / f".media-v{MEDIA_VERSION}-{'real' if paths.real else 'fake'}"
    if stamp.exists():
        return paths
    if paths.real:
        video = "testsrc=size=160x120:rate=15:duration=1"
        _ffmpeg(
            "-f", "lavfi", "-i", video,
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=1",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "32k", "-shortest", "-movflags", "+faststart",
            "-fflags", "+bitexact", str(paths.clip_mp4),
        )  # fmt: skip
        _ffmpeg(
            "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=1",
            "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=8000:duration=1",
            "-c:v", "mjpeg", "-q:v", "8", "-c:a", "pcm_s16le", "-shortest",
            "-fflags", "+bitexact", str(paths.clip_avi),
        )  # fmt: skip
        _ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120", "-frames:v", "1", str(paths.photo_jpg))
        _ffmpeg(
            "-f", "lavfi", "-i", "sine=frequency=500:sample_rate=8000:duration=1",
            "-c:a", "pcm_alaw", "-fflags", "+bitexact", str(paths.audio_wav),
        )  # fmt: skip
    else:
        paths.clip_mp4.write_bytes(_placeholder(b"\x00\x00\x00\x18ftypisom", "mp4", 20_000))
        paths.clip_avi.write_bytes(_placeholder(b"RIFF\x00\x00\x00\x00AVI ", "avi", 30_000))
        paths.photo_jpg.write_bytes(_placeholder(b"\xff\xd8\xff\xe0", "jpg", 6_000))
        paths.audio_wav.write_bytes(_placeholder(b"RIFF\x00\x00\x00\x00WAVE", "wav", 8_000))
    clip = paths.clip_mp4.read_bytes()
    paths.clip_truncated_mp4.write_bytes(clip[: len(clip) * 6 // 10])
    paths.corrupt_mp4.write_bytes(b"\x00\x00\x00\x18ftypisom" + _noise("corrupt", 12_000))
    paths.jpeg_named_mp4.write_bytes(paths.photo_jpg.read_bytes())
    paths.empty_mp4.write_bytes(b"")
    stamp.touch()
    return paths


# --------------------------------------------------------------------------------------------------
# Card layout
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardFile:
    """One file on a simulated card."""

    path: str  # '/'-joined, as the recorder names it
    data: bytes
    mtime: datetime  # UTC-aware
    short_name_only: bool = False  # written as a GBK 8.3 entry without a long name (FAT only)


def card_layout(*, serial: str, officer_no: str, media: Media, start: datetime) -> list[CardFile]:
    """A recorder card: ``DCIM/100MEDIA/<date>_<time>_<serial>_<警号>.<ext>`` plus the odd ones."""
    local = start.astimezone(CHINA_STANDARD_TIME)

    def name(minutes: int, ext: str, suffix: str = "") -> tuple[str, datetime]:
        moment = local + timedelta(minutes=minutes)
        return f"{moment:%Y%m%d_%H%M%S}_{serial}_{officer_no}{suffix}.{ext}", moment

    files: list[CardFile] = []

    def add(folder: str, minutes: int, ext: str, source: Path, suffix: str = "") -> None:
        filename, moment = name(minutes, ext, suffix)
        files.append(CardFile(f"{folder}/{filename}", source.read_bytes(), moment.astimezone(UTC)))

    add("DCIM/100MEDIA", 0, "MP4", media.clip_mp4)
    add("DCIM/100MEDIA", 5, "AVI", media.clip_avi)
    add("DCIM/100MEDIA", 10, "JPG", media.photo_jpg)
    add("DCIM/100MEDIA", 20, "MP4", media.clip_truncated_mp4, "_TRUNC")
    add("DCIM/100MEDIA", 25, "MP4", media.corrupt_mp4, "_BAD")
    add("DCIM/100MEDIA", 30, "MP4", media.jpeg_named_mp4, "_IMG")
    add("DCIM/100MEDIA", 35, "MP4", media.empty_mp4, "_EMPTY")
    add("RECORD/录音", 15, "WAV", media.audio_wav)
    moment = (local + timedelta(minutes=40)).astimezone(UTC)
    files.append(
        CardFile(
            f"DCIM/100MEDIA/现场检查_{officer_no}_第1段.MP4", media.clip_mp4.read_bytes(), moment
        )
    )
    files.append(CardFile("DCIM/100MEDIA/执法记录.MP4", media.clip_avi.read_bytes(), moment, True))
    return files


def write_directory_card(root: Path, files: list[CardFile]) -> Path:
    """The card as a folder (a mounted volume or SD card copy)."""
    for item in files:
        target = root.joinpath(*item.path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(item.data)
        stamp = item.mtime.timestamp()
        os.utime(target, (stamp, stamp))
    return root


# --- FAT images (mkfs.vfat + mtools; no root, no mount) ------------------------------------------

_MKFS_VFAT = ("mkfs.vfat", "-C", "-s", "1", "-n", "RECORDER")  # 512-byte clusters: small images
_MTOOLS_ENV = {"MTOOLS_SKIP_CHECK": "1", "MTOOLS_NO_VFAT": "0", "TZ": "CST-8"}  # FAT times: China


def _placeholder_83(index: int) -> str:
    return f"GBKNAME{index}.MP4"


def write_fat_image(
    image: Path, files: list[CardFile], *, fat_bits: int = 32, size_mib: int = 40, mbr: bool = False
) -> Path:
    """A FAT16/FAT32 card image; with ``mbr`` the file system sits in partition 1 at 1 MiB."""
    stage = image.with_suffix(".stage")
    patches: dict[str, str] = {}
    staged: list[CardFile] = []
    for item in files:
        if not item.short_name_only:
            staged.append(item)
            continue
        folder, _, leaf = item.path.rpartition("/")
        placeholder = _placeholder_83(len(patches))
        patches[placeholder] = leaf
        staged.append(CardFile(f"{folder}/{placeholder}", item.data, item.mtime))
    write_directory_card(stage, staged)
    fs_image = image.with_suffix(".fs") if mbr else image
    fs_image.unlink(missing_ok=True)
    subprocess.run(
        [*_MKFS_VFAT, "-F", str(fat_bits), str(fs_image), str(size_mib * 1024)],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, **_MTOOLS_ENV}
    sources = [str(p) for p in sorted(stage.iterdir())]
    subprocess.run(
        ["mcopy", "-s", "-m", "-i", str(fs_image), *sources, "::/"],
        check=True,
        env=env,
        capture_output=True,
    )
    shutil.rmtree(stage)
    for placeholder, real in patches.items():
        _patch_short_name(fs_image, placeholder, real)
    if mbr:
        _wrap_in_mbr(fs_image, image)
        fs_image.unlink()
    return image


def _patch_short_name(image: Path, placeholder: str, gbk_name: str) -> None:
    """Turn a mtools 8.3 entry into a GBK 8.3 entry, as firmware without long names writes it."""
    base, _, ext = placeholder.partition(".")
    old = base.ljust(8).encode() + ext.ljust(3).encode()
    new_base, _, new_ext = gbk_name.rpartition(".")
    new = new_base.encode("gbk").ljust(8, b" ") + new_ext.encode("gbk").ljust(3, b" ")
    if len(new) != 11:
        raise ValueError(f"{gbk_name!r} does not fit an 8.3 entry")
    if new[0] == 0xE5:
        new = b"\x05" + new[1:]  # FAT: a leading 0xE5 byte is stored as 0x05
    data = bytearray(image.read_bytes())
    at = data.find(old)
    if at < 0 or data.find(old, at + 1) >= 0:
        raise ValueError(f"placeholder {placeholder} not found exactly once")
    data[at : at + 11] = new
    image.write_bytes(bytes(data))


def _wrap_in_mbr(fs_image: Path, disk: Path) -> None:
    start_sector = 2048
    fs_bytes = fs_image.read_bytes()
    sectors = len(fs_bytes) // 512
    with disk.open("wb") as out:
        out.truncate(start_sector * 512 + len(fs_bytes))
        out.seek(start_sector * 512)
        out.write(fs_bytes)
    script = f"label: dos\nstart={start_sector}, size={sectors}, type=c\n"
    subprocess.run(
        ["sfdisk", "--no-reread", "--no-tell-kernel", str(disk)],
        input=script.encode(),
        check=True,
        capture_output=True,
    )


# --- exFAT images (mkfs.exfat, then entries written here; validated by fsck.exfat) ----------------


def _exfat_timestamp(moment: datetime) -> int:
    local = moment.astimezone(CHINA_STANDARD_TIME)
    date = (local.year - 1980) << 9 | local.month << 5 | local.day
    time = local.hour << 11 | local.minute << 5 | local.second // 2
    return date << 16 | time


def _exfat_name_hash(name: str) -> int:
    total = 0
    for ch in name:
        upper = ch.upper() if len(ch.upper()) == 1 else ch
        code = ord(upper)
        for byte in (code & 0xFF, code >> 8):
            total = ((((total & 1) << 15) | (total >> 1)) + byte) & 0xFFFF
    return total


class _ExfatWriter:
    """Adds directories and contiguous (NoFatChain) files to a freshly formatted exFAT image."""

    def __init__(self, image: Path) -> None:
        self._image = image
        self._data = bytearray(image.read_bytes())
        boot = self._data[:512]
        self._heap, self._clusters, root = struct.unpack_from("<III", boot, 88)
        bps_shift, spc_shift = boot[108], boot[109]
        self._sector = 1 << bps_shift
        self._cluster = self._sector << spc_shift
        root_offset = self._offset(root)
        self._dirs: dict[str, tuple[int, int]] = {"": (root_offset, self._cluster)}
        bitmap = next(
            root_offset + i
            for i in range(0, self._cluster, 32)
            if self._data[root_offset + i] == 0x81  # the allocation bitmap's directory entry
        )
        self._bitmap_offset = self._offset(
            int.from_bytes(self._data[bitmap + 20 : bitmap + 24], "little")
        )

    def _offset(self, cluster: int) -> int:
        return int(self._heap * self._sector + (cluster - 2) * self._cluster)

    def _allocate(self, count: int) -> int:
        run = 0
        for index in range(self._clusters):
            byte = self._data[self._bitmap_offset + index // 8]
            run = 0 if byte >> (index % 8) & 1 else run + 1
            if run == count:
                first = index - count + 1
                for used in range(first, index + 1):
                    self._data[self._bitmap_offset + used // 8] |= 1 << (used % 8)
                return first + 2
        raise ValueError("exFAT image is full")

    def _insert(self, folder: str, entries: bytes) -> None:
        offset, length = self._dirs[folder]
        for slot in range(offset, offset + length, 32):
            if self._data[slot] == 0x00:
                if slot + len(entries) > offset + length:
                    break
                self._data[slot : slot + len(entries)] = entries
                return
        raise ValueError(f"directory {folder!r} is full")

    def _entry_set(
        self, name: str, *, directory: bool, cluster: int, size: int, mtime: datetime
    ) -> bytes:
        units = name.encode("utf-16-le")
        name_entries = math.ceil(len(name) / 15)
        stamp = _exfat_timestamp(mtime)
        utc = 0x80 | 32  # valid, +8 h in 15-minute steps
        primary = bytearray(32)
        struct.pack_into(
            "<BBHH2xIIIBBBBB", primary, 0, 0x85, 1 + name_entries, 0, 0x10 if directory else 0x20,
            stamp, stamp, stamp, 0, 0, utc, utc, utc,
        )  # fmt: skip
        flags = 0x03 if size else 0x01  # AllocationPossible, NoFatChain when allocated
        stream = bytearray(32)
        struct.pack_into(
            "<BBxBH2xQ4xIQ", stream, 0, 0xC0, flags, len(name), _exfat_name_hash(name), size,
            cluster, size,
        )  # fmt: skip
        names = b"".join(
            b"\xc1\x00" + units[i * 30 : (i + 1) * 30].ljust(30, b"\x00")
            for i in range(name_entries)
        )
        entry_set = bytearray(primary + stream + names)
        struct.pack_into("<H", entry_set, 2, entry_set_checksum(bytes(entry_set)))
        return bytes(entry_set)

    def mkdir(self, path: str, mtime: datetime) -> None:
        if path in self._dirs:
            return
        parent, _, leaf = path.rpartition("/")
        if parent:
            self.mkdir(parent, mtime)
        cluster = self._allocate(1)
        self._dirs[path] = (self._offset(cluster), self._cluster)
        self._insert(
            parent,
            self._entry_set(leaf, directory=True, cluster=cluster, size=self._cluster, mtime=mtime),
        )

    def add(self, item: CardFile) -> None:
        parent, _, leaf = item.path.rpartition("/")
        if parent:
            self.mkdir(parent, item.mtime)
        size = len(item.data)
        cluster = self._allocate(math.ceil(size / self._cluster)) if size else 0
        if size:
            self._data[self._offset(cluster) : self._offset(cluster) + size] = item.data
        self._insert(
            parent,
            self._entry_set(leaf, directory=False, cluster=cluster, size=size, mtime=item.mtime),
        )

    def save(self) -> None:
        self._image.write_bytes(bytes(self._data))


def write_exfat_image(image: Path, files: list[CardFile], *, size_mib: int = 8) -> Path:
    """An exFAT card image written without root or mount (``mkfs.exfat`` + entries written here)."""
    image.unlink(missing_ok=True)
    with image.open("wb") as out:
        out.truncate(size_mib << 20)
    subprocess.run(["mkfs.exfat", "-L", "RECORDER", str(image)], check=True, capture_output=True)
    writer = _ExfatWriter(image)
    for item in files:
        writer.add(item)
    writer.save()
    return image


def fsck_exfat(image: Path) -> str:
    """``fsck.exfat -n`` output; raises ``CalledProcessError`` when the image is inconsistent."""
    done = subprocess.run(
        ["fsck.exfat", "-n", str(image)], check=True, capture_output=True, text=True
    )
    return done.stdout


# --------------------------------------------------------------------------------------------------
# The drifting clock
# --------------------------------------------------------------------------------------------------


class DriftingClock:
    """A recorder's RTC: ``base() + offset``, drifting ``drift_ppm`` since it was last set."""

    def __init__(
        self,
        base: Callable[[], datetime],
        *,
        offset: timedelta = timedelta(),
        drift_ppm: float = 0.0,
    ) -> None:
        self._base = base
        self._offset = offset
        self._drift = drift_ppm
        self._set_at = base()

    def now(self) -> datetime:
        true_now = self._base()
        drift = (true_now - self._set_at) * (self._drift / 1e6)
        return true_now + self._offset + drift

    def set(self, moment: datetime) -> None:
        self._set_at = self._base()
        self._offset = moment - self._set_at


# --------------------------------------------------------------------------------------------------
# Faults on storage
# --------------------------------------------------------------------------------------------------


class _FailingSource:
    """Delivers ``budget`` bytes, then ``OSError(EIO)`` as when the cable is pulled."""

    def __init__(self, inner: RawSource, budget: int, on_fail: Callable[[], None]) -> None:
        self._inner = inner
        self._budget = budget
        self._on_fail = on_fail

    def readinto(self, buffer: memoryview, /) -> int | None:
        if self._budget <= 0:
            self._on_fail()
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        got = self._inner.readinto(buffer[: self._budget])
        self._budget -= got or 0
        return got

    def close(self) -> None:
        self._inner.close()


class SimulatedVolume:
    """The recorder's volume, failing the way an unplugged USB disk does."""

    def __init__(self, inner: Volume, recorder: SimulatedRecorder) -> None:
        self._inner = inner
        self._recorder = recorder

    @property
    def description(self) -> str:
        return f"simulated {self._recorder.serial}: {self._inner.description}"

    def _check(self) -> None:
        if not self._recorder.plugged:
            raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))

    def recordings(self) -> list[Recording]:
        self._check()
        return self._inner.recordings()

    def open_raw(self, recording: Recording) -> RawSource:
        self._check()
        source = self._inner.open_raw(recording)
        budget = self._recorder.fail_read_after
        return source if budget is None else _FailingSource(source, budget, self._recorder.unplug)

    def remove(self, recording: Recording) -> None:
        self._check()
        self._inner.remove(recording)

    def close(self) -> None:
        self._inner.close()


# --------------------------------------------------------------------------------------------------
# The recorder (GA/T 947.4 transport) and its USB face
# --------------------------------------------------------------------------------------------------

VENDOR_ID = 0x2E8A  # a made-up maker id (not a real recorder vendor)


@dataclass
class SimulatedRecorder:
    """One body-worn recorder: identity, officer, password, clock, storage, faults."""

    serial: str
    id_code: str
    zfy: ZfyInfo
    password: bytes
    clock: DriftingClock
    storage: Path
    storage_kind: str = "directory"  # directory | fat12 | fat16 | fat32 | fat32-mbr | exfat
    product_id: int = 0x0947
    manufacturer: str = "深圳市留痕电子有限公司"
    product: str = "执法记录仪 DSJ-LH1"
    resolution: tuple[int, int] = (1920, 1080)
    battery_percent: int = 87
    msc_mode: bool = False  # False: GA/T 947.4 session interface; True: mass storage
    plugged: bool = True
    fail_read_after: int | None = None
    fail_time_set: bool = False
    fail_msdc: bool = False
    on_reenumerate: Callable[[SimulatedRecorder], None] | None = None
    session_open: bool = field(default=False, init=False)
    calls: list[str] = field(default_factory=list, init=False)

    # -- faults ---------------------------------------------------------------------------------
    def unplug(self) -> None:
        self.plugged = False
        self.session_open = False

    def _gone(self) -> None:
        if not self.plugged:
            raise OSError(errno.ENODEV, "recorder unplugged")

    # -- GA/T 947.4 transport ---------------------------------------------------------------------
    def init_device(self, id_code: str) -> int:
        self.calls.append("Init_Device")
        self._gone()
        self.session_open = id_code == self.id_code
        return Gat947Status.CONNECT_OK if self.session_open else Gat947Status.CONNECT_FAILED

    def uninit_device(self) -> None:
        self.calls.append("UnInit_Device")
        self.session_open = False

    def get_id_code(self) -> str:
        self.calls.append("GetIDCode")
        self._gone()
        return self.id_code

    def _authorised(self, password: bytes) -> bool:
        self._gone()
        return self.session_open and password == self.password

    def get_zfy_info(self, password: bytes) -> tuple[int, bytes]:
        self.calls.append("GetZFYInfo")
        if not self._authorised(password):
            return Gat947Status.PASSWORD_FAILED, b""
        return Gat947Status.PASSWORD_OK, self.zfy.pack()

    def write_zfy_info(self, info: bytes, password: bytes) -> int:
        self.calls.append("WriteZFYInfo")
        if not self._authorised(password):
            return Gat947Status.PASSWORD_FAILED
        self.zfy = ZfyInfo.unpack(info)
        return Gat947Status.PASSWORD_OK

    def sync_dev_time(self, password: bytes, wall_clock: datetime) -> int:
        self.calls.append("SyncDevTime")
        if not self._authorised(password):
            return Gat947Status.PASSWORD_FAILED
        if self.fail_time_set:
            return Gat947Status.TIME_SET_FAILED
        self.clock.set(wall_clock.replace(tzinfo=CHINA_STANDARD_TIME).astimezone(UTC))
        return Gat947Status.TIME_SET_OK

    def set_msdc(self, password: bytes) -> int:
        self.calls.append("SetMSDC")
        if not self._authorised(password):
            return Gat947Status.PASSWORD_FAILED
        if self.fail_msdc:
            return Gat947Status.MSDC_FAILED
        if not self.msc_mode:
            self.msc_mode = True
            if self.on_reenumerate is not None:
                self.on_reenumerate(self)
        return Gat947Status.MSDC_OK

    def read_device_resolution(self) -> tuple[int, int]:
        self._gone()
        return self.resolution

    def read_device_battery_dump_energy(self) -> int:
        self._gone()
        return self.battery_percent

    def read_dev_time(self) -> datetime:
        self.calls.append("ReadDevTime")
        self._gone()
        return self.clock.now().astimezone(CHINA_STANDARD_TIME).replace(tzinfo=None)

    # -- storage ----------------------------------------------------------------------------------
    def volume(self, _serial: DeviceSerial | None = None) -> SimulatedVolume:
        """The volume the recorder presents (the ``storage`` opener of ``Gat947Driver``)."""
        self._gone()
        inner: Volume
        if self.storage_kind == "directory":
            inner = DirectoryVolume(self.storage)
        else:
            inner = ImageVolume.from_path(self.storage)
        return SimulatedVolume(inner, self)


# --- USB descriptors and the pyusb backend -------------------------------------------------------


@dataclass(frozen=True)
class _DeviceDescriptor:
    idVendor: int
    idProduct: int
    bus: int
    address: int
    port_number: int
    bLength: int = 18
    bDescriptorType: int = 0x01
    bcdUSB: int = 0x0200
    bDeviceClass: int = 0x00  # "see the interfaces": why find() needs custom_match
    bDeviceSubClass: int = 0x00
    bDeviceProtocol: int = 0x00
    bMaxPacketSize0: int = 64
    bcdDevice: int = 0x0100
    iManufacturer: int = 1
    iProduct: int = 2
    iSerialNumber: int = 3
    bNumConfigurations: int = 1
    speed: int = 3  # usb.util.SPEED_HIGH
    port_numbers: tuple[int, ...] = ()


@dataclass(frozen=True)
class _ConfigurationDescriptor:
    bLength: int = 9
    bDescriptorType: int = 0x02
    wTotalLength: int = 9 + 9 + 7 + 7
    bNumInterfaces: int = 1
    bConfigurationValue: int = 1
    iConfiguration: int = 0
    bmAttributes: int = 0x80  # bus powered
    bMaxPower: int = 250  # 500 mA
    extra_descriptors: tuple[int, ...] = ()


@dataclass(frozen=True)
class _InterfaceDescriptor:
    bInterfaceClass: int
    bInterfaceSubClass: int
    bInterfaceProtocol: int
    bLength: int = 9
    bDescriptorType: int = 0x04
    bInterfaceNumber: int = 0
    bAlternateSetting: int = 0
    bNumEndpoints: int = 2
    iInterface: int = 0
    extra_descriptors: tuple[int, ...] = ()


@dataclass(frozen=True)
class _EndpointDescriptor:
    bEndpointAddress: int
    bLength: int = 7
    bDescriptorType: int = 0x05
    bmAttributes: int = 0x02  # bulk
    wMaxPacketSize: int = 512
    bInterval: int = 0
    bRefresh: int = 0
    bSynchAddress: int = 0
    extra_descriptors: tuple[int, ...] = ()


@dataclass
class _Attached:
    recorder: SimulatedRecorder
    bus: int
    address: int
    port: int


class SimulatedUsbBackend(usb.backend.IBackend):  # type: ignore[misc]
    """A pyusb backend whose bus holds simulated recorders (``usb.core.find(backend=...)``)."""

    LANGID_EN_US = 0x0409

    def __init__(self) -> None:
        super().__init__()
        self._attached: list[_Attached] = []
        self._next_address = 2  # address 1 is the root hub on real buses

    # -- the bus ----------------------------------------------------------------------------------
    def plug(self, recorder: SimulatedRecorder, *, port: int | None = None) -> None:
        recorder.plugged = True
        recorder.on_reenumerate = self._reenumerate
        port = port if port is not None else len(self._attached) + 1
        self._attached.append(_Attached(recorder, bus=1, address=self._next_address, port=port))
        self._next_address += 1

    def unplug(self, recorder: SimulatedRecorder) -> None:
        recorder.unplug()
        self._attached = [a for a in self._attached if a.recorder is not recorder]

    def _reenumerate(self, recorder: SimulatedRecorder) -> None:
        """After SetMSDC a recorder drops off the bus and returns as mass storage, new address."""
        port = next(a.port for a in self._attached if a.recorder is recorder)
        self._attached = [a for a in self._attached if a.recorder is not recorder]
        self.plug(recorder, port=port)

    # -- IBackend ---------------------------------------------------------------------------------
    def enumerate_devices(self) -> Iterator[_Attached]:
        yield from list(self._attached)

    def get_parent(self, dev: _Attached) -> None:
        return None

    def get_device_descriptor(self, dev: _Attached) -> _DeviceDescriptor:
        return _DeviceDescriptor(
            idVendor=VENDOR_ID,
            idProduct=dev.recorder.product_id,
            bus=dev.bus,
            address=dev.address,
            port_number=dev.port,
            port_numbers=(dev.port,),
        )

    def get_configuration_descriptor(self, dev: _Attached, config: int) -> _ConfigurationDescriptor:
        if config >= 1:
            raise IndexError("configuration index out of range")
        return _ConfigurationDescriptor()

    def get_interface_descriptor(
        self, dev: _Attached, intf: int, alt: int, config: int
    ) -> _InterfaceDescriptor:
        # IndexError past the last interface/alternate: pyusb iterates until it sees one.
        if config >= 1 or intf >= 1 or alt >= 1:
            raise IndexError("interface index out of range")
        if dev.recorder.msc_mode:
            return _InterfaceDescriptor(0x08, 0x06, 0x50)  # mass storage, SCSI, bulk-only
        return _InterfaceDescriptor(0xFF, 0x00, 0x00)  # vendor-specific GA/T 947.4 session

    def get_endpoint_descriptor(
        self, dev: _Attached, ep: int, intf: int, alt: int, config: int
    ) -> _EndpointDescriptor:
        if config >= 1 or intf >= 1 or alt >= 1 or ep >= 2:
            raise IndexError("endpoint index out of range")
        return _EndpointDescriptor(0x81 if ep == 0 else 0x02)  # bulk IN, bulk OUT

    def open_device(self, dev: _Attached) -> _Attached:
        if dev not in self._attached:
            raise usb.core.USBError("No such device", error_code=-4, errno=errno.ENODEV)
        return dev

    def close_device(self, dev_handle: _Attached) -> None:
        return None

    def set_configuration(self, dev_handle: _Attached, config_value: int) -> None:
        return None

    def get_configuration(self, dev_handle: _Attached) -> int:
        return 1

    def claim_interface(self, dev_handle: _Attached, intf: int) -> None:
        return None

    def release_interface(self, dev_handle: _Attached, intf: int) -> None:
        return None

    def ctrl_transfer(  # noqa: PLR0917 - IBackend's positional signature
        self,
        dev_handle: _Attached,
        bmRequestType: int,
        bRequest: int,
        wValue: int,
        wIndex: int,
        data: array.array[int],
        timeout: int,
    ) -> int:
        if dev_handle not in self._attached:
            raise usb.core.USBError("No such device", error_code=-4, errno=errno.ENODEV)
        is_get_string = bmRequestType == 0x80 and bRequest == 0x06 and wValue >> 8 == 0x03
        if not is_get_string:
            raise usb.core.USBError("Pipe error", error_code=-9, errno=errno.EPIPE)
        descriptor = self._string_descriptor(dev_handle.recorder, wValue & 0xFF)
        count = min(len(descriptor), len(data))
        data[:count] = array.array("B", descriptor[:count])
        return count

    def _string_descriptor(self, recorder: SimulatedRecorder, index: int) -> bytes:
        if index == 0:
            body = struct.pack("<H", self.LANGID_EN_US)
        else:
            strings = {1: recorder.manufacturer, 2: recorder.product, 3: recorder.serial}
            if index not in strings:
                raise usb.core.USBError("Pipe error", error_code=-9, errno=errno.EPIPE)
            body = strings[index].encode("utf-16-le")
        return bytes([2 + len(body), 0x03]) + body


# --------------------------------------------------------------------------------------------------
# Ready-made fleets
# --------------------------------------------------------------------------------------------------

OFFICERS = (
    Officer(OfficerNo("010203"), "张伟", "110105000000", "北京市公安局朝阳分局"),
    Officer(OfficerNo("020417"), "李娜", "310104000000", "上海市公安局徐汇分局"),
    Officer(OfficerNo("036512"), "欧阳建国", "440305000000", "深圳市公安局南山分局"),
)


def fixed_clock(moment: datetime) -> Callable[[], datetime]:
    """A base clock standing still at ``moment`` (tests move it with ``ManualClock``)."""
    return lambda: moment


class ManualClock:
    """The true time, advanced by hand."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


_FAT_KINDS = {  # storage kind: (FAT bits, image MiB); FAT32 needs >= 65,525 clusters
    "fat12": (12, 1),
    "fat16": (16, 16),
    "fat32": (32, 40),
    "fat32-mbr": (32, 40),
}


def make_recorder(
    index: int,
    *,
    workdir: Path,
    media: Media,
    base_clock: Callable[[], datetime],
    storage_kind: str = "directory",
    clock_offset: timedelta = timedelta(seconds=-95),
    drift_ppm: float = 40.0,
    password: bytes = b"123456",
) -> SimulatedRecorder:
    """Recorder number ``index`` (0-based) with its card written under ``workdir``."""
    serial = f"LH{index + 1:05d}"
    officer = OFFICERS[index % len(OFFICERS)]
    files = card_layout(
        serial=serial, officer_no=officer.officer_no, media=media, start=base_clock()
    )
    target = workdir / f"{serial}-{storage_kind}"
    if storage_kind == "directory":
        storage = write_directory_card(target, files)
    elif storage_kind in _FAT_KINDS:
        bits, size_mib = _FAT_KINDS[storage_kind]
        storage = write_fat_image(
            target.with_suffix(".img"),
            files,
            fat_bits=bits,
            size_mib=size_mib,
            mbr=storage_kind.endswith("mbr"),
        )
    elif storage_kind == "exfat":
        storage = write_exfat_image(
            target.with_suffix(".img"), [f for f in files if not f.short_name_only]
        )
    else:
        raise ValueError(f"unknown storage kind {storage_kind!r}")
    return SimulatedRecorder(
        serial=serial,
        id_code="LHZF1",
        zfy=ZfyInfo(serial=DeviceSerial(serial), officer=officer),
        password=password,
        clock=DriftingClock(base_clock, offset=clock_offset, drift_ppm=drift_ppm),
        storage=storage,
        storage_kind=storage_kind,
    )


def make_fleet(
    count: int,
    *,
    workdir: Path,
    media: Media,
    base_clock: Callable[[], datetime],
    storage_kinds: tuple[str, ...] = ("directory",),
) -> tuple[SimulatedUsbBackend, list[SimulatedRecorder]]:
    """``count`` recorders docked on one simulated bus, storage kinds taken in turn."""
    bus = SimulatedUsbBackend()
    recorders = [
        make_recorder(
            i,
            workdir=workdir,
            media=media,
            base_clock=base_clock,
            storage_kind=storage_kinds[i % len(storage_kinds)],
        )
        for i in range(count)
    ]
    for recorder in recorders:
        bus.plug(recorder)
    return bus, recorders


def expected_files(recorder: SimulatedRecorder, media: Media, start: datetime) -> dict[str, bytes]:
    """What the card of ``recorder`` holds, path → bytes (exFAT cards have no GBK 8.3 name)."""
    files = card_layout(
        serial=recorder.serial, officer_no=recorder.zfy.officer.officer_no, media=media, start=start
    )
    skip_short = recorder.storage_kind == "exfat"
    return {f.path: f.data for f in files if not (skip_short and f.short_name_only)}
