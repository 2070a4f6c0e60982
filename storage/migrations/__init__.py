"""Alembic migrations for the ledger, run from code: no ``alembic.ini`` is read from the CWD.

``upgrade(engine_or_url)`` brings a database to the newest revision. Concurrent upgrades (several
station processes starting at once against a fresh database) are serialized: on PostgreSQL by a
transaction-scoped advisory lock, on SQLite by ``BEGIN IMMEDIATE``; both DDL and the version row
are written inside that one transaction, so the second process finds the work done.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import Connection

from storage.engine import advisory_lock_key, create_ledger_engine, exclusive_transaction

if TYPE_CHECKING:
    from alembic.config import Config

SCRIPT_LOCATION = str(Path(__file__).resolve().parent)
VERSION_TABLE = "alembic_version"

MIGRATION_LOCK_KEY = advisory_lock_key("liuhen/storage/migrations")


def alembic_config(connection: Connection | None = None, *, url: str | None = None) -> Config:
    """An Alembic Config built in code. With ``connection``, env.py migrates on it, inside the
    caller's transaction; otherwise env.py connects to ``url`` itself."""
    from alembic.config import Config  # noqa: PLC0415 - Alembic loads only to migrate

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision id. Each file in ``versions/`` is named for its revision id
    (``0004_catalogue.py`` is revision ``0004``, revising ``0003``); a test checks this against
    Alembic's own script directory."""
    names = (p.name for p in (Path(SCRIPT_LOCATION) / "versions").glob("[0-9]*_*.py"))
    return max(name.partition("_")[0] for name in names)


def is_current(conn: Connection) -> bool:
    """Whether the database on ``conn`` is at :func:`head_revision` already: then opening it
    needs no Alembic at all (it costs a quarter of a second to import on every command)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return False
    versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return versions == [head_revision()]


def upgrade_connection(conn: Connection, *, revision: str = "head") -> None:
    """Upgrade on ``conn``, inside the transaction the caller holds
    (``storage.engine.exclusive_transaction``)."""
    from alembic import command  # noqa: PLC0415 - Alembic loads only to migrate

    command.upgrade(alembic_config(conn), revision)


def upgrade(bind: Engine | str, *, revision: str = "head") -> None:
    """Bring the database at ``bind`` (an Engine or URL) to ``revision``, serialized as above."""
    engine = create_ledger_engine(bind) if isinstance(bind, str) else bind
    try:
        with engine.connect() as conn, exclusive_transaction(conn, pg_lock_key=MIGRATION_LOCK_KEY):
            upgrade_connection(conn, revision=revision)
    finally:
        if isinstance(bind, str):
            engine.dispose()
