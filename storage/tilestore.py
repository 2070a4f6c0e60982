"""Where the log's C2SP tlog-tiles live (ledger.ports.TileStore; docs/ledger-format.md §10): a
local directory, the data dir's ``log/``, servable as static files by any web server (S3:
storage/s3tiles.py; read-only HTTP(S) for auditors: storage/httptiles.py).

Local threat model, as for the local object store (storage/localstore.py): tiles and bundles
are written once (temp + ``os.link``, which refuses an existing name; made durable together by
one sync before the checkpoint is replaced) and made
read-only (0444: public data, meant to be served). That stops mistakes, not root; what catches a
changed tile is the audit (``liuhen audit --tiles``), which recomputes every hash. The
checkpoint is the one mutable file, replaced atomically.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

from evidence.errors import ConflictError, NotFoundError, UnavailableError
from storage.blobio import write_replace

_PATH = re.compile(r"checkpoint|tile/(?:[0-9]+|entries)(?:/x[0-9]{3})*/[0-9]{3}(?:\.p/[0-9]+)?")


def check_tile_path(path: str) -> str:
    if not _PATH.fullmatch(path):
        raise ValueError(f"{path!r} is not a tlog-tiles path")
    return path


class LocalTileStore:
    """Tiles under ``root`` (``<data_dir>/log``), laid out exactly as their paths."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"LocalTileStore({str(self.root)!r})"

    def read(self, path: str) -> bytes:
        try:
            return (self.root / check_tile_path(path)).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"no {path} under {self.root}") from None
        except OSError as exc:
            raise UnavailableError(f"cannot read {path} under {self.root}: {exc}") from exc

    def write_once(self, path: str, data: bytes) -> None:
        """Durable at the next :meth:`write_checkpoint`, not before (one filesystem sync per
        checkpoint instead of one fsync per tile: 13 ms each on this machine's disk)."""
        target = self.root / check_tile_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tile.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o444)
            try:
                os.link(tmp, target)
            except FileExistsError:
                if target.read_bytes() != data:
                    raise ConflictError(f"{path} under {self.root} already holds other bytes: "
                                        "tiles are immutable") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def write_checkpoint(self, note: bytes) -> None:
        """Make every tile written so far durable, then replace the checkpoint atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.sync()  # the tiles' data and directory entries, before the checkpoint names them
        write_replace(self.root / "checkpoint", note)
