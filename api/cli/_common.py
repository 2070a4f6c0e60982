"""What every ``liuhen`` command shares: the options that recur, the settings from them, the
opened ledger, and errors turned into an exit code (the table of api/errors.py).

Command modules import this and lower layers, never ``api.cli`` itself. Only the standard
library, Typer and stdlib-only modules load here: adapters are imported inside the functions,
so ``liuhen --help`` and ``verify-bundle`` load no database or web library.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.console import fail_line
from api.errors import family_of
from api.stationlink import read_link
from evidence.errors import LiuhenError, NotFoundError, VerificationError

if TYPE_CHECKING:
    from api.compose import Ledger
    from api.settings import Settings

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="station data directory "
                                              "(default $LIUHEN_DATA_DIR or ./liuhen-data)")]
Store = Annotated[str | None, typer.Option(
    "--store", help="where originals are stored: s3://BUCKET/PREFIX (S3 Object Lock; endpoint "
    "and credentials from LIUHEN_S3_* and boto3's chain) or file:///dir (default "
    "$LIUHEN_STORE_URL, else DATA/objects)")]


def fail(exc: LiuhenError) -> typer.Exit:
    """Print ``exc`` on stderr and return the exit of its family (api/errors.py)."""
    _status, _code, exit_code = family_of(exc)
    label = "VERIFICATION FAILED" if isinstance(exc, VerificationError) else type(exc).__name__
    fail_line(f"{label}: {exc}")
    return typer.Exit(exit_code)


@contextmanager
def errors() -> Iterator[None]:
    """Turn a LiuhenError raised inside into its line on stderr and its exit code."""
    try:
        yield
    except LiuhenError as exc:
        raise fail(exc) from exc


def settings_for(data_dir: Path | None, *, store: str | None = None,
                 create: bool = False) -> Settings:
    """Settings from LIUHEN_* variables, with the command line's --data-dir/--store on top.

    Only ``demo``, ``station`` and ``init`` pass ``create``: every other command refuses a data
    directory without a ledger (NotFoundError, exit 4) instead of making a new ledger with new
    keys in a mistyped folder."""
    from api.settings import Settings

    given: dict[str, object] = {}
    if data_dir is not None:
        given["data_dir"] = data_dir
    if store is not None:
        given["store_url"] = store
    # Settings takes its fields as keywords; mypy sees only the dict's value type.
    settings = Settings(**given)  # type: ignore[arg-type]
    link = read_link(settings.data_dir)
    if link is not None:  # a station joined to a bureau: its origin rule (api/stationlink.py)
        settings = settings.model_copy(update={"origin": link.origin,
                                               "station_id": link.station_id})
    missing = None if create else settings.missing_ledger()
    if missing is not None:
        raise NotFoundError(
            f"数据目录 {settings.data_dir} 中没有账本（缺少 {missing}）：请检查 --data-dir 或 "
            f"LIUHEN_DATA_DIR 是否写错；要新建账本，请运行 liuhen init --data-dir "
            f"{settings.data_dir}")
    return settings


@contextmanager
def opened(data_dir: Path | None) -> Iterator[Ledger]:
    """The ledger of ``data_dir``, closed on the way out; errors opening it become exits."""
    from api.compose import open_ledger

    with errors():
        ledger = open_ledger(settings_for(data_dir))
        try:
            yield ledger
        finally:
            ledger.close()
