"""The storage seam under ``MassStorageDriver``: a mounted directory or a card image.

A ``Volume`` may raise ``OSError`` from any method (the medium is removable); the driver turns
what is left into ``UnavailableError``. Tests wrap a ``Volume`` to inject faults.
"""

from __future__ import annotations

from typing import Protocol

from devices.driver import Recording
from devices.stream import RawSource


class Volume(Protocol):
    """Read access to a recorder's files, plus deletion where the medium allows it."""

    @property
    def description(self) -> str:
        """Where this volume lives, for messages (never derived from file names)."""
        ...

    def recordings(self) -> list[Recording]:
        """Every regular file, in a stable order."""
        ...

    def open_raw(self, recording: Recording) -> RawSource:
        """The file's bytes, after rechecking it is the regular file that was listed."""
        ...

    def remove(self, recording: Recording) -> None:
        """Delete the file; ``PolicyViolationError`` where the volume is read-only."""
        ...

    def close(self) -> None: ...
