"""Simulated recorder cards: tiny real media (ffmpeg) and card images (directory, FAT, exFAT)."""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devices.driver import CHINA_STANDARD_TIME
from devices.exfat import entry_set_checksum

# --------------------------------------------------------------------------------------------------
# Media (tiny and real, made by the ffmpeg the media stage uses), once per cache directory
# --------------------------------------------------------------------------------------------------

MEDIA_VERSION = "2"  # bump when the recipes change: cached media are regenerated


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


def _noise(label: str, size: int) -> bytes:
    stream = b"".join(
        hashlib.sha256(f"{label}{i}".encode()).digest() for i in range(size // 32 + 1)
    )
    return stream[:size]


def media_library(directory: Path, *, ffmpeg: str) -> Media:
    """Generate (or reuse) the media in ``directory`` with the ``ffmpeg`` binary at that path;
    ~1 s. The caller passes the binary the media stage uses (``ingest.media.find_ffmpeg``:
    Debian's, else the imageio-ffmpeg wheel's), so a machine without a system ffmpeg still gets
    real clips; a failing ffmpeg raises ``CalledProcessError`` rather than leaving fake ones."""

    def run(*args: str) -> None:
        subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-y", *args], check=True,
                       capture_output=True)

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
    )
    stamp = directory / f".media-v{MEDIA_VERSION}"
    if stamp.exists():
        return paths
    video = "testsrc=size=160x120:rate=15:duration=1"
    run(
        "-f", "lavfi", "-i", video,
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=1",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "32k", "-shortest", "-movflags", "+faststart",
        "-fflags", "+bitexact", str(paths.clip_mp4),
    )  # fmt: skip
    run(
        "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=1",
        "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=8000:duration=1",
        "-c:v", "mjpeg", "-q:v", "8", "-c:a", "pcm_s16le", "-shortest",
        "-fflags", "+bitexact", str(paths.clip_avi),
    )  # fmt: skip
    run("-f", "lavfi", "-i", "testsrc=size=160x120", "-frames:v", "1", str(paths.photo_jpg))
    run(
        "-f", "lavfi", "-i", "sine=frequency=500:sample_rate=8000:duration=1",
        "-c:a", "pcm_alaw", "-fflags", "+bitexact", str(paths.audio_wav),
    )  # fmt: skip
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


