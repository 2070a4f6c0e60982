"""Alembic environment for the ledger migrations (see ``storage.migrations`` for the entry point).

Online only: the ledger's triggers differ per dialect, so there is no dialect-neutral offline SQL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import storage.account_tables  # registers the account tables on the metadata
import storage.catalogue_tables  # registers the catalogue tables on the metadata
import storage.ingest_tables  # registers the ingest tables on the metadata
import storage.station_board  # registers the 采集站 dashboard's tables on the metadata
import storage.station_tables  # registers the station tables on the metadata
import storage.tus  # noqa: F401 - registers the network uploads table on the metadata
from storage.engine import create_ledger_engine, exclusive_transaction
from storage.ledger_tables import metadata
from storage.migrations import MIGRATION_LOCK_KEY


def _run(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=metadata)
    # Inside the caller's transaction this is a no-op context: the caller commits.
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        raise NotImplementedError("ledger migrations run online only (dialect-specific triggers)")
    conn = context.config.attributes.get("connection")
    if isinstance(conn, Connection):
        _run(conn)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise ValueError("no connection and no sqlalchemy.url to migrate")
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as own, exclusive_transaction(own, pg_lock_key=MIGRATION_LOCK_KEY):
            _run(own)
    finally:
        engine.dispose()


_main()
