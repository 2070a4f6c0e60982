"""Thumbnails and a keyframe strip with OpenCV (DESIGN.md §3 step 4).

OpenCV is asked for a frame by time, and the position it reports after the read is checked:
on a truncated file it returned the 29.7 s frame when asked for 50 s and reported success, and
here it returns the last decodable frame for every later request. A frame more than one frame
interval away from where it was asked for is not a thumbnail of that moment: it is reported in
``Thumbnails.missed`` (so the station can flag the clip), never written.

Files are named from the original's SHA-256 and written atomically (temp + fsync +
``os.replace``); the original is only read. OpenCV and NumPy are imported when a thumbnail is
made, not with the module: every CLI command imports the media package, few make thumbnails.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from evidence.errors import VerificationError
from evidence.ids import Sha256Hex
from ingest.media.tools import file_digests
from ledger.files import write_atomic

if TYPE_CHECKING:
    import cv2
    import numpy as np
    from numpy.typing import NDArray

    Image = NDArray[np.uint8]

THUMB_WIDTH = 320  # px: enough to recognise a scene in a list, small enough for a page of them
JPEG_QUALITY = 85
MAX_PHOTO_BYTES = 64 << 20  # bound memory: a recorder's photo is a few MB
MAX_COUNT = 60  # bound work per clip: one seek and decode per thumbnail


@dataclass(frozen=True)
class Thumbnail:
    """One JPEG written, with the position asked for and the position OpenCV delivered."""

    path: Path
    sha256: Sha256Hex
    size: int
    requested_ms: int | None  # None for a strip or a photo's thumbnail
    actual_ms: int | None

    def to_dict(self) -> dict[str, object]:
        """JSON-able (no floats, no host paths), for the ledger."""
        return {"name": self.path.name, "sha256": self.sha256, "size": self.size,
                "requested_ms": self.requested_ms, "actual_ms": self.actual_ms}


@dataclass(frozen=True)
class MissedFrame:
    """A requested position OpenCV could not deliver: ``actual_ms`` is what it returned instead
    (None when it returned no frame at all)."""

    requested_ms: int
    actual_ms: int | None
    reason: str


@dataclass(frozen=True)
class Thumbnails:
    """The thumbnails written, the keyframe strip (None when there were none), and the
    positions that could not be delivered."""

    frames: tuple[Thumbnail, ...]
    strip: Thumbnail | None
    missed: tuple[MissedFrame, ...]

    @property
    def paths(self) -> list[Path]:
        """The thumbnail files, in time order (the strip excluded)."""
        return [frame.path for frame in self.frames]

    def to_dict(self) -> dict[str, object]:
        """JSON-able, for the ``derived`` ledger entry."""
        return {"frames": [f.to_dict() for f in self.frames],
                "strip": self.strip.to_dict() if self.strip else None,
                "missed": [{"requested_ms": m.requested_ms, "actual_ms": m.actual_ms,
                            "reason": m.reason} for m in self.missed]}


def positions_ms(duration_ms: int, count: int) -> list[int]:
    """``count`` evenly spaced positions: the middles of ``count`` equal slices of the clip
    (never the very first frame, often black, nor the end, often past the last frame)."""
    return [(2 * i + 1) * duration_ms // (2 * count) for i in range(count)]


def thumbnails(src: Path, out_dir: Path, *, count: int = 5, parent: Sha256Hex | None = None,
               duration_ms: int | None = None) -> Thumbnails:
    """Seek to ``count`` evenly spaced positions of the video ``src``, write a JPEG of each
    frame that lands within one frame interval of its position, and a strip of them side by
    side. ``duration_ms`` defaults to OpenCV's frame count / fps (the probe's duration may be
    passed instead). ``parent`` (the original's SHA-256) is computed when not given.

    VerificationError(step="thumbnails") when OpenCV cannot open the file or finds no frame
    rate; off-position frames are returned in ``missed``, not raised.
    """
    import cv2
    import numpy as np

    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be 1..{MAX_COUNT}, not {count}")
    parent = parent or file_digests(src).sha256
    # "file:" so that no name is read as a protocol or an image-sequence pattern ("%03d").
    capture = cv2.VideoCapture(f"file:{src.resolve()}", cv2.CAP_FFMPEG)
    try:
        if not capture.isOpened():
            raise VerificationError("OpenCV cannot open the video", step="thumbnails")
        fps = capture.get(cv2.CAP_PROP_FPS)
        if not fps > 0:
            raise VerificationError("OpenCV finds no frame rate", step="thumbnails")
        if duration_ms is None:
            duration_ms = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) * 1000 / fps)
        interval_ms = 1000 / fps
        grabbed: list[tuple[int, int, Image]] = []
        missed: list[MissedFrame] = []
        for requested in positions_ms(duration_ms, count):
            frame, actual = _frame_at(capture, requested)
            if frame is None or actual is None:
                missed.append(MissedFrame(requested, actual, "no frame returned"))
            elif abs(actual - requested) > interval_ms:
                missed.append(MissedFrame(requested, actual,
                                          f"returned the frame at {actual} ms"))
            else:
                grabbed.append((requested, actual, _scaled(frame)))
    finally:
        capture.release()
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = tuple(_write(out_dir / f"{parent}.thumb-{i:02d}.jpg", image, requested, actual)
                   for i, (requested, actual, image) in enumerate(grabbed))
    strip = None
    if grabbed:
        strip_image = np.hstack([image for _, _, image in grabbed])
        strip = _write(out_dir / f"{parent}.strip.jpg", strip_image, None, None)
    return Thumbnails(frames=frames, strip=strip, missed=tuple(missed))


def photo_thumbnail(src: Path, out_dir: Path, *,
                    parent: Sha256Hex | None = None) -> Thumbnails:
    """A thumbnail of a still picture (the ``keep`` action), decoded from its bytes whatever
    its name. VerificationError(step="thumbnails") when it does not decode or is too large."""
    import cv2
    import numpy as np

    with src.open("rb") as fh:
        data = fh.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        raise VerificationError(f"photo larger than {MAX_PHOTO_BYTES} bytes", step="thumbnails")
    parent = parent or file_digests(src).sha256
    decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if decoded is None or decoded.size == 0:
        raise VerificationError("OpenCV cannot decode the picture", step="thumbnails")
    image = np.asarray(decoded, dtype=np.uint8)
    out_dir.mkdir(parents=True, exist_ok=True)
    thumb = _write(out_dir / f"{parent}.thumb.jpg", _scaled(image), None, None)
    return Thumbnails(frames=(thumb,), strip=None, missed=())


def _frame_at(capture: cv2.VideoCapture, requested_ms: int) -> tuple[Image | None, int | None]:
    """Seek, read, and the position of the frame actually read (OpenCV's CAP_PROP_POS_MSEC
    after a read is the timestamp of that frame)."""
    import cv2
    import numpy as np

    capture.set(cv2.CAP_PROP_POS_MSEC, requested_ms)
    ok, frame = capture.read()
    if not ok or frame is None:
        return None, None
    return np.asarray(frame, dtype=np.uint8), round(capture.get(cv2.CAP_PROP_POS_MSEC))


def _scaled(image: Image) -> Image:
    import cv2
    import numpy as np

    height, width = image.shape[:2]
    if width <= THUMB_WIDTH:
        return image
    new_height = max(1, round(height * THUMB_WIDTH / width))
    return np.asarray(cv2.resize(image, (THUMB_WIDTH, new_height),
                                 interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _write(path: Path, image: Image, requested_ms: int | None,
           actual_ms: int | None) -> Thumbnail:
    import cv2

    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise VerificationError("OpenCV cannot encode a JPEG", step="thumbnails")
    data = encoded.tobytes()
    write_atomic(path, data)
    return Thumbnail(path, Sha256Hex(hashlib.sha256(data).hexdigest()), len(data),
                     requested_ms, actual_ms)
